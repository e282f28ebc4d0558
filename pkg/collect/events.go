package collect

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The field selectors of the three event lists: every event about nodes, the Warning events
// about everything else, and the scheduler's Preempted events, which it reports as Normal though
// they say why a pod was taken away. The server filters, so a cluster's other Normal events (most
// of them: pulled, created, started, scaled) never cross the wire; the second leaves nodes out,
// which the first already read.
const (
	NodeEvents      = "involvedObject.kind=Node"
	WarningEvents   = "type=Warning,involvedObject.kind!=Node"
	PreemptedEvents = "reason=Preempted,involvedObject.kind=Pod"
)

// listWarningEvents reads the Warning events in namespace ("" for all) in pages, keeping only the
// newest few of each object and the newest snapshot.MaxEvents in all as it goes, so a cluster
// holding a hundred thousand events never has them all in memory at once.
func (c *collector) listWarningEvents(ctx context.Context, namespace string) error {
	dropped, err := c.listBoundedEvents(ctx, namespace, WarningEvents, snapshot.EventsPerObject, snapshot.MaxEvents)
	c.snap.EventsLeftOut = dropped
	return err
}

// listPreemptedEvents reads the scheduler's Preempted events in namespace ("" for all), the newest
// snapshot.MaxPreemptedEvents of them: one per pod taken away (the pod is gone, so nothing
// repeats it).
func (c *collector) listPreemptedEvents(ctx context.Context, namespace string) error {
	dropped, err := c.listBoundedEvents(ctx, namespace, PreemptedEvents, 1, snapshot.MaxPreemptedEvents)
	c.snap.EventsLeftOut += dropped
	return err
}

// listBoundedEvents adds the events fieldSelector selects in namespace to the snapshot, in pages,
// bounded as BoundEvents bounds them; it says how many it left out.
func (c *collector) listBoundedEvents(ctx context.Context, namespace, fieldSelector string, perObject, total int) (int, error) {
	into := &boundedEvents{perObject: perObject, total: total}
	lister := newPageLister(c.clients.Kube.CoreV1().RESTClient(), namespace, "events", into.NewList)
	err := pages(ctx, metav1.ListOptions{Limit: c.opts.ChunkSize, FieldSelector: fieldSelector}, c.counter(snapshot.KindEvents), lister.list, into)
	if err != nil {
		return 0, err
	}
	kept, dropped := snapshot.BoundEvents(into.events, into.perObject, into.total)
	c.snap.Events = append(c.snap.Events, kept...)
	return into.dropped + dropped, nil
}

// boundedEvents is the snapshot.ObjectList the Warning events are paged into: it keeps what
// checks read of each event, and bounds what it holds whenever it reaches twice the total.
type boundedEvents struct {
	events           []corev1.Event
	perObject, total int
	dropped          int
}

func (b *boundedEvents) NewList() runtime.Object { return &corev1.EventList{} }

func (b *boundedEvents) Append(page runtime.Object) (int, error) {
	list, ok := page.(*corev1.EventList)
	if !ok {
		return 0, fmt.Errorf("a page of events holds %T", page)
	}
	for i := range list.Items {
		snapshot.SlimEvent(&list.Items[i])
	}
	b.events = append(b.events, list.Items...)
	if len(b.events) >= 2*b.total {
		var dropped int
		b.events, dropped = snapshot.BoundEvents(b.events, b.perObject, b.total)
		b.dropped += dropped
	}
	return len(list.Items), nil
}

func (b *boundedEvents) Len() int { return len(b.events) }

// Truncate starts over (pages asks only for the length it began with, 0): what was left out
// is counted again when read again.
func (b *boundedEvents) Truncate(n int) {
	b.events = b.events[:min(n, len(b.events))]
	if n == 0 {
		b.dropped = 0
	}
}

// Grow is bounded by what is ever held: the server's count of remaining events may be far more.
func (b *boundedEvents) Grow(n int) {
	b.events = slices.Grow(b.events, max(min(n, 2*b.total-len(b.events)), 0))
}
