package render

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
	p := StartProgress(quick, true, 3)
	p.Update(3, 3, snapshot.KindPods)
	p.Finish()
	if quick.String() != "" {
		t.Errorf("a run under a second drew progress: %q", quick.String())
	}

	slow := &syncBuffer{}
	p = StartProgress(slow, true, 3)
	p.Update(1, 3, snapshot.KindNodes)
	p.Receive(snapshot.KindPods, 500)
	p.Receive(snapshot.KindNodes, 100)
	p.Receive(snapshot.KindPods, 500)
	// Wait for the first frame rather than a fixed time, so a loaded machine cannot flake this.
	for deadline := time.Now().Add(10 * time.Second); slow.String() == "" && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	p.Finish()
	out := slow.String()
	if !strings.Contains(out, "reading cluster state: 1 of 3 kinds, 1100 objects") {
		t.Errorf("no progress line after a second: %q", out)
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("the progress line is not cleared at the end: %q", out)
	}

	piped := &syncBuffer{}
	p = StartProgress(piped, false, 3)
	time.Sleep(ProgressDelay + 200*time.Millisecond)
	p.Finish()
	if piped.String() != "" {
		t.Errorf("progress drawn on a non-terminal: %q", piped.String())
	}
}
