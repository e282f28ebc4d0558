//go:build e2e

package cmd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// The capacity family on its own control plane, with checks/capacity/testdata/e2e-scenario.yaml
// (nodes, quotas, a LimitRange, a PriorityClass, pods with the scheduler's and kubelet's status,
// and the controllers' Warning events, written through the API as they would be) and the
// scheduler's Preempted events, which name the preemptor by the UID the server gave it.
func TestCapacityOnItsOwnControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := scenarioControlPlane(ctx, t, "capacity")
	// The API server taints every new node not-ready; the node lifecycle controller, which this
	// control plane does not run, lifts the taint from the Ready ones.
	for _, name := range []string{"n1", "n2", "n4"} {
		node, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node.Spec.Taints = slices.DeleteFunc(node.Spec.Taints, func(taint corev1.Taint) bool { return taint.Key == corev1.TaintNodeNotReady })
		if _, err := c.Client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	train, err := c.Client.CoreV1().Pods("batch").Get(ctx, "train-abcde", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) // the fixed clock of the runs (main_test.go)
	for i, victim := range []string{"api-6b-ccccc", "api-6b-ddddd"} {
		e := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: victim + ".preempted", Namespace: "shop"},
			InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: victim},
			Type:           corev1.EventTypeNormal, Reason: "Preempted", Message: "Preempted by pod " + string(train.UID) + " on node n1",
			Source:        corev1.EventSource{Component: "default-scheduler"},
			LastTimestamp: metav1.NewTime(now.Add(-time.Duration(4+i) * time.Minute))}
		if _, err := c.Client.CoreV1().Events("shop").Create(ctx, e, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	diagnose := func(kubeconfig string, args ...string) (result, *report.Report) {
		t.Helper()
		r := run(t, testEnv{}, append(append([]string{"diagnose", "-o", "json"}, args...), "--kubeconfig", kubeconfig)...)
		return r, r.report(t)
	}

	res, rep := diagnose(c.Kubeconfig, "--category", "capacity")
	if res.code != 1 || len(rep.NotEvaluated) != 0 {
		t.Fatalf("exit %d, not evaluated %+v\n%s", res.code, rep.NotEvaluated, res.stderr)
	}
	var got []string
	text := map[string]string{}
	for _, f := range rep.Findings {
		got = append(got, fixture.Summary(f))
		text[f.Check] = strings.Join(slices.Concat([]string{f.Message}, f.Evidence, f.Fix), "\n")
	}
	slices.Sort(got)
	want := []string{
		"critical replicas-concentrated net/deployment/front,node/n3",
		"high limitrange-unschedulable limits/limitrange/defaults",
		"high pod-ip-exhausted node/n4,net/replicaset/cache-7c",
		"high pods-pending shop/deployment/api,shop/replicaset/web-6c,shop/statefulset/db",
		"high priorityclass-preemption priorityclass/urgent,batch/job/train,shop/deployment/api",
		"high quota-exhausted quota/resourcequota/compute,quota/deployment/web",
		"medium node-podcidr-too-small node/n2",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("findings\n got  %q\n want %q", got, want)
	}
	for id, parts := range map[string][]string{
		"quota-exhausted": {"requests.cpu: used 8 of hard 8", "deployment quota/web is short of 3 pods",
			`kubectl patch -n quota resourcequota/compute --type=merge -p '{"spec":{"hard":{"requests.cpu":"9500m"}}}'`},
		"limitrange-unschedulable": {"default request memory 128Gi is more than any node can allocate (the most: 64Gi"},
		"pods-pending": {"Insufficient cpu", "the 3 pending pods request cpu 6 in all",
			"the most cpu free on the 2 nodes they could otherwise run on: 4 on node n4"},
		"priorityclass-preemption": {"PriorityClass urgent: value 1000000", "2 pods preempted in the last hour, the newest 4m ago",
			"deployment shop/api: 2 pods preempted, 1 pod Pending now"},
		"pod-ip-exhausted":       {"no IP addresses available in range set", "podCIDR 10.244.4.0/24 holds 254 addresses"},
		"node-podcidr-too-small": {"1 node may run 300 pods", "set maxPods: 254"},
		"replicas-concentrated":  {"run on node n3, which is not Ready", "kubectl rollout restart -n net deployment/front"},
	} {
		for _, part := range parts {
			if !strings.Contains(text[id], part) {
				t.Errorf("%s lacks %q:\n%s", id, part, text[id])
			}
		}
	}

	// With the workloads family, the quota leads an incident whose symptom is the Deployment it
	// starves, and the grouped pending pods supersede each workload's pod-unschedulable.
	_, both := diagnose(c.Kubeconfig, "--category", "capacity,workloads")
	var quota string
	for _, f := range both.Findings {
		if f.Check == "pod-unschedulable" {
			t.Errorf("not folded: %s", fixture.Summary(f))
		}
		if f.Check == "quota-exhausted" && quota == "" {
			quota = f.ID
		}
	}
	if root := incidentRoot(both, "deployment-unavailable", "web"); root == "" || root != quota {
		t.Errorf("deployment quota/web is not a symptom of the quota's incident: root %q, quota %q", root, quota)
	}

	// Blind: limited to one namespace, the cluster-wide grouping and preemption (whose pods
	// cross namespaces) do not apply; without PriorityClasses, preemption cannot be judged.
	_, limited := diagnose(c.Kubeconfig, "--category", "capacity", "-n", "shop")
	for _, id := range []string{"pods-pending", "priorityclass-preemption"} {
		if ne := notEvaluated(limited, id); ne == nil || ne.Code != report.NotApplicable || !strings.Contains(ne.Reason, "(-n)") {
			t.Errorf("%s under -n: %+v", id, ne)
		}
	}
	reader := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "capacity-reader"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "nodes", "events", "namespaces", "resourcequotas", "limitranges", "replicationcontrollers"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{"apps", "batch", "policy", "autoscaling"}, Resources: []string{"*"}, Verbs: []string{"get", "list"}},
	}}
	if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, reader, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "capacity-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: reader.Name},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "capacity-reader"}}}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := c.UserKubeconfig("capacity-reader")
	if err != nil {
		t.Fatal(err)
	}
	res, partial := diagnose(kubeconfig, "--category", "capacity")
	if ne := notEvaluated(partial, "priorityclass-preemption"); ne == nil || ne.Code != report.CouldNotSee || !strings.Contains(ne.Reason, "cannot read priorityclasses") {
		t.Errorf("priorityclass-preemption without PriorityClasses: %+v (exit %d)", ne, res.code)
	}
	if len(partial.NotEvaluated) != 1 {
		t.Errorf("not evaluated: %+v", partial.NotEvaluated)
	}

	// Every request was a read, never of Secrets, PriorityClasses' among them.
	if read := auditedReads(t, c); !read["scheduling.k8s.io/priorityclasses"] {
		t.Errorf("the audit log shows no read of priorityclasses: %v", read)
	}
}

// scenarioControlPlane starts a control plane of the test's own, with the scenario of
// checks/<family>/testdata/e2e-scenario.yaml applied, and stops it when the test ends.
func scenarioControlPlane(ctx context.Context, t *testing.T, family string) *testcluster.Cluster {
	t.Helper()
	c, err := testcluster.Start(ctx, testcluster.Options{Log: os.Stderr, Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	scenario, err := os.ReadFile(filepath.Join(testcluster.RepoRoot(), "checks", family, "testdata", "e2e-scenario.yaml"))
	if err == nil {
		err = testcluster.Apply(ctx, c.Config, scenario)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}
