package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/alertmend/kubectl-alertmend/pkg/collect"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Config is a watch of one cluster.
type Config struct {
	Clients collect.Clients
	// Kinds are what the selected checks read.
	Kinds []snapshot.Kind
	// Namespace is -n: namespaced kinds are watched in it alone.
	Namespace string
	// Context and Server name the cluster in the snapshots.
	Context, Server string
	// Probes is how the kinds that are not watched (probes, the metrics API) are read on every
	// Interval; its Namespace is set from Namespace.
	Probes collect.Options
	// ProbeTimeout (--timeout) bounds one read of the probes, and the wait for every kind's first
	// answer before the first evaluation; 0: Interval for a read, no bound for the wait.
	ProbeTimeout time.Duration
	// Interval is how often the probes are read again; Debounce how long a change waits for
	// the changes that come with it, so that an evaluation happens at most once in it.
	Interval, Debounce time.Duration

	// Evaluate judges a snapshot as the run would (checks, policy, scope); first is true for
	// the first evaluation, whose notes are written.
	Evaluate func(snap *snapshot.Snapshot, first bool) (*report.Report, error)
	// Shown is what of a report is listed (--min-severity, --incidents); nil: all of it.
	Shown func(*report.Report) *report.Report
	// First writes the first evaluation's whole report; nil writes its findings as New events.
	First func(*report.Report) error
	// Output writes the events.
	Output Output
	// Options are the reports' render options, passed on to the observers.
	Options render.Options
	// Observers are told of every evaluation, after it is written.
	Observers []Observer
	// Evaluated, when set, is called after each evaluation, once its snapshot is garbage: where
	// the command returns the memory it took to the system.
	Evaluated func()
	// Notes receives the outages and their ends.
	Notes io.Writer
	Now   func() time.Time
}

// Run watches until ctx ends, and then returns nil; an error means the watch could not start,
// or could not write.
func Run(ctx context.Context, c Config) error {
	// The informers and the probe reads end with the watch, whichever way it ends.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &watcher{Config: c, changed: make(chan struct{}, 1)}
	watched, probes, err := w.plan(ctx)
	if err != nil {
		return err
	}
	w.sources = watched
	w.probeKinds = probes
	for _, s := range w.sources {
		go s.informer.RunWithContext(ctx)
	}
	probesRead := make(chan struct{})
	go w.readProbes(ctx, probesRead)

	// The first evaluation waits for every kind's first answer, objects or refusal, as long as
	// a run would wait (ProbeTimeout, --timeout); a kind still unanswered is not evaluated then.
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	var deadline <-chan time.Time
	if w.ProbeTimeout > 0 {
		deadline = time.After(w.ProbeTimeout)
	}
wait:
	for !w.settled(probesRead) {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline:
			break wait
		case <-ticker.C:
		}
	}
	ticker.Stop()
	if err := w.evaluate(ctx, true); err != nil || ctx.Err() != nil {
		return err
	}
	w.evaluated()
	w.note("watching %s: what changes is written as it changes (Ctrl-C ends the watch)", w.Context)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.changed:
		}
		// Let the changes that come together (a rollout's pods, a restart's relists) arrive.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(w.Debounce):
		}
		select {
		case <-w.changed: // what came meanwhile is in this evaluation
		default:
		}
		if err := w.evaluate(ctx, false); err != nil {
			return err
		}
		w.evaluated()
	}
}

// held names the checks that ran without a kind they read (optional ones included) which was
// read before and is not now (a broken watch, a revoked permission): what they find then may
// name other objects, so their findings are neither new nor resolved until it is read again.
// A kind never read, or absent from the cluster, holds nothing: the checks judge without it.
func (w *watcher) held(snap *snapshot.Snapshot) map[string]bool {
	if w.everRead == nil {
		w.everRead = map[snapshot.Kind]bool{}
	}
	lost := map[snapshot.Kind]bool{}
	for _, k := range w.Kinds {
		_, unavailable := snap.Unavailable[k]
		switch {
		case !unavailable:
			w.everRead[k] = true
		case w.everRead[k] && !snap.Absent[k]:
			lost[k] = true
		}
	}
	held := map[string]bool{}
	if len(lost) == 0 {
		return held
	}
	for _, m := range w.Options.Catalog {
		if slices.ContainsFunc(slices.Concat(m.Requires, m.Optional), func(k snapshot.Kind) bool { return lost[k] }) {
			held[m.ID] = true
		}
	}
	return held
}

