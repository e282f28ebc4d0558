package collect

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Paging events in holds no more than twice the total at any time, keeps what checks read of
// each event and nothing else, and ends with the newest.
func TestBoundedEventsHoldsLittle(t *testing.T) {
	read := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	b := &boundedEvents{perObject: 2, total: 10}
	b.Grow(1 << 20) // the server's count of what remains: no reason to hold it all
	if cap(b.events) > 2*b.total {
		t.Errorf("grew to %d for a bound of %d", cap(b.events), b.total)
	}
	b.Grow(-5) // never panics
	largest := 0
	for page := range 10 {
		list := &corev1.EventList{}
		for i := range 7 {
			n := page*7 + i
			list.Items = append(list.Items, corev1.Event{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("e-%02d", n), Namespace: "shop",
					Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"c": "d"},
					ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: fmt.Sprintf("pod-%d", n%20)},
				Type:           corev1.EventTypeWarning, Reason: "BackOff", Message: "Back-off",
				LastTimestamp: metav1.NewTime(read.Add(-time.Duration(n) * time.Minute))})
		}
		if got, err := b.Append(list); err != nil || got != 7 {
			t.Fatalf("page %d: %d, %v", page, got, err)
		}
		largest = max(largest, b.Len())
	}
	if largest >= 2*b.total {
		t.Errorf("held %d events at once, bound %d", largest, b.total)
	}
	for _, e := range b.events {
		if e.Labels != nil || e.Annotations != nil || e.ManagedFields != nil || e.Message == "" || e.Name == "" {
			t.Errorf("%s: kept %+v", e.Name, e.ObjectMeta)
		}
	}
	if _, err := b.Append(&corev1.PodList{}); err == nil {
		t.Error("a page of pods was taken for events")
	}
	b.Truncate(0)
	if b.Len() != 0 || b.dropped != 0 {
		t.Errorf("after starting over: %d held, %d left out", b.Len(), b.dropped)
	}
}
