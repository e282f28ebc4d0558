package snapshot

import (
	"sort"
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
	sort.SliceStable(out, func(i, j int) bool { return eventTime(out[i]).After(eventTime(out[j])) })
	return out
}

// eventTime is the newest moment an event records.
func eventTime(e corev1.Event) (t time.Time) {
	for _, c := range []time.Time{e.LastTimestamp.Time, e.EventTime.Time, e.FirstTimestamp.Time} {
		if c.After(t) {
			t = c
		}
	}
	return t
}
