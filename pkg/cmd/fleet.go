package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// defaultParallel is how many clusters a fleet run reads at once: enough to hide one slow API
// server behind the others, few enough that a laptop's memory holds every snapshot in flight.
const defaultParallel = 4

// fleetFlags run diagnose or rbac-audit over several kubeconfig contexts.
type fleetFlags struct {
	Contexts    []string
	AllContexts string
	Parallel    int

	// fleet is the contexts to run, resolved from the flags; empty for a run on one cluster.
	fleet []string
}

func (o *fleetFlags) addFleetFlags(f *pflag.FlagSet) {
	f.StringSliceVar(&o.Contexts, "contexts", nil, "Run against each of these kubeconfig contexts (comma-separated), concurrently, and end with a fleet summary")
	f.StringVar(&o.AllContexts, "all-contexts", "", "Run against every kubeconfig context, or those whose name matches a glob given with = (--all-contexts='prod-*'), concurrently")
	f.Lookup("all-contexts").NoOptDefVal = "*"
	f.IntVar(&o.Parallel, "parallel", defaultParallel, "With --contexts or --all-contexts: how many clusters to read at once")
}

// fleetIncompatible is the flags that name one cluster, or one cluster's file, and so make no
// sense across a fleet.
func fleetIncompatible() []struct{ flag, why string } {
	return []struct{ flag, why string }{
		{"context", "a fleet run picks its contexts with --contexts or --all-contexts"},
		{"cluster", "each context names its own cluster"},
		{"user", "each context names its own user"},
		{"server", "each context names its own server"},
		{"token", "each context has its own credentials"},
		{"username", "each context has its own credentials"},
		{"password", "each context has its own credentials"},
		{"client-certificate", "each context has its own credentials"},
		{"client-key", "each context has its own credentials"},
		{"certificate-authority", "each context trusts its own cluster's authority"},
		{"tls-server-name", "each context names its own server"},
		{"insecure-skip-tls-verify", "each context says how its server is verified"},
		{"filename", "manifests are not a cluster"},
		{"snapshot", "a snapshot is one cluster's"},
		{"explain-permissions", "run it against one context at a time"},
		{"write-baseline", "a baseline file records one cluster's findings"},
		{"object", "an object lives in one cluster"},
		{"prometheus-url", "a Prometheus serves one cluster's node metrics; without it each cluster's own is found"},
		{"subject", "run it against one context at a time"},
		{"who-can", "run it against one context at a time"},
	}
}

// completeFleet resolves --contexts and --all-contexts against the kubeconfig and rejects the
// flags a fleet run cannot honour.
func (o *DiagnoseOptions) completeFleet(cmd *cobra.Command) error {
	flags := cmd.Flags()
	all, some := flags.Changed("all-contexts"), flags.Changed("contexts")
	if some && len(o.Contexts) == 0 {
		return usageError(cmd, errors.New("--contexts is empty: name one or more contexts, comma-separated"))
	}
	if !some && !all {
		if flags.Changed("parallel") {
			return usageError(cmd, errors.New("--parallel applies to fleet runs: add --contexts or --all-contexts"))
		}
		return nil
	}
	if some && all {
		return usageError(cmd, errors.New("--contexts and --all-contexts both choose the clusters: give one"))
	}
	if o.Parallel < 1 {
		return usageError(cmd, fmt.Errorf("invalid --parallel %d: must be 1 or more", o.Parallel))
	}
	for _, bad := range fleetIncompatible() {
		if flags.Changed(bad.flag) {
			return usageError(cmd, fmt.Errorf("--%s does not combine with --contexts or --all-contexts: %s", bad.flag, bad.why))
		}
	}
	if o.format == render.Sarif || o.format == render.JUnit {
		return usageError(cmd, fmt.Errorf("-o %s describes one cluster: a fleet run writes pretty, table, wide, markdown, json, yaml or prometheus", o.format))
	}
	raw, err := o.configFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return failed("cannot load the kubeconfig: %v", err)
	}
	known := slices.Sorted(maps.Keys(raw.Contexts))
	if len(known) == 0 {
		return failed("the kubeconfig has no contexts to run against: set KUBECONFIG or pass --kubeconfig")
	}
	if all {
		o.fleet, err = matchContexts(known, o.AllContexts)
		if err != nil {
			return usageError(cmd, err)
		}
		if len(o.fleet) == 0 {
			return failed("no kubeconfig context matches --all-contexts=%q; there are %s", o.AllContexts, contextList(known))
		}
		return nil
	}
	for _, name := range o.Contexts {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			return usageError(cmd, errors.New("--contexts has an empty name"))
		case raw.Contexts[name] == nil:
			return failed("no context %q in the kubeconfig; there are %s", name, contextList(known))
		case !slices.Contains(o.fleet, name):
			o.fleet = append(o.fleet, name)
		}
	}
	return nil
}

