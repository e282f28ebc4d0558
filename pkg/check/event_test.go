package check

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEventLine(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	probe := corev1.Event{Reason: "Unhealthy", Count: 41, LastTimestamp: metav1.NewTime(now.Add(-3 * time.Minute)),
		Message: "Readiness probe failed: Get \"http://10.0.0.7:8080/ready\":\n  context deadline exceeded\n"}
	if got, want := EventLine(&probe, now), `Unhealthy, last: 3m ago, x41: Readiness probe failed: Get "http://10.0.0.7:8080/ready": context deadline exceeded`; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	once := corev1.Event{Reason: "Evicted", LastTimestamp: metav1.NewTime(now.Add(-5 * time.Hour)), Message: "The node was low on resource: memory."}
	if got, want := EventLine(&once, now), "Evicted, last: 5h ago: The node was low on resource: memory."; got != want {
		t.Errorf("an event seen once: %q, want %q", got, want)
	}
	// Without the time of reading, the time itself.
	if got := EventLine(&once, time.Time{}); !strings.HasPrefix(got, "Evicted, last: at 2026-11-24T05:00:00Z") {
		t.Errorf("no time of reading: %q", got)
	}
	long := corev1.Event{Reason: "FailedCreatePodSandBox", LastTimestamp: metav1.NewTime(now), Message: strings.Repeat("plugin error ", 100)}
	got := EventLine(&long, now)
	if n := len([]rune(got)); n > len("FailedCreatePodSandBox, last: 0s ago: ")+maxEventMessage || !strings.HasSuffix(got, "...") {
		t.Errorf("a long message is not cut to one short line (%d): %q", n, got)
	}
}

func TestOneLine(t *testing.T) {
	for _, tc := range []struct {
		text  string
		limit int
		want  string
	}{
		{"a\n\tb  c", 10, "a b c"},
		{"exactly ten", 11, "exactly ten"},
		{"one two three four", 10, "one two..."},
		{"ünïcödé text", 6, "ünï..."},
	} {
		if got := OneLine(tc.text, tc.limit); got != tc.want {
			t.Errorf("OneLine(%q, %d) = %q, want %q", tc.text, tc.limit, got, tc.want)
		}
	}
}
