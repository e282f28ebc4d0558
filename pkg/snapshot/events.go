package snapshot

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// WarningEvents are the Warning events about one object, newest first.
func (s *Snapshot) WarningEvents(objectKind, namespace, name string) []corev1.Event {
	var out []corev1.Event
	for _, e := range s.Events {
		o := e.InvolvedObject
		if e.Type == corev1.EventTypeWarning && o.Kind == objectKind && o.Namespace == namespace && o.Name == name {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b corev1.Event) int { return eventTime(b).Compare(eventTime(a)) })
	return out
}

// eventTime is when an event last happened, as far as it records it.
func eventTime(e corev1.Event) time.Time {
	return latest(e.LastTimestamp.Time, e.EventTime.Time, e.FirstTimestamp.Time)
}

func latest(times ...time.Time) time.Time {
	var t time.Time
	for _, c := range times {
		if c.After(t) {
			t = c
		}
	}
	return t
}
