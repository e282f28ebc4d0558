package render

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPrefixedStderrKeepsLinesWhole(t *testing.T) {
	var out bytes.Buffer
	stderr := NewFleetStderr(&out, false)
	a, b := stderr.Prefixed("[a] "), stderr.Prefixed("[b] ")
	a.Write([]byte("note: one"))
	b.Write([]byte("warning: two\nwarning: thr"))
	a.Write([]byte(" half\nnote: four\n"))
	b.Write([]byte("ee\n"))
	b.Write([]byte("unterminated"))
	a.Flush()
	b.Flush()
	want := "[b] warning: two\n[a] note: one half\n[a] note: four\n[b] warning: three\n[b] unterminated\n"
	if out.String() != want {
		t.Errorf("stderr:\n%q\nwant\n%q", out.String(), want)
	}
}

func TestFleetStatusLineOnlyOnATerminal(t *testing.T) {
	var plain bytes.Buffer
	quiet := NewFleetStderr(&plain, false)
	quiet.StartStatus(2)
	time.Sleep(ProgressDelay + 300*time.Millisecond)
	quiet.Prefixed("[a] ").Write([]byte("note\n"))
	quiet.StopStatus()
	if plain.String() != "[a] note\n" {
		t.Errorf("not a terminal, yet stderr is %q", plain.String())
	}

	var term bytes.Buffer
	status := NewFleetStderr(&term, true)
	status.StartStatus(2)
	status.Started()
	time.Sleep(ProgressDelay + 300*time.Millisecond)
	status.Prefixed("[a] ").Write([]byte("note\n"))
	status.Finished()
	status.StopStatus()
	got := term.String()
	// The status line is drawn, cleared before a cluster's line, and cleared at the end.
	if !strings.Contains(got, "0 of 2 clusters done, 1 running") || !strings.Contains(got, "\r\033[K[a] note\n") || !strings.HasSuffix(got, "\r\033[K") {
		t.Errorf("terminal stderr %q", got)
	}
}
