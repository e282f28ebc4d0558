package workloads

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestChecksOnFixtures(t *testing.T) {
	fixture.RunCases(t, check.CategoryWorkloads, Checks(), []fixture.Case{
		{Check: CrashLoop{}, Fixture: "pod-crashloop.yaml", Want: []string{
			"critical pod-crashloop team-a/deployment/api",
			"high pod-crashloop team-a/deployment/web",
			"high pod-crashloop team-a/pod/debug",
			"high pod-crashloop team-b/cronjob/nightly",
			// The ReplicaSet is missing from the input: the Deployment is inferred from the
			// pod-template-hash, and its only pod loops, in an init container.
			"critical pod-crashloop team-b/deployment/orphan",
			// A static pod: its mirror is owned by the Node, but the pod is what is named.
			"high pod-crashloop kube-system/pod/kube-apiserver-cp-1",
		}},
		{Check: ImagePull{}, Fixture: "pod-image-pull.yaml", Want: []string{
			"high pod-image-pull shop/deployment/cart",
			"high pod-image-pull tools/pod/probe",
		}},
		{Check: JobCannotCreatePods{}, Fixture: "job-cannot-create-pods.yaml", Want: []string{
			"high job-cannot-create-pods shop/cronjob/nightly",
			"high job-cannot-create-pods shop/job/migrate",
		}},
		{Check: Unschedulable{}, Fixture: "pod-unschedulable.yaml", Want: []string{
			"high pod-unschedulable data/statefulset/postgres",
		}},
		{Check: NodeNotReady{}, Fixture: "node-not-ready.yaml", Want: []string{
			"high node-not-ready node/node-2,node/node-3",
		}},
		// A JSON stream; a node that never reported a condition counts as not ready.
		{Check: NodeNotReady{}, Fixture: "node-not-ready-majority.json", Want: []string{
			"critical node-not-ready node/cp-2,node/cp-3",
		}},
		{Check: NodePressure{}, Fixture: "node-pressure.yaml", Want: []string{
			"high node-pressure node/node-a",
			"high node-pressure node/node-b",
		}},
		{Check: DeploymentUnavailable{}, Fixture: "deployment-unavailable.yaml", Want: []string{
			"critical deployment-unavailable web/deployment/defaulted",
			"critical deployment-unavailable web/deployment/zero",
			"high deployment-unavailable web/deployment/stuck",
			"high deployment-unavailable web/deployment/stuck-serving",
			"high deployment-unavailable web/deployment/failing",
			"medium deployment-unavailable web/deployment/rolling",
		}},
		{Check: StatefulSetUnavailable{}, Fixture: "statefulset-unavailable.yaml", Want: []string{
			"critical statefulset-unavailable data/statefulset/queue",
			"high statefulset-unavailable data/statefulset/db",
			"medium statefulset-unavailable data/statefulset/scaling",
		}},
		{Check: DaemonSetUnavailable{}, Fixture: "daemonset-unavailable.yaml", Want: []string{
			"critical daemonset-unavailable kube-system/daemonset/cni",
			"high daemonset-unavailable kube-system/daemonset/agent",
			"medium daemonset-unavailable kube-system/daemonset/rolling",
		}},
	})
	// Every workload finding is a live incident.
	for _, c := range Checks() {
		for _, name := range []string{"pod-crashloop.yaml", "deployment-unavailable.yaml", "node-pressure.yaml"} {
			for _, f := range c.Run(fixture.Load(t, name)) {
				if !f.Incident || len(f.Fix) == 0 {
					t.Errorf("%s: incident %v, fix %q", f.Check, f.Incident, f.Fix)
				}
			}
		}
	}
}