// contextList names contexts for an error message, escaped for the terminal: a kubeconfig is
// not always the user's own.
func contextList(names []string) string {
	safe := make([]string, len(names))
	for i, name := range names {
		safe[i] = render.TerminalSafe(name)
	}
	return strings.Join(safe, ", ")
}

// matchContexts is the contexts whose name matches glob, by name. The glob is path.Match's
// (*, ?, [a-z]) except that * and ? match / too, since context names such as EKS's
// (arn:aws:eks:REGION:ACCOUNT:cluster/NAME) and OpenShift's (NAMESPACE/API:PORT/USER) have slashes.
func matchContexts(known []string, glob string) ([]string, error) {
	slashless := func(s string) string { return strings.ReplaceAll(s, "/", "\x00") }
	if _, err := path.Match(slashless(glob), ""); err != nil {
		return nil, fmt.Errorf("invalid --all-contexts glob %q: %v", glob, err)
	}
	var matched []string
	for _, name := range known {
		if ok, _ := path.Match(slashless(glob), slashless(name)); ok {
			matched = append(matched, name)
		}
	}
	return matched, nil
}

// fleetArgsHint explains the one mistake --all-contexts invites: a glob after a space is an
// argument, since the flag's value is optional.
func fleetArgsHint(cmd *cobra.Command, args []string) error {
	if cmd.Flags().Changed("who-can") {
		return nil // its arguments; completeFleet refuses --who-can in a fleet run
	}
	if f := cmd.Flags().Lookup("all-contexts"); f != nil && f.Changed && f.Value.String() == f.NoOptDefVal && len(args) > 0 {
		return usageError(cmd, fmt.Errorf("unexpected argument %q: give --all-contexts its glob after =, as in --all-contexts='%s'", args[0], args[0]))
	}
	return nil
}

// runFleet diagnoses every context of the fleet, at most --parallel at once, and writes one
// report for all. A cluster that cannot be diagnosed is an entry with its error, not the end of
// the run; the exit code is the worst cluster's.
func (o *DiagnoseOptions) runFleet(ctx context.Context) error {
	plan, err := o.selectChecks()
	if err != nil {
		return err
	}
	stderr := &fleetStderr{w: o.streams.ErrOut, terminal: o.env.IsTerminal(o.streams.ErrOut)}
	stderr.startStatus(len(o.fleet))
	runs := make([]report.ClusterRun, len(o.fleet))
	slots := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, name := range o.fleet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				runs[i] = report.ClusterRun{Context: name, Error: "interrupted", ExitCode: report.ExitError}
				return
			}
			defer func() { <-slots }()
			stderr.started()
			errOut := stderr.prefixed("[" + render.TerminalSafe(name) + "] ")
			runs[i] = o.diagnoseContext(ctx, plan, name, errOut)
			if runs[i].Error != "" && ctx.Err() == nil {
				// In the report too, but -o json's reader may only look at stderr and the exit code.
				fmt.Fprintf(errOut, "error: %s\n", runs[i].Error)
			}
			errOut.flush()
			stderr.finished()
		}()
	}
	wg.Wait()
	stderr.stopStatus()
	if errors.Is(ctx.Err(), context.Canceled) {
		return failed("interrupted")
	}
	fleet := report.NewFleetReport(o.env.Now().UTC().Truncate(time.Second), o.namespace, runs)
	if err := render.WriteFleet(o.streams.Out, fleet, o.format, o.renderOptions(plan, 0)); err != nil {
		return failed("writing the report: %v", err)
	}
	var pushErrs []error
	for _, run := range fleet.Clusters {
		if run.Report == nil {
			continue // its group on the gateway keeps the last run's time, which shows it is stale
		}
		opts := o.renderOptions(plan, run.Duration())
		if err := o.push(ctx, run.Report, opts); err != nil {
			pushErrs = append(pushErrs, err)
		}
	}
	if len(pushErrs) > 0 {
		return failed("%v", errors.Join(pushErrs...))
	}
	if code := fleet.ExitCode(); code != report.ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

