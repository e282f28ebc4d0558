package render

import (
	"bytes"
	"strings"
	"testing"
)

// A note on what the run read only in part is shown under the heading, and only when there is one.
func TestPrettyShowsTheRunsNotes(t *testing.T) {
	r := sampleReport()
	var without bytes.Buffer
	if err := Write(&without, r, Pretty, Options{}); err != nil {
		t.Fatal(err)
	}
	note := "events: only the newest 5 Warning events of each object, 10000 in all, were read; 42 older ones were left out"
	r.Metadata.Notes = []string{note}
	var with bytes.Buffer
	if err := Write(&with, r, Pretty, Options{Width: 200}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(with.String(), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[1]) != "○ "+note {
		t.Errorf("the note is not the line under the heading:\n%s", with.String())
	}
	if strings.Contains(without.String(), "○ events") {
		t.Errorf("a note without one:\n%s", without.String())
	}
}
