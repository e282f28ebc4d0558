package check

import (
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// Ages are shown the way kubectl shows them (45s, 13m, 2h30m, 3d), relative to when the snapshot
// was read, never to the clock: a recorded snapshot read tomorrow tells the same story.

// Age is how long before now t was, in kubectl's form. A t after now (clocks differ between the
// nodes and the machine that read them) is 0s.
func Age(t, now time.Time) string {
	return duration.HumanDuration(max(now.Sub(t), 0))
}

// Ago reads "13m ago", or "at 2026-11-24T09:47:00Z" when the time of reading is unknown.
func Ago(t, now time.Time) string {
	if now.IsZero() {
		return "at " + t.UTC().Format(time.RFC3339)
	}
	return Age(t, now) + " ago"
}

// For reads "for 2h", or "since 2026-11-24T08:00:00Z" when the time of reading is unknown.
func For(t, now time.Time) string {
	if now.IsZero() {
		return "since " + t.UTC().Format(time.RFC3339)
	}
	return "for " + Age(t, now)
}

// Earliest is the earliest of times that are set, for Finding.Since; nil when none is.
func Earliest(times ...time.Time) *time.Time {
	var first time.Time
	for _, t := range times {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	if first.IsZero() {
		return nil
	}
	first = first.UTC()
	return &first
}
