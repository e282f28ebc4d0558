package changes

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// maxMessage bounds the message a line quotes from an event or a condition.
const maxMessage = 160

// node adds a node's transitions in the window: Ready turning False or Unknown and a pressure
// condition turning True (their lastTransitionTime), taints added (timeAdded, which only
// NoExecute taints carry), a cordon (the kubelet's NodeNotSchedulable event: the
// unschedulable taint has no time), and its first Warning events.
func (t *timeline) node(ref snapshot.Ref) {
	t.eventsAbout(ref, ref)
	node, ok := lookup[*corev1.Node](t.s, ref)
	if !ok {
		return
	}
	for _, c := range node.Status.Conditions {
		if !t.in(c.LastTransitionTime.Time) {
			continue
		}
		var what string
		switch {
		case c.Type == corev1.NodeReady && c.Status == corev1.ConditionFalse:
			what = "became NotReady"
		case c.Type == corev1.NodeReady && c.Status == corev1.ConditionUnknown:
			what = "stopped reporting its status (Ready=Unknown)"
		case c.Type != corev1.NodeReady && c.Status == corev1.ConditionTrue:
			what = fmt.Sprintf("%s=True", c.Type)
		default:
			continue
		}
		summary := what
		if c.Reason != "" {
			summary += " (" + c.Reason + ")"
		}
		if message := check.OneLine(c.Message, maxMessage); message != "" {
			summary += ": " + message
		}
		t.add(Change{Time: c.LastTransitionTime.Time, Object: ref, Kind: KindNode, Summary: summary})
	}
	for _, taint := range node.Spec.Taints {
		if taint.TimeAdded != nil && t.in(taint.TimeAdded.Time) {
			t.add(Change{Time: taint.TimeAdded.Time, Object: ref, Kind: KindNode, Summary: fmt.Sprintf("tainted %s:%s", taint.Key, taint.Effect)})
		}
	}
	if node.Spec.Unschedulable {
		for _, e := range nodeEvents(t.s)[node.Name] {
			// The newest NodeNotSchedulable is the cordon in force.
			if e.Reason == "NodeNotSchedulable" && t.in(snapshot.LastSeen(e)) {
				t.add(Change{Time: snapshot.LastSeen(e), Object: ref, Kind: KindNode, Summary: "cordoned (unschedulable)"})
				break
			}
		}
	}
}

type nodeEventsKey struct{}

// nodeEvents are the events about each node, Normal ones included, newest first.
func nodeEvents(s *snapshot.Snapshot) map[string][]*corev1.Event {
	return snapshot.Derived(s, nodeEventsKey{}, func() map[string][]*corev1.Event {
		index := map[string][]*corev1.Event{}
		for i := range s.Events {
			if e := &s.Events[i]; e.InvolvedObject.Kind == "Node" {
				index[e.InvolvedObject.Name] = append(index[e.InvolvedObject.Name], e)
			}
		}
		for _, events := range index {
			slices.SortStableFunc(events, func(a, b *corev1.Event) int { return snapshot.LastSeen(b).Compare(snapshot.LastSeen(a)) })
		}
		return index
	})
}

// eventSummary is an event's reason and message on one line.
func eventSummary(e *corev1.Event) string {
	summary := e.Reason
	if message := check.OneLine(e.Message, maxMessage); message != "" {
		summary += ": " + message
	}
	return summary
}
