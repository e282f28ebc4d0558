package main

import (
	"strings"
	"testing"
	"time"
)

// The scenario's times move with the clock, keeping their distances: a crash 4 minutes before
// the scenario's moment is 4 minutes before now.
func TestShiftTimesKeepsTheScenarioRecent(t *testing.T) {
	now := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	in := "finishedAt: 2026-11-24T09:56:00Z\nstartedAt: \"2026-11-20T08:00:00Z\"\nimage: app:2026-11-24T09\n"
	got := string(shiftTimes([]byte(in), now))
	want := "finishedAt: 2026-12-07T17:56:00Z\nstartedAt: \"2026-12-03T16:00:00Z\"\nimage: app:2026-11-24T09\n"
	if got != want {
		t.Errorf("shifted:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(string(shiftTimes(scenario, now)), "2026-12-07T") {
		t.Error("the embedded scenario has no timestamp near now after the shift")
	}
}
