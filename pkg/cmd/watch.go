package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/alertmend/kubectl-alertmend/pkg/collect"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/serve"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	"github.com/alertmend/kubectl-alertmend/pkg/watch"
)

// The defaults of --interval and --debounce.
const (
	defaultWatchInterval = 30 * time.Second
	defaultWatchDebounce = 2 * time.Second
)

// watchFlags are diagnose's --watch and how it watches.
type watchFlags struct {
	Watch    bool
	Interval time.Duration
	Debounce time.Duration
}

func (w *watchFlags) add(f *pflag.FlagSet) {
	f.BoolVar(&w.Watch, "watch", false, "Keep watching the cluster (list, then watch: still read-only) and print what changes: "+
		"+ NEW, ~ CHANGED, - RESOLVED, one line each, after the first full report; -o json is a stream of one event per line. "+
		"Ctrl-C ends it (exit 0)")
	f.DurationVar(&w.Interval, "interval", defaultWatchInterval, "With --watch: read again what cannot be watched (the server's version and "+
		"certificate, anonymous access, metrics, DNS, conntrack, volume usage, Gateway and cert-manager objects) this often")
	f.DurationVar(&w.Debounce, "debounce", defaultWatchDebounce, "With --watch: wait this long after a change for those that come with it; "+
		"the checks run at most once in it")
}

// streamFormats are the -o formats a watch writes: a report once then lines, or a JSON stream.
// The others are documents written once (SARIF, JUnit, Markdown, YAML, Prometheus' exposition).
var streamFormats = []render.Format{render.Pretty, render.Table, render.Wide, render.JSON}

// validate refuses what a watch cannot do, from the flags alone: before the cluster is read.
func (w *watchFlags) validate(changed func(string) bool, o *reportFlags) error {
	if !w.Watch {
		for _, name := range []string{"interval", "debounce"} {
			if changed(name) {
				return failed("--%s is how --watch watches: add --watch", name)
			}
		}
		return nil
	}
	switch {
	case w.Interval <= 0:
		return failed("invalid --interval %s: must be more than 0", w.Interval)
	case w.Debounce <= 0:
		return failed("invalid --debounce %s: must be more than 0", w.Debounce)
	case len(o.Filenames) > 0:
		return failed("--watch watches a live cluster: manifests (-f) do not change while watched; leave out one of them")
	case o.SnapshotFile != "":
		return failed("--watch watches a live cluster: a --snapshot does not change while watched; leave out one of them")
	case o.ExplainPermissions:
		return failed("--explain-permissions reads nothing, so there is nothing to watch: leave out --watch")
	case len(o.Contexts) > 0 || changed("all-contexts"):
		return failed("--watch watches one cluster: leave out --contexts and --all-contexts, and run one watch per context")
	case o.PushGateway != "":
		return failed("--push-gateway pushes the report of one run: leave it out of --watch (a watch's metrics are served, not pushed)")
	case o.WriteBaseline != "":
		return failed("--write-baseline records the findings of one run: run it without --watch")
	}
	if o.Output != "" && !slices.Contains(streamFormats, render.Format(strings.ToLower(o.Output))) && render.DocumentReport.Supports(render.Format(strings.ToLower(o.Output))) {
		var names []string
		for _, f := range streamFormats {
			names = append(names, string(f))
		}
		return failed("--watch writes as things change: -o %s is a document written once; use -o %s (json: one event per line)",
			o.Output, strings.Join(names, ", "))
	}
	return nil
}

// watchSettings are a validated --watch.
type watchSettings struct {
	interval, debounce time.Duration
}

func (w *watchFlags) settings() *watchSettings {
	if !w.Watch {
		return nil
	}
	return &watchSettings{interval: w.Interval, debounce: w.Debounce}
}