func TestCrashLoopEvidenceAndFix(t *testing.T) {
	s := fixture.Load(t, "pod-crashloop.yaml")
	var api check.Finding
	for _, f := range (CrashLoop{}).Run(s) {
		if f.Objects[0].Name == "api" {
			api = f
		}
	}
	if len(api.Evidence) != 1 || !strings.Contains(api.Evidence[0], "restarted 9 times, last exit code 137 (OOMKilled)") {
		t.Errorf("evidence does not show the restarts and the OOM kill: %q", api.Evidence)
	}
	if !strings.Contains(api.Message, "OOMKilled (see container-oomkilled") {
		t.Errorf("message does not point to the OOM kill: %q", api.Message)
	}
	if !containsLine(api.Fix, "kubectl logs -n team-a api-66d4b-ccccc -c server --previous") {
		t.Errorf("fix does not point at the previous logs: %q", api.Fix)
	}
}

func TestUnschedulableExplainsTheSchedulersReason(t *testing.T) {
	s := fixture.Load(t, "pod-unschedulable.yaml")
	findings := (Unschedulable{}).Run(s)
	if len(findings) != 1 || !strings.Contains(findings[0].Remediation, "lower the requests or add nodes") {
		t.Fatalf("no hint for insufficient memory: %+v", findings)
	}
}

func TestDeploymentEvidenceNamesPodStates(t *testing.T) {
	s := fixture.Load(t, "pod-image-pull.yaml")
	lines, failing, _ := podReasons(s, s.TopOwner(&s.Pods[0]))
	if !failing || len(lines) != 2 || !strings.Contains(lines[0], "ImagePullBackOff") || !strings.Contains(lines[1], "ErrImagePull") {
		t.Errorf("pod states of shop/cart: %q", lines)
	}
}

// Only the controllers that own an editable pod template get `kubectl set` fixes.
func TestFixesOnlyWhereTheyWork(t *testing.T) {
	s := fixture.Load(t, "pod-crashloop.yaml")
	for _, f := range (CrashLoop{}).Run(s) {
		hasSet := containsLine(f.Fix, "kubectl set ")
		if f.Objects[0].Kind == "Pod" && hasSet {
			t.Errorf("%s: a bare or static pod has no template to set: %q", f.Objects[0], f.Fix)
		}
	}
	s = fixture.Load(t, "pod-image-pull.yaml")
	for _, f := range (ImagePull{}).Run(s) {
		want := f.Objects[0].Kind == "Deployment"
		if got := containsLine(f.Fix, "kubectl set image"); got != want {
			t.Errorf("%s: set image offered = %v, want %v", f.Objects[0], got, want)
		}
	}
}

func containsLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// Each live incident says when it began as the cluster recorded it (Finding.Since), and its
// evidence says how long ago, relative to when the snapshot was read.
func TestIncidentsSayWhenTheyBegan(t *testing.T) {
	for _, tc := range []struct {
		check    check.Check
		fixture  string
		object   string
		since    string // RFC 3339, "" for unknown
		evidence string
	}{
		{CrashLoop{}, "pod-crashloop.yaml", "team-a/deployment/web", "2026-11-24T09:47:00Z", "last exit code 1 (Error) 2m ago; not ready for 13m"},
		// Without a Ready transition, the last crash is the earliest the cluster records.
		{CrashLoop{}, "pod-crashloop.yaml", "team-a/deployment/api", "2026-11-24T09:55:00Z", "last exit code 137 (OOMKilled) 5m ago"},
		{CrashLoop{}, "pod-crashloop.yaml", "team-a/pod/debug", "", "restarted 3 times"},
		{ImagePull{}, "pod-image-pull.yaml", "shop/deployment/cart", "2026-11-24T09:45:00Z", "(pod not ready for 15m)"},
		{Unschedulable{}, "pod-unschedulable.yaml", "data/statefulset/postgres", "2026-11-24T09:47:00Z", "pod postgres-2 (pending for 13m)"},
		{NodeNotReady{}, "node-not-ready.yaml", "node/node-2", "2026-11-24T08:00:00Z", "node node-3: Ready=Unknown (NodeStatusUnknown) for 45m"},
		{NodePressure{}, "node-pressure.yaml", "node/node-a", "2026-11-24T09:47:00Z", "node node-a: MemoryPressure=True for 13m"},
		{NodePressure{}, "node-pressure.yaml", "node/node-b", "", "node node-b: DiskPressure=True"},
		{DeploymentUnavailable{}, "deployment-unavailable.yaml", "web/deployment/zero", "2026-11-24T09:30:00Z",
			"condition Available=False (MinimumReplicasUnavailable) for 30m"},
		{DeploymentUnavailable{}, "deployment-unavailable.yaml", "web/deployment/stuck", "2026-11-24T09:00:00Z",
			"condition Progressing=False (ProgressDeadlineExceeded) for 60m"},
		// No condition dates it: its failing pod's last run does.
		{DeploymentUnavailable{}, "deployment-unavailable.yaml", "web/deployment/failing", "2026-11-24T09:57:00Z", "container app CrashLoopBackOff"},
		{DeploymentUnavailable{}, "deployment-unavailable.yaml", "web/deployment/defaulted", "", "replicas: 1 desired"},
		{StatefulSetUnavailable{}, "statefulset-unavailable.yaml", "data/statefulset/db", "2026-11-24T09:40:00Z",
			"pod db-2: container db CrashLoopBackOff (not ready for 20m)"},
	} {
		f := findingAbout(t, tc.check.Run(fixture.Load(t, tc.fixture)), tc.object)
		switch {
		case tc.since == "" && f.Since != nil:
			t.Errorf("%s %s: since %v, but nothing records when it began", f.Check, tc.object, f.Since)
		case tc.since != "" && (f.Since == nil || f.Since.Format(time.RFC3339) != tc.since):
			t.Errorf("%s %s: since %v, want %s", f.Check, tc.object, f.Since, tc.since)
		}
		if !slices.ContainsFunc(f.Evidence, func(line string) bool { return strings.Contains(line, tc.evidence) }) {
			t.Errorf("%s %s: no evidence line with %q in %q", f.Check, tc.object, tc.evidence, f.Evidence)
		}
	}
}

