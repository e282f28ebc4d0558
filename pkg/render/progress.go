package render

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// ProgressDelay is how long a run may take before it shows progress: quick runs stay silent.
const ProgressDelay = time.Second

// Progress draws one status line on stderr while the cluster is read, only on a terminal and
// only once the read has taken longer than ProgressDelay.
type Progress struct {
	w    io.Writer
	stop chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	done    int
	total   int
	objects int
}

// StartProgress starts the status line of a read of total kinds on w.
func StartProgress(w io.Writer, terminal bool, total int) *Progress {
	p := &Progress{w: w, stop: make(chan struct{}), total: total}
	if !terminal {
		return p
	}
	p.wg.Add(1)
	go p.draw()
	return p
}

func (p *Progress) draw() {
	defer p.wg.Done()
	select {
	case <-p.stop:
		return
	case <-time.After(ProgressDelay):
	}
	ticker := time.NewTicker(120 * time.Millisecond)
	defer ticker.Stop()
	for frame := 0; ; frame++ {
		p.mu.Lock()
		// Short enough for an 80-column terminal, where a wrapped line could not be redrawn.
		line := fmt.Sprintf("%s reading cluster state: %d of %d kinds, %s", SpinnerFrame(frame), p.done, p.total, check.Plural(p.objects, "object", "objects"))
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

// SpinnerFrame is a status line's spinner at the given frame.
func SpinnerFrame(frame int) string {
	frames := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
	return string(frames[frame%len(frames)])
}

// Update is the collector's callback; it may be called from many goroutines.
func (p *Progress) Update(done, total int, kind snapshot.Kind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
}

// Receive is the collector's per-page callback: objects counted as they arrive.
func (p *Progress) Receive(_ snapshot.Kind, objects int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.objects += objects
}

// Finish stops drawing and clears the line.
func (p *Progress) Finish() {
	close(p.stop)
	p.wg.Wait()
}
