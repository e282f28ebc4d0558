package watch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/alertmend/kubectl-alertmend/pkg/collect"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// source is one informer: the objects of a kind in one namespace (or all), as one field
// selector selects them. Events have three, ConfigMaps one per namespace they are read from.
type source struct {
	kind snapshot.Kind
	// name says what it watches in messages: "pods", "events (type=Warning,...)".
	name string
	// bound, for events, keeps the newest perObject per object and total in all, as collect does.
	perObject, total int
	store            cache.Store
	informer         cache.SharedIndexInformer

	mu sync.Mutex
	// failure is why the latest list or watch failed; nil once one succeeds.
	failure error
	// listed says a list succeeded once: the store holds the kind's objects.
	listed bool
	// interrupted says an outage was told on stderr, and its end is to be told.
	interrupted bool
}

// state is what the source can say now: whether its store can be judged, and why not.
func (s *source) state() (ready bool, failure error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listed && s.failure == nil, s.failure
}

// settled tells whether the first list answered, with objects or an error.
func (s *source) settled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listed || s.failure != nil
}

// tracked is a source's list and watch, telling the source how each request went: client-go's
// reflector retries with back-off by itself, and this is how the watch knows a kind is unread
// meanwhile. Plain list then watch: a watch-list stream would hide the list's failures.
type tracked struct {
	lw     *collect.ListWatch
	report func(err error, listed bool)
}

func (t tracked) List(opts metav1.ListOptions) (runtime.Object, error) {
	return t.ListWithContext(context.Background(), opts)
}

func (t tracked) ListWithContext(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	list, err := t.lw.List(ctx, opts)
	if ctx.Err() == nil {
		t.report(err, true)
	}
	return list, err
}

func (t tracked) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return t.WatchWithContext(context.Background(), opts)
}

func (t tracked) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	w, err := t.lw.Watch(ctx, opts)
	// A resource version too old to watch from is no outage: the reflector lists again.
	if ctx.Err() == nil && !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.report(err, false)
	}
	return w, err
}

// IsWatchListSemanticsUnSupported keeps the reflector on list then watch.
func (tracked) IsWatchListSemanticsUnSupported() bool { return true }

// transform keeps of each object what checks read (see snapshot.SlimMeta, snapshot.SlimEvent),
// so a watch holds no more than a run would.
func transform(kind snapshot.Kind) cache.TransformFunc {
	changeTimes := kind.Info().ChangeTimes
	return func(obj any) (any, error) {
		switch o := obj.(type) {
		case *corev1.Event:
			snapshot.SlimEvent(o)
		case metav1.Object:
			snapshot.SlimMeta(o, changeTimes)
		}
		return obj, nil
	}
}

// sortedKinds lists the sources' kinds once each, sorted.
func sortedKinds(sources []*source) []snapshot.Kind {
	var kinds []snapshot.Kind
	for _, s := range sources {
		kinds = append(kinds, s.kind)
	}
	slices.Sort(kinds)
	return slices.Compact(kinds)
}

// fill puts the objects of the sources of kind into snap, or marks the kind unavailable when one
// of them cannot be judged now.
func fill(ctx context.Context, snap *snapshot.Snapshot, kind snapshot.Kind, sources []*source) error {
	for _, s := range sources {
		if ready, failure := s.state(); !ready {
			if failure == nil {
				failure = errors.New("not listed yet")
			}
			markUnavailable(ctx, snap, kind, failure)
			return nil
		}
	}
	if kind == snapshot.KindEvents {
		for _, s := range sources {
			items := sortedItems(s.store)
			events := make([]corev1.Event, 0, len(items))
			for _, obj := range items {
				if e, ok := obj.(*corev1.Event); ok {
					events = append(events, *e)
				}
			}
			if s.total > 0 {
				var dropped int
				events, dropped = snapshot.BoundEvents(events, s.perObject, s.total)
				snap.EventsLeftOut += dropped
				if dropped > 0 {
					forgetAllBut(s.store, events)
				}
			}
			snap.Events = append(snap.Events, events...)
		}
		return nil
	}
	into, ok := kind.ObjectsIn(snap)
	if !ok {
		return fmt.Errorf("%s holds no objects", kind)
	}
	for _, s := range sources {
		items := sortedItems(s.store)
		objects := make([]runtime.Object, 0, len(items))
		for _, item := range items {
			if o, ok := item.(runtime.Object); ok {
				objects = append(objects, o)
			}
		}
		page := into.NewList()
		if err := apimeta.SetList(page, objects); err != nil {
			return fmt.Errorf("%s: %v", kind, err)
		}
		into.Grow(len(objects))
		if _, err := into.Append(page); err != nil {
			return err
		}
	}
	return nil
}

// forgetAllBut drops from an events store what the bound left out, so that the store holds
// about what a run keeps (the bound, and what came since the last evaluation) rather than every
// event of the last hour. An event dropped here and updated later comes back, as the newest.
func forgetAllBut(store cache.Store, kept []corev1.Event) {
	keep := make(map[string]bool, len(kept))
	for i := range kept {
		keep[kept[i].Namespace+"/"+kept[i].Name] = true
	}
	for _, key := range store.ListKeys() {
		if keep[key] {
			continue
		}
		if obj, exists, err := store.GetByKey(key); err == nil && exists {
			_ = store.Delete(obj)
		}
	}
}

// sortedItems are the objects of store in the order of their keys, namespace/name: the order
// Snapshot.Finish puts them in, which then moves none of them (a store's own order is random, and
// sorting ten thousand pods where they lie costs more than building the snapshot).
func sortedItems(store cache.Store) []any {
	keys := store.ListKeys()
	slices.Sort(keys)
	items := make([]any, 0, len(keys))
	for _, key := range keys {
		if item, exists, err := store.GetByKey(key); err == nil && exists {
			items = append(items, item)
		}
	}
	return items
}

// markUnavailable records why kind cannot be judged now, as collect does for a list that failed.
func markUnavailable(ctx context.Context, snap *snapshot.Snapshot, kind snapshot.Kind, err error) {
	reason, absent, ok := collect.UnavailableReason(ctx, kind, err)
	if !ok {
		reason = "no answer from the API server: " + err.Error()
	}
	if absent {
		snap.MarkAbsent(kind, reason)
		return
	}
	snap.MarkUnavailable(kind, reason)
}
