package cmd

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// progressDelay is how long a run may take before it shows progress: quick runs stay silent.
const progressDelay = time.Second

// progress draws one status line on stderr while the cluster is read, only on a terminal and
// only once the read has taken longer than progressDelay.
type progress struct {
	w    io.Writer
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	done     int
	total    int
	last     snapshot.Kind
	objects  int
	largest  snapshot.Kind
	received map[snapshot.Kind]int
}

func startProgress(w io.Writer, terminal bool, total int) *progress {
	p := &progress{w: w, stop: make(chan struct{}), total: total, received: map[snapshot.Kind]int{}}
	if !terminal {
		return p
	}
	p.wg.Add(1)
	go p.draw()
	return p
}

func (p *progress) draw() {
	defer p.wg.Done()
	select {
	case <-p.stop:
		return
	case <-time.After(progressDelay):
	}
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	ticker := time.NewTicker(120 * time.Millisecond)
	defer ticker.Stop()
	for frame := 0; ; frame++ {
		p.mu.Lock()
		line := fmt.Sprintf("%s reading cluster state: %d of %d kinds", frames[frame%len(frames)], p.done, p.total)
		if p.objects > 0 {
			line += fmt.Sprintf(", %d objects (%s: %d)", p.objects, p.largest, p.received[p.largest])
		}
		if p.last != "" {
			line += fmt.Sprintf(" (last: %s)", p.last)
		}
		p.mu.Unlock()
		fmt.Fprint(p.w, "\r\033[K"+line)
		select {
		case <-p.stop:
			fmt.Fprint(p.w, "\r\033[K")
			return
		case <-ticker.C:
		}
	}
}

// update is the collector's callback; it may be called from many goroutines.
func (p *progress) update(done, total int, kind snapshot.Kind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total, p.last = done, total, kind
}

// receive is the collector's per-page callback: objects counted as they arrive, the kind with
// the most shown beside the total.
func (p *progress) receive(kind snapshot.Kind, objects int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.objects += objects
	p.received[kind] += objects
	if p.received[kind] > p.received[p.largest] {
		p.largest = kind
	}
}

// finish stops drawing and clears the line.
func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
}
