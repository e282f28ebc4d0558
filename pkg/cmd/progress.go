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

	mu      sync.Mutex
	done    int
	total   int
	objects int
}

func startProgress(w io.Writer, terminal bool, total int) *progress {
	p := &progress{w: w, stop: make(chan struct{}), total: total}
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
	ticker := time.NewTicker(120 * time.Millisecond)
	defer ticker.Stop()
	for frame := 0; ; frame++ {
		p.mu.Lock()
		// Short enough for an 80-column terminal, where a wrapped line could not be redrawn.
		line := fmt.Sprintf("%s reading cluster state: %d of %d kinds, %d objects", spinnerFrame(frame), p.done, p.total, p.objects)
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

// spinnerFrame is the status line's spinner at the given frame.
func spinnerFrame(frame int) string {
	frames := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
	return string(frames[frame%len(frames)])
}

// update is the collector's callback; it may be called from many goroutines.
func (p *progress) update(done, total int, kind snapshot.Kind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
}

// receive is the collector's per-page callback: objects counted as they arrive.
func (p *progress) receive(_ snapshot.Kind, objects int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.objects += objects
}

// finish stops drawing and clears the line.
func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
}
