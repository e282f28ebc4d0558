package workloads

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	corev1 "k8s.io/api/core/v1"
)

// Each workload finding quotes the newest event that explains it, one line, with how long ago
// and how often; Normal events and other objects' events are not evidence.
func TestFindingsQuoteTheirEvents(t *testing.T) {
	for _, tc := range []struct {
		check    check.Check
		object   string
		severity check.Severity
		message  string // in the message; "" for nothing asked of it
		event    string // the evidence line
	}{
		{DeploymentUnavailable{}, "shop/deployment/quota", check.Critical,
			"has 0 of 3 replicas available; pods cannot be created: Error creating: pods \"quota-5f-x7k2p\" is forbidden: exceeded quota: compute",
			"event on replicaset quota-5f: FailedCreate, last: 3m ago, x12: Error creating: pods \"quota-5f-x7k2p\" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=8, limited: cpu=8"},
		{StatefulSetUnavailable{}, "shop/statefulset/db", check.Critical,
			"pods cannot be created: create Pod db-0 in StatefulSet db failed error: pods \"db-0\" is forbidden: violates PodSecurity",
			"event on statefulset db: FailedCreate, last: 2m ago, x7: create Pod db-0"},
		// The newest of the pod's complaints, the Normal event after it left out.
		{DeploymentUnavailable{}, "shop/deployment/web", check.Critical, "",
			"event on pod web-7c-aaaaa: BackOff, last: 60s ago, x160: Back-off restarting failed container app in pod web-7c-aaaaa_shop"},
		// A crash loop prefers the probe that kills the container, its output on the same line.
		{CrashLoop{}, "shop/deployment/web", check.Critical, "",
			"event on pod web-7c-aaaaa: Unhealthy, last: 3m ago, x41: Liveness probe failed: HTTP probe failed with statuscode: 503 body: {\"status\":\"down\"}"},
		// The registry's answer, not the kubelet's summary of it that came after.
		{ImagePull{}, "shop/pod/cart", check.High, "",
			"event on pod cart: Failed, last: 4m ago, x5: Failed to pull image \"registry.example/cart:9\": rpc error: code = NotFound"},
		// An events.k8s.io event: its series says when and how often.
		{Unschedulable{}, "shop/pod/batch", check.High, "",
			"event on pod batch: FailedScheduling, last: 5m ago, x9: 0/3 nodes are available: 3 Insufficient memory. preemption:"},
		// A volume that cannot be mounted does not resolve by waiting: high, not medium.
		{DeploymentUnavailable{}, "shop/deployment/cfg", check.Critical, "",
			"event on pod cfg-1: FailedMount, last: 2m ago, x8: MountVolume.SetUp failed for volume \"settings\" : configmap \"cfg-settings\" not found"},
	} {
		s := fixture.Load(t, "events.yaml")
		f := findingAbout(t, tc.check.Run(s), tc.object)
		if f.Severity != tc.severity {
			t.Errorf("%s %s: severity %s, want %s", f.Check, tc.object, f.Severity, tc.severity)
		}
		if !strings.Contains(f.Message, tc.message) {
			t.Errorf("%s %s: message %q lacks %q", f.Check, tc.object, f.Message, tc.message)
		}
		if !slices.ContainsFunc(f.Evidence, func(line string) bool { return strings.HasPrefix(line, tc.event) }) {
			t.Errorf("%s %s: no evidence line %q in %q", f.Check, tc.object, tc.event, f.Evidence)
		}
		if n := len(slices.DeleteFunc(slices.Clone(f.Evidence), func(line string) bool { return !strings.HasPrefix(line, "event on ") })); n != 1 {
			t.Errorf("%s %s: %d event lines, want one", f.Check, tc.object, n)
		}
	}
}

// A pod that is short of nothing but a FailedMount is stuck: medium would say it may resolve.
func TestStuckEventsRaiseSeverity(t *testing.T) {
	s := fixture.Load(t, "events.yaml")
	for i := range s.Deployments {
		if d := &s.Deployments[i]; d.Name == "cfg" {
			d.Spec.Replicas, d.Status.AvailableReplicas = ptrTo(int32(2)), 1
		}
	}
	if f := findingAbout(t, (DeploymentUnavailable{}).Run(s), "shop/deployment/cfg"); f.Severity != check.High {
		t.Errorf("severity %s, want high", f.Severity)
	}
	// An hour later the same event, not repeated since, is over.
	s.CollectedAt = s.CollectedAt.Add(time.Hour)
	s.ForgetDerived()
	if f := findingAbout(t, (DeploymentUnavailable{}).Run(s), "shop/deployment/cfg"); f.Severity != check.Medium {
		t.Errorf("with an old event: severity %s, want medium", f.Severity)
	}
	s.Events = nil
	s.ForgetDerived()
	if f := findingAbout(t, (DeploymentUnavailable{}).Run(s), "shop/deployment/cfg"); f.Severity != check.Medium {
		t.Errorf("without its event: severity %s, want medium", f.Severity)
	}
}

