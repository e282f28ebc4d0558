package snapshot

import (
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// How many Warning events a live run keeps. An object's newest few say what is wrong with it
// now: the kubelet and the controllers fold repeats into one event with a count, so five are
// five distinct complaints (a pod's BackOff, Unhealthy, FailedMount, ...), more than a finding
// shows. The total keeps a cluster with a hundred thousand events within memory and time: ten
// thousand events of about a kilobyte each is ten megabytes, less than the pods of a cluster that
// size; past it, the newest are kept, since an old complaint about an object is the least likely
// to explain what is failing now.
const (
	EventsPerObject = 5
	MaxEvents       = 10000
	// MaxPreemptedEvents bounds the scheduler's Preempted events, one per pod it took away: a
	// thousand is a preemption storm already, and the newest say what is happening now.
	MaxPreemptedEvents = 1000
)

// LastSeen is when an event last happened: the newest of the times its reporter filled in
// (series.lastObservedTime, lastTimestamp, eventTime, firstTimestamp), else when it was stored.
func LastSeen(e *corev1.Event) time.Time {
	var last time.Time
	if e.Series != nil {
		last = e.Series.LastObservedTime.Time
	}
	for _, t := range []time.Time{e.LastTimestamp.Time, e.EventTime.Time, e.FirstTimestamp.Time} {
		if t.After(last) {
			last = t
		}
	}
	if last.IsZero() {
		return e.CreationTimestamp.Time
	}
	return last
}

// FirstSeen is when an event first happened: its firstTimestamp, else its eventTime (the
// events.k8s.io reporters' first occurrence), else when it was stored.
func FirstSeen(e *corev1.Event) time.Time {
	for _, t := range []time.Time{e.FirstTimestamp.Time, e.EventTime.Time} {
		if !t.IsZero() {
			return t
		}
	}
	return e.CreationTimestamp.Time
}

// EventCount is how many times an event happened: its series' count (events.k8s.io reporters),
// else its count (core/v1 reporters), at least once.
func EventCount(e *corev1.Event) int32 {
	if e.Series != nil && e.Series.Count > 0 {
		return e.Series.Count
	}
	return max(e.Count, 1)
}

// newerEvent orders events newest first; ties (same second) by namespace and name, so that
// every order of reading gives the same result.
func newerEvent(a, b *corev1.Event) int {
	if c := LastSeen(b).Compare(LastSeen(a)); c != 0 {
		return c
	}
	return compareQualified(a.Namespace, a.Name, b.Namespace, b.Name)
}

// eventSubject is the object an event is about.
type eventSubject struct{ kind, namespace, name string }

func subjectOf(e *corev1.Event) eventSubject {
	return eventSubject{e.InvolvedObject.Kind, e.InvolvedObject.Namespace, e.InvolvedObject.Name}
}

// BoundEvents keeps, of events, the perObject newest about each object, and of those the total
// newest; it says how many it left out. It reorders events and reuses their array. Bounding in
// steps (each page added to what an earlier call kept) keeps the same events as bounding all at
// once: an event left out by one step has at least as many newer events beside it in the next.
func BoundEvents(events []corev1.Event, perObject, total int) (kept []corev1.Event, dropped int) {
	slices.SortFunc(events, func(a, b corev1.Event) int { return newerEvent(&a, &b) })
	seen := make(map[eventSubject]int, len(events))
	kept = events[:0]
	for i := range events {
		subject := subjectOf(&events[i])
		if seen[subject] >= perObject || len(kept) >= total {
			continue
		}
		seen[subject]++
		kept = append(kept, events[i])
	}
	dropped = len(events) - len(kept)
	clear(events[len(kept):]) // let the strings of the left-out events be freed
	return kept, dropped
}

// SlimEvent drops what no check reads from an event (labels, annotations, owners, managedFields),
// which a live run holds thousands of.
func SlimEvent(e *corev1.Event) {
	e.ObjectMeta = metav1.ObjectMeta{Name: e.Name, Namespace: e.Namespace, UID: e.UID, CreationTimestamp: e.CreationTimestamp}
}

type eventIndexKey struct{}

// WarningEvents are the Warning events about one object, newest first. Callers must not modify
// them: every check sees the same ones.
func (s *Snapshot) WarningEvents(objectKind, namespace, name string) []corev1.Event {
	index := Derived(s, eventIndexKey{}, s.indexWarningEvents)
	return index[eventSubject{objectKind, namespace, name}]
}

func (s *Snapshot) indexWarningEvents() map[eventSubject][]corev1.Event {
	index := map[eventSubject][]corev1.Event{}
	for i := range s.Events {
		e := &s.Events[i]
		if e.Type == corev1.EventTypeWarning {
			index[subjectOf(e)] = append(index[subjectOf(e)], *e)
		}
	}
	for _, events := range index {
		slices.SortFunc(events, func(a, b corev1.Event) int { return newerEvent(&a, &b) })
	}
	return index
}

// EventsLeftOutNote says that the run kept only some of the cluster's Warning events; "" when
// it kept them all.
func (s *Snapshot) EventsLeftOutNote() string {
	if s.EventsLeftOut == 0 {
		return ""
	}
	return fmt.Sprintf("events: only the newest %d Warning events of each object, %d in all, were read; %d older ones were left out",
		EventsPerObject, MaxEvents, s.EventsLeftOut)
}

type preemptedIndexKey struct{}

// PreemptedPods are the scheduler's Preempted events in namespace, newest first: each is about a
// pod taken away for a pod of higher priority, which is gone by now, so its owner is told by its
// name alone.
func (s *Snapshot) PreemptedPods(namespace string) []corev1.Event {
	index := Derived(s, preemptedIndexKey{}, func() map[string][]corev1.Event {
		index := map[string][]corev1.Event{}
		for i := range s.Events {
			if e := &s.Events[i]; e.Reason == "Preempted" && e.InvolvedObject.Kind == "Pod" {
				index[e.InvolvedObject.Namespace] = append(index[e.InvolvedObject.Namespace], *e)
			}
		}
		for _, events := range index {
			slices.SortFunc(events, func(a, b corev1.Event) int { return newerEvent(&a, &b) })
		}
		return index
	})
	return index[namespace]
}