// runWatch connects to the cluster and keeps the report current until ctx ends: the first
// evaluation writes the report as a run would, the next ones what changed.
func (r *reportRun) runWatch(ctx context.Context, plan engine.Plan) error {
	observers, stop := r.startObservers(ctx)
	defer stop()
	returnMemory := r.tuneGCForWatch()
	clients, config, err := r.source.Connect(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // Ctrl-C or SIGTERM before the cluster answered: the watch ends as asked
		}
		return failed("%v", err)
	}
	started := r.env.Now()
	opts := r.renderOptions(plan, 0)
	notes := r.source.Notes
	var lineWidth int // on a terminal a change is one line; piped, lines are whole
	if r.env.IsTerminal(r.streams.Out) {
		lineWidth = r.width
	}
	first := func(rep *report.Report) error {
		opts := r.renderOptions(plan, r.env.Now().Sub(started))
		return render.Write(r.streams.Out, rep, r.format, opts)
	}
	if r.format == render.JSON {
		first = nil // the stream starts with the findings as new
	}
	err = watch.Run(ctx, watch.Config{
		Clients:   clients,
		Kinds:     r.kinds(plan),
		Namespace: r.source.Namespace,
		Context:   r.target.ContextName(),
		Server:    config.Host,
		Probes: collect.Options{ChunkSize: r.source.ChunkSize, PrometheusURL: r.source.PrometheusURL,
			ConntrackResample: collect.DefaultConntrackResample},
		ProbeTimeout: r.source.Timeout,
		Interval:     r.watch.interval,
		Debounce:     r.watch.debounce,
		Evaluate: func(snap *snapshot.Snapshot, first bool) (*report.Report, error) {
			src := r.source
			if !first {
				src.Notes = io.Discard // the notes of the first report hold for the next ones
			}
			return r.judge(ctx, plan, src, snap)
		},
		Shown:     r.shown,
		First:     first,
		Output:    watch.Output{W: r.streams.Out, JSON: r.format == render.JSON, Color: r.color, Location: time.Local, Width: lineWidth},
		Options:   opts,
		Observers: observers,
		Evaluated: returnMemory,
		Notes:     notes,
		Now:       r.env.Now,
	})
	var exit *ExitError
	switch {
	case err == nil || ctx.Err() != nil:
		return nil
	case errors.As(err, &exit):
		return err // the first evaluation's own refusal (--object not found)
	}
	return failed("%v", err)
}

// watchGCPercent is the collector's pace during a watch. A run's (see cmd/kubectl-alertmend's
// gc.go) lets the heap grow to several times what is live because the process ends soon; a
// watch holds the cluster's objects for hours, and each evaluation's garbage would otherwise
// stay in its resident set up to the soft limit.
const watchGCPercent = 50

// tuneGCForWatch sets the collector's pace for a long-lived process, unless GOGC says otherwise,
// and returns what gives the memory of an evaluation back to the system once it is garbage: a
// re-evaluation makes as much garbage as the state it judges, and the runtime would return it
// only minutes later.
func (r *reportRun) tuneGCForWatch() func() {
	if r.env.Getenv("GOGC") != "" {
		return nil
	}
	debug.SetGCPercent(watchGCPercent)
	return debug.FreeOSMemory
}

// startObservers starts what a watch tells its evaluations to besides its output: the
// --listen server (healthy from now, ready after the first evaluation) and the Alertmanager
// sender. stop ends them and waits until the server has let go of its address.
func (r *reportRun) startObservers(ctx context.Context) ([]watch.Observer, func()) {
	ctx, cancel := context.WithCancel(ctx)
	var observers []watch.Observer
	var wg sync.WaitGroup
	if r.alerts != nil {
		observers = append(observers, r.alerts)
		wg.Go(func() { r.alerts.Run(ctx) })
	}
	if r.listener != nil {
		var opts serve.Options
		if r.alerts != nil {
			opts.Extra = append(opts.Extra, r.alerts.MetricFamilies)
		}
		opts.ErrorLog = r.streams.ErrOut
		server := serve.New(r.listener, opts)
		observers = append(observers, server)
		wg.Go(func() {
			if err := server.Serve(ctx); err != nil {
				fmt.Fprintf(r.streams.ErrOut, "warning: --listen %s: %v\n", r.listener.Addr(), err)
			}
		})
	}
	return observers, func() {
		cancel()
		wg.Wait()
	}
}

// watchHelp is what diagnose's help says of --watch.
const watchHelp = `With --watch it keeps watching the cluster (list, then watch: read-only) and
runs the checks again on every change (--debounce apart at most); what cannot
be watched is read again every --interval. After the first report it prints
one line per change, with the local time (a change says what changed, e.g.
"severity high -> critical"):

09:41:07 + NEW      high      deployment-unavailable  shop/deployment/cart: ...
09:42:30 ~ CHANGED  critical  deployment-unavailable  shop/deployment/cart: ...
09:45:02 - RESOLVED critical  deployment-unavailable  shop/deployment/cart: ...

With -o json it writes one FindingEvent per line instead (the first
evaluation's findings as "new"). A kind that becomes unreadable makes its
checks not evaluated, never resolved. Ctrl-C or SIGTERM ends it with exit 0.
`