// Without events, the findings stand and quote none; the controller's message gives no cause
// it cannot see.
func TestFindingsWithoutEvents(t *testing.T) {
	s := fixture.Load(t, "events.yaml")
	s.Events = nil
	s.MarkUnavailable(snapshot.KindEvents, "forbidden")
	s.ForgetDerived()
	f := findingAbout(t, (DeploymentUnavailable{}).Run(s), "shop/deployment/quota")
	if f.Severity != check.Critical || strings.Contains(f.Message, "cannot be created") {
		t.Errorf("%s: %q", f.Severity, f.Message)
	}
	for _, line := range f.Evidence {
		if strings.HasPrefix(line, "event on ") {
			t.Errorf("an event line without events: %q", line)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

// Pods the scheduler took away for others of higher priority explain a shortfall and a pending
// replacement: the last hour's Preempted events about the workload's pods (named after its
// ReplicaSet), with the preemptor and its priority; not another workload's, not older ones.
func TestPreemptionIsEvidence(t *testing.T) {
	want := "2 pods preempted in the last hour, the newest 4m ago: api-6b-ccccc for pod batch/train-0 (priority 1000000, class urgent) on node n1"
	for _, c := range []check.Check{DeploymentUnavailable{}, Unschedulable{}} {
		s := fixture.Load(t, "preempted.yaml")
		f := findingAbout(t, c.Run(s), "shop/deployment/api")
		if !slices.Contains(f.Evidence, want) {
			t.Errorf("%s: no line %q in %q", c.Meta().ID, want, f.Evidence)
		}
	}
	// Without the preemptor among the pods read, the scheduler's own words.
	s := fixture.Load(t, "preempted.yaml")
	s.Pods = slices.DeleteFunc(s.Pods, func(p corev1.Pod) bool { return p.Name == "train-0" })
	s.ForgetDerived()
	f := findingAbout(t, (DeploymentUnavailable{}).Run(s), "shop/deployment/api")
	if !slices.Contains(f.Evidence, "2 pods preempted in the last hour, the newest 4m ago: api-6b-ccccc (Preempted by pod 0b6c2a8e-1f3d-4c5b-9a7e-2d8f6e4c1a90 on node n1)") {
		t.Errorf("without the preemptor: %q", f.Evidence)
	}
}

func TestPodNamePrefixes(t *testing.T) {
	for _, tc := range []struct {
		prefix podNamePrefix
		pod    string
		want   bool
	}{
		{podNamePrefix{name: "web-7c"}, "web-7c-x2k4q", true},
		{podNamePrefix{name: "web-7c"}, "web-7c-x2k4", false},
		{podNamePrefix{name: "web"}, "web-api-x2k4q", false},
		{podNamePrefix{name: "db", ordinal: true}, "db-12", true},
		{podNamePrefix{name: "db", ordinal: true}, "db-backup-0", false},
		{podNamePrefix{name: "db", ordinal: true}, "db-", false},
	} {
		if got := tc.prefix.names(tc.pod); got != tc.want {
			t.Errorf("%+v names %s: %v, want %v", tc.prefix, tc.pod, got, tc.want)
		}
	}
}

// A Job that cannot create its pods has only its event to say why: quoted, with the CronJob that
// made it named.
func TestJobCannotCreatePodsQuotesItsEvent(t *testing.T) {
	f := findingAbout(t, (JobCannotCreatePods{}).Run(fixture.Load(t, "job-cannot-create-pods.yaml")), "shop/cronjob/nightly")
	if want := `cronjob shop/nightly cannot create its pods: Error creating: pods "nightly-29-k8s2p" is forbidden: exceeded quota: compute`; !strings.HasPrefix(f.Message, want) {
		t.Errorf("message %q, want it to begin %q", f.Message, want)
	}
	if want := "event on job nightly-29: FailedCreate, last: 3m ago, x6: Error creating:"; !slices.ContainsFunc(f.Evidence, func(l string) bool { return strings.HasPrefix(l, want) }) {
		t.Errorf("no evidence line %q in %q", want, f.Evidence)
	}
	if f.Since == nil || !f.Since.Equal(time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("since %v, want the first refusal", f.Since)
	}
}