// rollout undo is offered only where the snapshot shows a revision to go back to; where it
// cannot tell, rollout history shows the revisions instead.
func TestRollbackOnlyToARevisionThatExists(t *testing.T) {
	withoutReplicaSets := func(t *testing.T) *snapshot.Snapshot {
		s := fixture.Load(t, "deployment-unavailable.yaml")
		s.ReplicaSets = nil
		s.MarkUnavailable(snapshot.KindReplicaSets, "forbidden")
		s.Finish()
		return s
	}
	for _, tc := range []struct {
		check    check.Check
		snapshot func(*testing.T) *snapshot.Snapshot
		object   string
		want     string // the rollback line, "" for none
	}{
		// Two numbered ReplicaSets: revision 1 is there to go back to.
		{DeploymentUnavailable{}, load("deployment-unavailable.yaml"), "web/deployment/zero", "kubectl rollout undo -n web deployment/zero"},
		// One revision only, numbered or not: nothing to roll back to.
		{DeploymentUnavailable{}, load("deployment-unavailable.yaml"), "web/deployment/stuck", ""},
		{DeploymentUnavailable{}, load("deployment-unavailable.yaml"), "web/deployment/failing", ""},
		{DeploymentUnavailable{}, withoutReplicaSets, "web/deployment/zero", "kubectl rollout history -n web deployment/zero"},
		// Mid-rollout between two revisions.
		{StatefulSetUnavailable{}, load("statefulset-unavailable.yaml"), "data/statefulset/db", "kubectl rollout undo -n data statefulset/db"},
		{StatefulSetUnavailable{}, load("statefulset-unavailable.yaml"), "data/statefulset/queue", ""},
		// Two nodes still run the earlier revision.
		{DaemonSetUnavailable{}, load("daemonset-unavailable.yaml"), "kube-system/daemonset/rolling", "kubectl rollout undo -n kube-system daemonset/rolling"},
		{DaemonSetUnavailable{}, load("daemonset-unavailable.yaml"), "kube-system/daemonset/agent", ""},
	} {
		f := findingAbout(t, tc.check.Run(tc.snapshot(t)), tc.object)
		var got string
		for _, line := range f.Fix {
			if strings.HasPrefix(line, "kubectl rollout") {
				got, _, _ = strings.Cut(line, "   #")
			}
		}
		if got != tc.want {
			t.Errorf("%s: rollback %q, want %q (fix %q)", tc.object, got, tc.want, f.Fix)
		}
	}
}

