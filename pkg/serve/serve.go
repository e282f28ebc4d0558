// Package serve is what --listen serves during a watch: /metrics for a Prometheus to scrape,
// /healthz and /readyz for the kubelet's probes.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/watch"
)

// The server's own families, served from the start, before any evaluation.
const (
	evaluationsName = "alertmend_watch_evaluations_total"
	evaluationsHelp = "Evaluations of the checks since the watch started."
	lastName        = "alertmend_watch_last_evaluation_timestamp_seconds"
	lastHelp        = "When the state the latest evaluation judged was read, in seconds since the Unix epoch (absent before the first)."
)

// shutdownGrace bounds how long a scrape in flight may finish once the watch ends: a scrape
// takes milliseconds, and the pod's own termination grace period must cover the rest of the exit.
const shutdownGrace = 2 * time.Second

// readHeaderTimeout keeps a client that never finishes its request from holding a connection.
const readHeaderTimeout = 10 * time.Second

// Options are what a Server serves beside the report.
type Options struct {
	// Extra are more families, gathered on every scrape: the Alertmanager sender's, say. They are
	// called from the scrapes' goroutines, several at once if scrapes overlap, and must not
	// change a family once returned. A family whose name the report's or another provider's
	// families already use is left out and reported to ErrorLog.
	Extra []func() []*dto.MetricFamily
	// ErrorLog, when set, is told of families that could not be served, one line each.
	ErrorLog io.Writer
}

// Server serves the latest evaluation of a watch. It is a watch.Observer: Observe replaces what
// /metrics serves, all at once, so a scrape sees one evaluation or the next, never a mix.
type Server struct {
	listener net.Listener
	opts     Options
	latest   atomic.Pointer[published]
	handler  http.Handler
}

// published is one evaluation as /metrics serves it. Nil until the first evaluation.
type published struct {
	families    []*dto.MetricFamily
	evaluations uint64
	at          time.Time
}

// New is a Server for a listener already bound, so that an address that cannot be bound is
// refused before the cluster is read. Serve owns the listener; if Serve is never called, the
// caller closes it.
func New(listener net.Listener, opts Options) *Server {
	s := &Server{listener: listener, opts: opts}
	gatherers := prometheus.Gatherers{prometheus.GathererFunc(s.gather)}
	for _, extra := range opts.Extra {
		gatherers = append(gatherers, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return extra(), nil }))
	}
	handlerOpts := promhttp.HandlerOpts{
		// What is consistent is served; a conflicting family is left out rather than failing the scrape.
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	}
	if opts.ErrorLog != nil {
		handlerOpts.ErrorLog = lineLogger{opts.ErrorLog}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherers, handlerOpts))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { plain(w, http.StatusOK, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.latest.Load() == nil {
			plain(w, http.StatusServiceUnavailable, "not ready: no evaluation yet")
			return
		}
		plain(w, http.StatusOK, "ok")
	})
	s.handler = mux
	return s
}

// Observe publishes an evaluation. The families are made here rather than at each scrape, so that
// nothing keeps the report, which the watch may go on to change.
func (s *Server) Observe(e watch.Evaluation) {
	next := &published{families: render.MetricFamilies(e.Report, e.Options), evaluations: 1, at: e.At}
	// Observe is called from one goroutine, so the count cannot be raced.
	if previous := s.latest.Load(); previous != nil {
		next.evaluations = previous.evaluations + 1
	}
	s.latest.Store(next)
}

// Addr is the address the server listens on (the port the system chose, for ":0").
func (s *Server) Addr() net.Addr {
	return s.listener.Addr()
}

// Handler serves /metrics, /healthz and /readyz; any other path is 404.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Serve serves until ctx ends, then stops accepting, lets scrapes in flight finish for a short
// grace, and returns nil. It returns early only if the listener fails.
func (s *Server) Serve(ctx context.Context) error {
	server := &http.Server{Handler: s.handler, ReadHeaderTimeout: readHeaderTimeout}
	served := make(chan error, 1)
	go func() { served <- server.Serve(s.listener) }()
	select {
	case err := <-served:
		return fmt.Errorf("--listen %s: %w", s.listener.Addr(), err)
	case <-ctx.Done():
	}
	grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := server.Shutdown(grace)
	if errors.Is(err, context.DeadlineExceeded) {
		// A scrape that outlived the grace is cut off: the watch's exit does not wait on a client.
		err = server.Close()
	}
	if served := <-served; !errors.Is(served, http.ErrServerClosed) {
		return fmt.Errorf("--listen %s: %w", s.listener.Addr(), served)
	}
	if err != nil {
		return fmt.Errorf("--listen %s: stopping: %w", s.listener.Addr(), err)
	}
	return nil
}

// gather is the latest evaluation's families and the server's own. The families are shared
// between scrapes and never changed once published.
func (s *Server) gather() ([]*dto.MetricFamily, error) {
	latest := s.latest.Load()
	if latest == nil {
		return []*dto.MetricFamily{counter(evaluationsName, evaluationsHelp, 0)}, nil
	}
	return append([]*dto.MetricFamily{
		counter(evaluationsName, evaluationsHelp, float64(latest.evaluations)),
		gauge(lastName, lastHelp, float64(latest.at.UnixMilli())/1000),
	}, latest.families...), nil
}

func counter(name, help string, value float64) *dto.MetricFamily {
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: dto.MetricType_COUNTER.Enum(),
		Metric: []*dto.Metric{{Counter: &dto.Counter{Value: proto.Float64(value)}}}}
}

func gauge(name, help string, value float64) *dto.MetricFamily {
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(value)}}}}
}

func plain(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, text)
}

// lineLogger is promhttp's error log as one line on a writer.
type lineLogger struct{ w io.Writer }

func (l lineLogger) Println(v ...any) {
	fmt.Fprintln(l.w, append([]any{"--listen /metrics:"}, v...)...)
}
