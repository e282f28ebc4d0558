package conntrack

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The measured link reaches the pods timing out on the nodes losing connections now (dropping
// as measured, or full to the critical level), not those on nodes only filling up or that
// dropped packets since boot alone, nor pods there failing otherwise.
func TestMeasuredLinkReachesOnlyNodesLosingConnectionsNow(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	nodes := map[string]snapshot.ConntrackNode{
		"dropping":   {Node: "dropping", Entries: 10, Limit: 1000, Rates: &snapshot.ConntrackCounters{InsertFailed: 0.5}},
		"full":       {Node: "full", Entries: 990, Limit: 1000, Rates: &snapshot.ConntrackCounters{}},
		"filling":    {Node: "filling", Entries: 900, Limit: 1000, Rates: &snapshot.ConntrackCounters{}},
		"since-boot": {Node: "since-boot", Entries: 10, Limit: 1000, Counters: &snapshot.ConntrackCounters{Drop: 40}, Rates: &snapshot.ConntrackCounters{}},
	}
	s.Conntrack = &snapshot.Conntrack{}
	var refs []snapshot.Ref
	for _, name := range []string{"dropping", "full", "filling", "since-boot"} {
		s.Conntrack.Nodes = append(s.Conntrack.Nodes, nodes[name])
		refs = append(refs, nodeRef(name))
		for _, what := range []struct{ pod, message string }{
			{name + "-slow", "Readiness probe failed: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"},
			{name + "-refused", "Readiness probe failed: dial tcp 10.0.0.1:8080: connect: connection refused"},
		} {
			s.Pods = append(s.Pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: what.pod, Namespace: "shop"}, Spec: corev1.PodSpec{NodeName: name}})
			s.Events = append(s.Events, corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: what.pod + ".1", Namespace: "shop"}, Type: corev1.EventTypeWarning,
				Reason: "Unhealthy", Message: what.message, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: what.pod}})
		}
	}
	s.Finish()
	f := check.New(Drops{}.Meta(), "", refs...)
	var got []string
	for _, r := range measuredLink().Reaches(s, f) {
		got = append(got, r.Name)
	}
	slices.Sort(got)
	if want := []string{"dropping-slow", "full-slow"}; !slices.Equal(got, want) {
		t.Errorf("reached %q, want %q", got, want)
	}
	// Without a measurement, nothing: the finding's nodes alone say nothing of now.
	s.Conntrack = nil
	if got := measuredLink().Reaches(s, f); len(got) != 0 {
		t.Errorf("reached %v without a measurement", got)
	}
}