// A finding about several nodes gives each of them its command, up to check.MaxFixes, and
// counts the rest; kubectl top is offered only where the metrics API answered.
func TestNodeFixesNameEveryNode(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	s.CollectedAt = fixture.Now()
	for i := range check.MaxFixes + 2 {
		s.Nodes = append(s.Nodes, corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i)},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionFalse},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue},
			}}})
	}
	s.Finish()
	notReady := (NodeNotReady{}).Run(s)
	want := []string{
		"kubectl describe node node-0 node-1 node-2 node-3 node-4",
		"# ... and 2 more nodes (see the objects)",
	}
	for i := range check.MaxFixes {
		want = append(want, fmt.Sprintf("kubectl drain node-%d --ignore-daemonsets --delete-emptydir-data", i))
	}
	want = append(want, "# ... and 2 more nodes (see the objects)")
	if len(notReady) != 1 || len(notReady[0].Fix) != len(want) {
		t.Fatalf("node-not-ready: %+v, want one finding with fix %q", notReady, want)
	}
	for i, line := range notReady[0].Fix {
		if !strings.HasPrefix(line, want[i]) {
			t.Errorf("fix line %d: %q, want %q", i, line, want[i])
		}
	}
	pressure := findingAbout(t, (NodePressure{}).Run(s), "node/node-0")
	if slices.ContainsFunc(pressure.Fix, func(l string) bool { return strings.Contains(l, "kubectl top") }) {
		t.Errorf("kubectl top offered, but the metrics API was not read: %q", pressure.Fix)
	}
	s.PodMetrics = []metricsv1beta1.PodMetrics{{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}}}
	pressure = findingAbout(t, (NodePressure{}).Run(s), "node/node-0")
	if !slices.Contains(pressure.Fix, "kubectl top pods -A --sort-by=memory") {
		t.Errorf("kubectl top not offered, although the metrics API answered: %q", pressure.Fix)
	}
}

func load(name string) func(*testing.T) *snapshot.Snapshot {
	return func(t *testing.T) *snapshot.Snapshot { return fixture.Load(t, name) }
}

func findingAbout(t *testing.T, findings []check.Finding, object string) check.Finding {
	t.Helper()
	for _, f := range findings {
		if len(f.Objects) > 0 && f.Objects[0].String() == object {
			return f
		}
	}
	t.Fatalf("no finding about %s in %d findings", object, len(findings))
	return check.Finding{}
}

// Where a Deployment's newest revision is the one failing while the previous one still serves,
// the fixes roll back to exactly that previous revision; where the failing pods are an earlier
// revision's, no rollback is offered by the pod checks.
func TestExactRollbackWhenTheNewRevisionFails(t *testing.T) {
	s := fixture.Load(t, "rollout-undo.yaml")
	for _, tc := range []struct {
		check  check.Check
		object string
		want   string // the exact undo line, "" for none
	}{
		{ImagePull{}, "shop/deployment/web", "kubectl rollout undo deployment/web -n shop --to-revision=1"},
		{DeploymentUnavailable{}, "shop/deployment/web", "kubectl rollout undo deployment/web -n shop --to-revision=1"},
		{CrashLoop{}, "shop/deployment/api", "kubectl rollout undo deployment/api -n shop --to-revision=3"},
		{CrashLoop{}, "shop/deployment/old", ""},
		{DeploymentUnavailable{}, "shop/deployment/old", ""},
	} {
		f := findingAbout(t, tc.check.Run(s), tc.object)
		var got string
		for _, line := range f.Fix {
			if strings.Contains(line, "--to-revision") {
				got, _, _ = strings.Cut(line, "   #")
			}
		}
		if got != tc.want {
			t.Errorf("%s %s: undo %q, want %q (fix %q)", tc.check.Meta().ID, tc.object, got, tc.want, f.Fix)
		}
	}
}
