package render

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// FleetStderr is stderr shared by the clusters of a fleet run: whole lines, each prefixed with
// its cluster's context, and on a terminal one status line below them once the run has taken
// longer than ProgressDelay.
type FleetStderr struct {
	w        io.Writer
	terminal bool

	mu       sync.Mutex
	total    int
	running  int
	done     int
	drawn    bool
	stop     chan struct{}
	drawDone chan struct{}
}

func (s *FleetStderr) StartStatus(total int) {
	s.total = total
	if !s.terminal {
		return
	}
	s.stop, s.drawDone = make(chan struct{}), make(chan struct{})
	go s.draw()
}

func (s *FleetStderr) draw() {
	defer close(s.drawDone)
	select {
	case <-s.stop:
		return
	case <-time.After(ProgressDelay):
	}
	ticker := time.NewTicker(120 * time.Millisecond)
	defer ticker.Stop()
	for frame := 0; ; frame++ {
		s.mu.Lock()
		fmt.Fprintf(s.w, "\r\033[K%s %d of %d clusters done, %d running", SpinnerFrame(frame), s.done, s.total, s.running)
		s.drawn = true
		s.mu.Unlock()
		select {
		case <-s.stop:
			s.mu.Lock()
			fmt.Fprint(s.w, "\r\033[K")
			s.drawn = false
			s.mu.Unlock()
			return
		case <-ticker.C:
		}
	}
}

func (s *FleetStderr) StopStatus() {
	if s.stop == nil {
		return
	}
	close(s.stop)
	<-s.drawDone
}

func (s *FleetStderr) Started() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running++
}

func (s *FleetStderr) Finished() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	s.done++
}

// writeLine writes one whole line, clearing the status line first; the next frame redraws it.
func (s *FleetStderr) writeLine(line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drawn {
		io.WriteString(s.w, "\r\033[K")
	}
	s.w.Write(line)
}

func (s *FleetStderr) Prefixed(prefix string) *PrefixedWriter {
	return &PrefixedWriter{to: s, prefix: prefix}
}

// PrefixedWriter is one cluster's stderr: it hands complete lines, prefixed, to FleetStderr, so
// the lines of clusters running at once never interleave mid-line.
type PrefixedWriter struct {
	to      *FleetStderr
	prefix  string
	mu      sync.Mutex
	pending []byte
}

func (p *PrefixedWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = append(p.pending, b...)
	start := 0
	for {
		end := bytes.IndexByte(p.pending[start:], '\n')
		if end < 0 {
			p.pending = append(p.pending[:0], p.pending[start:]...)
			return len(b), nil
		}
		p.to.writeLine(append([]byte(p.prefix), p.pending[start:start+end+1]...))
		start += end + 1
	}
}

// Flush writes what is left of an unterminated last line.
func (p *PrefixedWriter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) > 0 {
		p.to.writeLine([]byte(p.prefix + string(p.pending) + "\n"))
		p.pending = nil
	}
}

// NewFleetStderr shares w among a fleet's clusters; terminal says whether to draw the status line.
func NewFleetStderr(w io.Writer, terminal bool) *FleetStderr {
	return &FleetStderr{w: w, terminal: terminal}
}