func (w *watcher) evaluated() {
	if w.Evaluated != nil {
		w.Evaluated()
	}
}

type watcher struct {
	Config
	sources    []*source
	probeKinds []snapshot.Kind
	// changed holds one signal when something changed since the last evaluation.
	changed chan struct{}
	differ  Differ

	notesMu sync.Mutex
	// interrupted counts the sources in an outage.
	outageMu    sync.Mutex
	interrupted int
	probeMu     sync.Mutex
	// probed is the latest read of the probe kinds; nil until the first one ends.
	probed *snapshot.Snapshot
	// everRead are the kinds some evaluation could read (see held).
	everRead map[snapshot.Kind]bool
}

func (w *watcher) notify() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *watcher) note(format string, args ...any) {
	w.notesMu.Lock()
	defer w.notesMu.Unlock()
	fmt.Fprintf(w.Notes, format+"\n", args...)
}

// plan makes the sources of the kinds collect lists through their table entry, as it lists
// them; the rest it leaves to the probe reads.
func (w *watcher) plan(ctx context.Context) ([]*source, []snapshot.Kind, error) {
	var sources []*source
	var probes []snapshot.Kind
	ns := w.Namespace
	for _, kind := range slices.Compact(slices.Sorted(slices.Values(w.Kinds))) {
		type read struct {
			namespace, selector string
			perObject, total    int
		}
		reads := []read{{namespace: ns}}
		switch kind {
		case snapshot.KindNamespaces:
			if ns != "" {
				// One namespace is a get, which a user scoped to it may do; list and watch it may not.
				probes = append(probes, kind)
				continue
			}
		case snapshot.KindEvents:
			reads = []read{{selector: collect.NodeEvents},
				{namespace: ns, selector: collect.WarningEvents, perObject: snapshot.EventsPerObject, total: snapshot.MaxEvents},
				{namespace: ns, selector: collect.PreemptedEvents, perObject: 1, total: snapshot.MaxPreemptedEvents}}
		case snapshot.KindConfigMaps:
			reads = nil
			for i, where := range collect.ConfigMapNamespaces(ns) {
				// As collect: another distribution's add-on namespace is read only where it exists.
				if i > 0 {
					if _, err := w.Clients.Kube.CoreV1().Namespaces().Get(ctx, where, metav1.GetOptions{}); apierrors.IsNotFound(err) {
						continue
					}
				}
				reads = append(reads, read{namespace: where})
			}
		}
		for _, r := range reads {
			lw, err := w.Clients.NewListWatch(kind, r.namespace, r.selector)
			if err != nil {
				probes = append(probes, kind) // not listed as objects: read as collect reads it
				break
			}
			s := &source{kind: kind, name: sourceName(kind, r.namespace, r.selector), perObject: r.perObject, total: r.total}
			if err := w.inform(s, lw); err != nil {
				return nil, nil, err
			}
			sources = append(sources, s)
		}
	}
	return sources, slices.Compact(probes), nil
}

func sourceName(kind snapshot.Kind, namespace, selector string) string {
	name := string(kind)
	if namespace != "" && kind.Info().Namespaced {
		name += " in " + namespace
	}
	if selector != "" {
		name += " (" + selector + ")"
	}
	return name
}

// inform makes the informer of s.
func (w *watcher) inform(s *source, lw *collect.ListWatch) error {
	s.informer = cache.NewSharedIndexInformerWithOptions(tracked{lw: lw, report: func(err error, listed bool) { w.health(s, err, listed) }},
		lw.Example, cache.SharedIndexInformerOptions{})
	s.store = s.informer.GetStore()
	if err := s.informer.SetTransform(transform(s.kind)); err != nil {
		return err
	}
	// Failures are told by health, once per outage; client-go's handler would log every retry.
	if err := s.informer.SetWatchErrorHandlerWithContext(func(context.Context, *cache.Reflector, error) {}); err != nil {
		return err
	}
	_, err := s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { w.notify() },
		UpdateFunc: func(any, any) { w.notify() },
		DeleteFunc: func(any) { w.notify() },
	})
	return err
}

