package workloads

import (
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
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
	lines, failing := podReasons(s, s.TopOwner(&s.Pods[0]))
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
