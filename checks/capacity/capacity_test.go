package capacity

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestChecksOnFixtures(t *testing.T) {
	var cases []fixture.Case
	// Each fixture's flaw is its own check's: the family's other checks find nothing in it.
	fixtures := map[string]string{
		"quota-exhausted": "quota-exhausted.yaml", "limitrange-unschedulable": "limitrange-unschedulable.yaml",
		"pods-pending": "pods-pending.yaml", "priorityclass-preemption": "priorityclass-preemption.yaml",
		"pod-ip-exhausted": "pod-ip-exhausted.yaml", "node-podcidr-too-small": "node-podcidr-too-small.yaml",
		"replicas-concentrated": "replicas-concentrated.yaml",
	}
	want := map[string][]string{
		"quota-exhausted": {
			"high quota-exhausted shop/resourcequota/compute,shop/cronjob/nightly,shop/deployment/web",
			"low quota-exhausted tools/resourcequota/small",
			"high quota-exhausted strict/resourcequota/strict,strict/replicaset/worker-1",
		},
		"limitrange-unschedulable": {
			"high limitrange-unschedulable big/limitrange/defaults",
			"high limitrange-unschedulable shop/limitrange/defaults,shop/deployment/api",
		},
		"pods-pending": {"high pods-pending data/statefulset/db,shop/deployment/web"},
		"priorityclass-preemption": {
			"high priorityclass-preemption priorityclass/urgent,batch/job/train,shop/deployment/api",
		},
		"pod-ip-exhausted":       {"high pod-ip-exhausted node/n1,shop/deployment/api,shop/deployment/web"},
		"node-podcidr-too-small": {"medium node-podcidr-too-small node/a,node/b", "medium node-podcidr-too-small node/d"},
		"replicas-concentrated": {
			"medium replicas-concentrated shop/deployment/web,node/n1",
			"critical replicas-concentrated shop/deployment/api,node/n4",
			"low replicas-concentrated shop/deployment/zonal",
		},
	}
	// Pods of two workloads pending for CPU in these fixtures too: a cluster-wide finding as well.
	also := map[[2]string][]string{
		{"pods-pending", "limitrange-unschedulable"}: {"high pods-pending shop/deployment/api,shop/deployment/own"},
		{"pods-pending", "priorityclass-preemption"}: {"high pods-pending shop/deployment/api,shop/statefulset/report"},
	}
	for _, c := range Checks() {
		id := c.Meta().ID
		for other, file := range fixtures {
			tc := fixture.Case{Check: c, Fixture: file, Want: also[[2]string{id, other}]}
			if other == id {
				tc.Want = want[id]
			}
			cases = append(cases, tc)
		}
	}
	fixture.RunCases(t, check.CategoryCapacity, Checks(), cases)
}

func lines(t *testing.T, f check.Finding, parts ...string) {
	t.Helper()
	all := strings.Join(append(append([]string{f.Message}, f.Evidence...), f.Fix...), "\n")
	for _, p := range parts {
		if !strings.Contains(all, p) {
			t.Errorf("%s: no %q in\n%s", f.Check, p, all)
		}
	}
}

func TestQuotaDetails(t *testing.T) {
	f := fixture.Find(t, QuotaExhausted{}.Run(fixture.Load(t, "quota-exhausted.yaml")), "shop/resourcequota/compute")
	// web misses 2 pods of 500m, nightly 1 of 2 CPUs: 3 CPUs more than the 8 used.
	lines(t, f, "requests.cpu: used 8 of hard 8", "deployment shop/web is short of 2 pods", "x14",
		`kubectl patch -n shop resourcequota/compute --type=merge -p '{"spec":{"hard":{"requests.cpu":"11"}}}'`,
		"kubectl set resources -n shop deployment/web --requests=cpu=CPU")
	if !f.Incident || f.Since == nil {
		t.Errorf("incident %v, since %v", f.Incident, f.Since)
	}
	strict := fixture.Find(t, QuotaExhausted{}.Run(fixture.Load(t, "quota-exhausted.yaml")), "strict/resourcequota/strict")
	lines(t, strict, "refuses the pods of replicaset strict/worker-1: they set no request or limit it counts",
		"replicaset strict/worker-1 must specify requests.memory for: app", "a LimitRange whose defaults set them")
}

func TestLimitRangeDetails(t *testing.T) {
	findings := LimitRangeUnschedulable{}.Run(fixture.Load(t, "limitrange-unschedulable.yaml"))
	lines(t, fixture.Find(t, findings, "big/limitrange/defaults"), "default request memory 64Gi is more than any node can allocate (the most: 32Gi on node n2)")
	lines(t, fixture.Find(t, findings, "shop/limitrange/defaults"), "pod api-6b-aaaaa of deployment shop/api: the scheduler found Insufficient cpu; its request of cpu 6 comes from the LimitRange")
}

func TestPendingDetails(t *testing.T) {
	f := fixture.Find(t, PodsPending{}.Run(fixture.Load(t, "pods-pending.yaml")), "data/statefulset/db")
	lines(t, f, "3 pods of 2 workloads are pending across the cluster for the same reason: Insufficient cpu",
		"the 3 pending pods request cpu 7 in all, 3 the largest pod",
		"the most cpu free on the 1 node they could otherwise run on: 1 on node n1",
		"deployment shop/web: 2 pods pending for 30m")
	if f.Scope != check.ScopeCluster {
		t.Errorf("scope %s", f.Scope)
	}
}