// health records how a request of s went, and tells when an outage of a kind that was read
// begins and ends.
func (w *watcher) health(s *source, err error, listed bool) {
	s.mu.Lock()
	was := s.failure
	s.failure = err
	if err == nil && listed {
		s.listed = true
	}
	var begins, ends bool
	if err != nil && s.listed && !s.interrupted {
		s.interrupted, begins = true, true
	}
	if err == nil && s.interrupted {
		s.interrupted, ends = false, true
	}
	s.mu.Unlock()
	// One outage breaks many watches at once (an API server restart): it is told once, when the
	// first breaks and when the last resumes.
	w.outageMu.Lock()
	switch {
	case begins:
		w.interrupted++
		if w.interrupted == 1 {
			w.note("watch of %s interrupted: %v; resuming", s.name, err)
		}
	case ends:
		w.interrupted--
		if w.interrupted == 0 {
			w.note("watch resumed: every kind is read again")
		}
	}
	w.outageMu.Unlock()
	if (was == nil) != (err == nil) {
		w.notify()
	}
}

func (w *watcher) settled(probesRead <-chan struct{}) bool {
	select {
	case <-probesRead:
	default:
		return false
	}
	for _, s := range w.sources {
		if !s.settled() {
			return false
		}
	}
	return true
}

// readProbes reads the probe kinds now and on every interval, and closes read after the first.
func (w *watcher) readProbes(ctx context.Context, read chan<- struct{}) {
	if len(w.probeKinds) == 0 {
		close(read)
		return
	}
	ticker := time.NewTicker(w.Interval)
	defer ticker.Stop()
	for first := true; ; first = false {
		w.readProbesOnce(ctx)
		if first {
			close(read)
		}
		// Also the first: an evaluation that did not wait for it (--timeout) is made again.
		w.notify()
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (w *watcher) readProbesOnce(ctx context.Context) {
	timeout := w.ProbeTimeout
	if timeout <= 0 {
		timeout = w.Interval
	}
	readCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts := w.Probes
	opts.Namespace = w.Namespace
	opts.Progress, opts.Received = nil, nil
	probed, err := collect.Collect(readCtx, w.Clients, w.probeKinds, opts)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		// No probe answered: each is unavailable, with why, until the next read.
		probed = snapshot.New(snapshot.SourceCluster)
		for _, k := range w.probeKinds {
			markUnavailable(readCtx, probed, k, err)
		}
	}
	w.probeMu.Lock()
	w.probed = probed
	w.probeMu.Unlock()
}

// snapshot builds what the checks judge from the informers' stores and the latest probe read.
// It lists nothing: the stores are in memory.
func (w *watcher) snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	snap := snapshot.New(snapshot.SourceCluster)
	snap.Namespace, snap.Context, snap.Server = w.Namespace, w.Context, w.Server
	snap.CollectedAt = w.Now()
	for _, kind := range sortedKinds(w.sources) {
		var of []*source
		for _, s := range w.sources {
			if s.kind == kind {
				of = append(of, s)
			}
		}
		if err := fill(ctx, snap, kind, of); err != nil {
			return nil, err
		}
	}
	w.probeMu.Lock()
	probed := w.probed
	w.probeMu.Unlock()
	for _, k := range w.probeKinds {
		if probed == nil {
			snap.MarkUnavailable(k, "not read yet")
			continue
		}
		k.CopyData(snap, probed)
	}
	snap.Finish()
	return snap, nil
}

// evaluate judges the cluster as it is now, writes what changed, and tells the observers.
func (w *watcher) evaluate(ctx context.Context, first bool) error {
	snap, err := w.snapshot(ctx)
	if err != nil {
		return err
	}
	rep, err := w.Evaluate(snap, first)
	if ctx.Err() != nil {
		return nil // interrupted: a report now would be one nobody waits for
	}
	if err != nil {
		if first {
			return err
		}
		w.note("warning: evaluation skipped: %v", err)
		return nil
	}
	shown := rep
	if w.Shown != nil {
		shown = w.Shown(rep)
	}
	held := w.held(snap)
	events := w.differ.Next(shown.Findings, rep.NotEvaluated, held)
	if first && w.First == nil {
		// The stream has no report: the checks that could not see are events of their own.
		for _, n := range rep.NotEvaluated {
			if n.Incomplete() {
				events = append(events, Event{Type: NotEvaluated, NotEvaluated: n})
			}
		}
	}
	switch {
	case first && w.First != nil:
		err = w.First(shown)
	default:
		err = w.Output.Write(snap.CollectedAt, events)
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil
		}
		return fmt.Errorf("writing the report: %v", err)
	}
	for _, o := range w.Observers {
		o.Observe(Evaluation{At: snap.CollectedAt, Report: rep, Options: w.Options, Held: held})
	}
	return nil
}
