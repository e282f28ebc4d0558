package check

import (
	"testing"
	"time"
)

func TestAgesReadAsKubectlShowsThem(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{45 * time.Second, "45s"},
		{13 * time.Minute, "13m"},
		{2*time.Hour + 30*time.Minute, "150m"},
		{5*time.Hour + 30*time.Minute, "5h30m"},
		{3 * 24 * time.Hour, "3d"},
		// A time after the reading (skewed clocks) is no age at all, never "<invalid>".
		{-time.Hour, "0s"},
	} {
		if got := Age(now.Add(-tc.ago), now); got != tc.want {
			t.Errorf("Age(%v ago) = %s, want %s", tc.ago, got, tc.want)
		}
	}
	then := now.Add(-13 * time.Minute)
	if got := Ago(then, now); got != "13m ago" {
		t.Errorf("Ago = %q", got)
	}
	if got := For(then, now); got != "for 13m" {
		t.Errorf("For = %q", got)
	}
	// Without the time of reading there is no age: the time itself is given.
	if got := Ago(then, time.Time{}); got != "at 2026-11-24T09:47:00Z" {
		t.Errorf("Ago without now = %q", got)
	}
	if got := For(then, time.Time{}); got != "since 2026-11-24T09:47:00Z" {
		t.Errorf("For without now = %q", got)
	}
}

func TestEarliestSkipsUnsetTimes(t *testing.T) {
	a := time.Date(2026, 11, 24, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	b := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	if got := Earliest(time.Time{}, b, a, time.Time{}); got == nil || !got.Equal(a) || got.Location() != time.UTC {
		t.Errorf("Earliest = %v, want %v in UTC", got, a)
	}
	if got := Earliest(time.Time{}); got != nil {
		t.Errorf("Earliest of nothing set = %v, want nil", got)
	}
}