func TestSchedulingReason(t *testing.T) {
	for message, want := range map[string]string{
		"0/3 nodes are available: 3 Insufficient memory.":                                                                                                             "insufficient:memory",
		"0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint(s).":                                                                            "insufficient:cpu",
		"0/5 nodes are available: 5 node(s) had untolerated taint(s).":                                                                                                "taints",
		"0/4 nodes are available: 1 node(s) were unschedulable, 3 node(s) didn't match Pod's node affinity/selector.":                                                 "node-selector",
		"0/2 nodes are available: 2 node(s) had volume node affinity conflict.":                                                                                       "volumes",
		"0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.": "volumes",
		"0/6 nodes are available: 3 node(s) didn't match pod anti-affinity rules, 3 node(s) had untolerated taint(s).":                                                "pod-affinity",
		"0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints.":                                                                            "pod-affinity",
		"0/3 nodes are available: 3 Too many pods.":                                                                                                                   "too-many-pods",
	} {
		class, _, ok := schedulingReason(message)
		if !ok || class.key != want {
			t.Errorf("%q: class %q (%v), want %q", message, class.key, ok, want)
		}
	}
	if _, _, ok := schedulingReason("running PreBind plugin VolumeBinding: binding volumes: timed out"); ok {
		t.Error("a message that is not the scheduler's fit error was read")
	}
}

func TestPreemptionDetails(t *testing.T) {
	f := fixture.Find(t, PriorityPreemption{}.Run(fixture.Load(t, "priorityclass-preemption.yaml")), "priorityclass/urgent")
	lines(t, f, "PriorityClass urgent: value 1000000, preemptionPolicy PreemptLowerPriority", "3 pods preempted in the last hour",
		"deployment shop/api: 2 pods preempted, 1 pod Pending now (priority 0)",
		"kubectl create priorityclass urgent-no-preemption --value=1000000 --preemption-policy=Never")
	if slices.ContainsFunc(f.Objects, func(r snapshot.Ref) bool { return r.Name == "cache" || r.Name == "report" }) {
		t.Errorf("objects %v name a workload that is not pending, or an old preemption", f.Objects)
	}
}

func TestPodIPDetails(t *testing.T) {
	f := fixture.Find(t, PodIPExhausted{}.Run(fixture.Load(t, "pod-ip-exhausted.yaml")), "node/n1")
	lines(t, f, "node n1: 1 pod hold an address of the pod network; podCIDR 10.244.1.0/24 holds 254 addresses; max pods 110",
		"no IP addresses available in range set", "kubectl drain n1 --ignore-daemonsets")
}

func TestPodCIDRDetails(t *testing.T) {
	findings := PodCIDRTooSmall{}.Run(fixture.Load(t, "node-podcidr-too-small.yaml"))
	lines(t, fixture.Find(t, findings, "node/a"), "2 nodes may run 300 pods", "holds 254 addresses", "set maxPods: 254")
	lines(t, fixture.Find(t, findings, "node/d"), "holds 126 addresses", "podCIDR 10.0.4.0/25, fd00:10:4::/64")
}

// An init container's request is the floor of the pod's, not added to the sidecars declared
// after it: init 2 cpu, then a sidecar of 100m, beside an app of 500m reserves 2 cpu (as
// component-helpers' AggregateContainerRequests computes it), not 2.1.
func TestPodRequestsInitBeforeSidecar(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	req := func(cpu string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "migrate", Resources: req("2")}, {Name: "proxy", RestartPolicy: &always, Resources: req("100m")}},
		Containers:     []corev1.Container{{Name: "app", Resources: req("500m")}},
	}}
	if got := podRequests(pod)[corev1.ResourceCPU]; got.Cmp(resource.MustParse("2")) != 0 {
		t.Errorf("cpu %s, want 2", got.String())
	}
	// A sidecar before the init container runs beside it: 100m + 2.
	pod.Spec.InitContainers[0], pod.Spec.InitContainers[1] = pod.Spec.InitContainers[1], pod.Spec.InitContainers[0]
	if got := podRequests(pod)[corev1.ResourceCPU]; got.Cmp(resource.MustParse("2100m")) != 0 {
		t.Errorf("cpu %s, want 2100m", got.String())
	}
}

// A rollout whose new ReplicaSet the quota refuses its surge pod stalls while the Deployment,
// its old pods running, has all the replicas it wants: the refusal is still reported.
func TestQuotaRefusesARolloutsNewReplicaSet(t *testing.T) {
	s := fixture.Load(t, "quota-exhausted.yaml")
	for i := range s.Deployments {
		if d := &s.Deployments[i]; d.Name == "web" {
			d.Status.Replicas = *d.Spec.Replicas // the old revision's pods
		}
	}
	for i := range s.ReplicaSets {
		if rs := &s.ReplicaSets[i]; rs.Name == "web-5d4f" {
			one := int32(1)
			rs.Spec.Replicas, rs.Status.Replicas = &one, 0 // the new revision's surge pod, refused
		}
	}
	s.ForgetDerived()
	var found bool
	for _, f := range (QuotaExhausted{}).Run(s) {
		if slices.Contains(f.Objects, snapshot.RefTo(snapshot.KindDeployments, "shop", "web")) {
			found = true
		}
	}
	if !found {
		t.Error("the refused rollout of deployment shop/web is not reported")
	}
}
