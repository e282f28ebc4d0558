package snapshot

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// An event first happened at its firstTimestamp (core/v1 reporters), else its eventTime
// (events.k8s.io reporters), else when it was stored; never at a later repeat.
func TestFirstSeen(t *testing.T) {
	at := func(minute int) time.Time { return time.Date(2026, 11, 24, 9, minute, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name  string
		event corev1.Event
		want  time.Time
	}{
		{"core/v1", corev1.Event{FirstTimestamp: metav1.NewTime(at(1)), LastTimestamp: metav1.NewTime(at(9)), Count: 5}, at(1)},
		{"events.k8s.io with a series", corev1.Event{EventTime: metav1.NewMicroTime(at(2)),
			Series: &corev1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(at(8))}}, at(2)},
		{"no time but when it was stored", corev1.Event{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(at(3))}}, at(3)},
	} {
		if got := FirstSeen(&tc.event); !got.Equal(tc.want) {
			t.Errorf("%s: FirstSeen = %s, want %s", tc.name, got, tc.want)
		}
	}
}
