package cmd

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// syncBuffer lets the drawing goroutine and the test share a buffer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestProgressAppearsOnlyOnSlowRunsOnATerminal(t *testing.T) {
	quick := &syncBuffer{}
	p := startProgress(quick, true, 3)
	p.update(3, 3, snapshot.KindPods)
	p.finish()
	if quick.String() != "" {
		t.Errorf("a run under a second drew progress: %q", quick.String())
	}

	slow := &syncBuffer{}
	p = startProgress(slow, true, 3)
	p.update(1, 3, snapshot.KindNodes)
	p.receive(snapshot.KindPods, 500)
	p.receive(snapshot.KindNodes, 100)
	p.receive(snapshot.KindPods, 500)
	// Wait for the first frame rather than a fixed time, so a loaded machine cannot flake this.
	for deadline := time.Now().Add(10 * time.Second); slow.String() == "" && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	p.finish()
	out := slow.String()
	if !strings.Contains(out, "reading cluster state: 1 of 3 kinds, 1100 objects") {
		t.Errorf("no progress line after a second: %q", out)
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("the progress line is not cleared at the end: %q", out)
	}

	piped := &syncBuffer{}
	p = startProgress(piped, false, 3)
	time.Sleep(progressDelay + 200*time.Millisecond)
	p.finish()
	if piped.String() != "" {
		t.Errorf("progress drawn on a non-terminal: %q", piped.String())
	}
}