// diagnoseContext is one cluster's part of a fleet run: diagnose with the context's own
// connection settings, its notes on errOut, and no progress line of its own.
func (o *DiagnoseOptions) diagnoseContext(ctx context.Context, plan engine.Plan, name string, errOut io.Writer) report.ClusterRun {
	one := *o
	one.fleetFlags = fleetFlags{}
	one.configFlags = withContext(o.configFlags, name)
	one.streams.ErrOut = errOut
	isTerminal := o.env.IsTerminal
	one.env.IsTerminal = func(w io.Writer) bool { return w != errOut && isTerminal(w) }
	started := o.env.Now()
	r, _, err := one.diagnose(ctx, plan)
	run := report.ClusterRun{Context: name, DurationSeconds: o.env.Now().Sub(started).Seconds()}
	if err != nil {
		run.Error, run.ExitCode = err.Error(), report.ExitError
		return run
	}
	run.Report, run.ExitCode = r, r.ExitCode(o.failOn)
	return run
}

// withContext is kubectl's connection flags as given, but for the named context. A fresh
// ConfigFlags, since one caches the client configuration of the context it first loaded.
func withContext(f *genericclioptions.ConfigFlags, name string) *genericclioptions.ConfigFlags {
	c := genericclioptions.NewConfigFlags(true)
	c.CacheDir, c.KubeConfig = f.CacheDir, f.KubeConfig
	c.ClusterName, c.AuthInfoName, c.Context = f.ClusterName, f.AuthInfoName, &name
	c.Namespace, c.APIServer, c.TLSServerName, c.Insecure = f.Namespace, f.APIServer, f.TLSServerName, f.Insecure
	c.CertFile, c.KeyFile, c.CAFile, c.BearerToken = f.CertFile, f.KeyFile, f.CAFile, f.BearerToken
	c.Impersonate, c.ImpersonateUID, c.ImpersonateGroup, c.ImpersonateUserExtra = f.Impersonate, f.ImpersonateUID, f.ImpersonateGroup, f.ImpersonateUserExtra
	c.Username, c.Password, c.Timeout = f.Username, f.Password, f.Timeout
	c.DisableCompression, c.ProxyURL, c.WrapConfigFn = f.DisableCompression, f.ProxyURL, f.WrapConfigFn
	return c
}

// fleetStderr is stderr shared by the clusters of a fleet run: whole lines, each prefixed with
// its cluster's context, and on a terminal one status line below them once the run has taken
// longer than progressDelay.
type fleetStderr struct {
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

func (s *fleetStderr) startStatus(total int) {
	s.total = total
	if !s.terminal {
		return
	}
	s.stop, s.drawDone = make(chan struct{}), make(chan struct{})
	go s.draw()
}

func (s *fleetStderr) draw() {
	defer close(s.drawDone)
	select {
	case <-s.stop:
		return
	case <-time.After(progressDelay):
	}
	ticker := time.NewTicker(120 * time.Millisecond)
	defer ticker.Stop()
	for frame := 0; ; frame++ {
		s.mu.Lock()
		fmt.Fprintf(s.w, "\r\033[K%s %d of %d clusters done, %d running", spinnerFrame(frame), s.done, s.total, s.running)
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

func (s *fleetStderr) stopStatus() {
	if s.stop == nil {
		return
	}
	close(s.stop)
	<-s.drawDone
}

func (s *fleetStderr) started() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running++
}

func (s *fleetStderr) finished() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	s.done++
}

// writeLine writes one whole line, clearing the status line first; the next frame redraws it.
func (s *fleetStderr) writeLine(line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drawn {
		io.WriteString(s.w, "\r\033[K")
	}
	s.w.Write(line)
}

func (s *fleetStderr) prefixed(prefix string) *prefixedWriter {
	return &prefixedWriter{to: s, prefix: prefix}
}

// prefixedWriter is one cluster's stderr: it hands complete lines, prefixed, to fleetStderr, so
// the lines of clusters running at once never interleave mid-line.
type prefixedWriter struct {
	to      *fleetStderr
	prefix  string
	mu      sync.Mutex
	pending []byte
}

func (p *prefixedWriter) Write(b []byte) (int, error) {
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

// flush writes what is left of an unterminated last line.
func (p *prefixedWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) > 0 {
		p.to.writeLine([]byte(p.prefix + string(p.pending) + "\n"))
		p.pending = nil
	}
}
