package cmd

import (
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

	"github.com/alertmend/kubectl-alertmend/pkg/connect"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/suggest"
)

// defaultParallel is how many clusters a fleet run reads at once: enough to hide one slow API
// server behind the others, few enough that a laptop's memory holds every snapshot in flight.
const defaultParallel = 4

// fleetFlags run diagnose or rbac-audit over several kubeconfig contexts.
type fleetFlags struct {
	Contexts    []string
	AllContexts string
	Parallel    int
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

// completeFleet resolves --contexts and --all-contexts against target's kubeconfig into the
// contexts to run (none for a run on one cluster) and rejects the flags a fleet run cannot
// honour; format has been checked against the fleet's document.
func (o *fleetFlags) completeFleet(cmd *cobra.Command, target connect.Target, format render.Format) ([]string, error) {
	flags := cmd.Flags()
	all, some := flags.Changed("all-contexts"), flags.Changed("contexts")
	if some && len(o.Contexts) == 0 {
		return nil, usageError(cmd, errors.New("--contexts is empty: name one or more contexts, comma-separated"))
	}
	if !some && !all {
		if flags.Changed("parallel") {
			return nil, usageError(cmd, errors.New("--parallel applies to fleet runs: add --contexts or --all-contexts"))
		}
		return nil, nil
	}
	if some && all {
		return nil, usageError(cmd, errors.New("--contexts and --all-contexts both choose the clusters: give one"))
	}
	if o.Parallel < 1 {
		return nil, usageError(cmd, fmt.Errorf("invalid --parallel %d: must be 1 or more", o.Parallel))
	}
	for _, bad := range fleetIncompatible() {
		if flags.Changed(bad.flag) {
			return nil, usageError(cmd, fmt.Errorf("--%s does not combine with --contexts or --all-contexts: %s", bad.flag, bad.why))
		}
	}
	contexts, err := target.Contexts()
	if err != nil {
		return nil, failed("%v", err)
	}
	known := slices.Sorted(maps.Keys(contexts))
	if len(known) == 0 {
		return nil, failed("the kubeconfig has no contexts to run against: set KUBECONFIG or pass --kubeconfig")
	}
	if all {
		fleet, err := matchContexts(known, o.AllContexts)
		if err != nil {
			return nil, usageError(cmd, err)
		}
		if len(fleet) == 0 {
			return nil, failed("no kubeconfig context matches --all-contexts=%q; there are %s", o.AllContexts, contextList(known))
		}
		return fleet, nil
	}
	var fleet []string
	for _, name := range o.Contexts {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			return nil, usageError(cmd, errors.New("--contexts has an empty name"))
		case !contexts[name]:
			return nil, failed("no context %q in the kubeconfig%s; there are %s", name, suggest.DidYouMean(name, known), contextList(known))
		case !slices.Contains(fleet, name):
			fleet = append(fleet, name)
		}
	}
	return fleet, nil
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
func (r *reportRun) runFleet(ctx context.Context, plan engine.Plan) error {
	stderr := render.NewFleetStderr(r.streams.ErrOut, r.env.IsTerminal(r.streams.ErrOut))
	stderr.StartStatus(len(r.fleet))
	runs := make([]report.ClusterRun, len(r.fleet))
	slots := make(chan struct{}, r.parallel)
	var wg sync.WaitGroup
	for i, name := range r.fleet {
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
			stderr.Started()
			errOut := stderr.Prefixed("[" + render.TerminalSafe(name) + "] ")
			runs[i] = r.diagnoseContext(ctx, plan, name, errOut)
			if runs[i].Error != "" && ctx.Err() == nil {
				// In the report too, but -o json's reader may only look at stderr and the exit code.
				fmt.Fprintf(errOut, "error: %s\n", runs[i].Error)
			}
			errOut.Flush()
			stderr.Finished()
		}()
	}
	wg.Wait()
	stderr.StopStatus()
	if errors.Is(ctx.Err(), context.Canceled) {
		return failed("interrupted")
	}
	fleet := report.NewFleetReport(r.env.Now().UTC().Truncate(time.Second), r.source.Namespace, runs)
	shown := *fleet
	shown.Clusters = slices.Clone(fleet.Clusters)
	for i := range shown.Clusters {
		if shown.Clusters[i].Report != nil {
			shown.Clusters[i].Report = r.shown(shown.Clusters[i].Report)
		}
	}
	if err := render.WriteFleet(r.streams.Out, &shown, r.format, r.renderOptions(plan, 0)); err != nil {
		return failed("writing the report: %v", err)
	}
	var pushErrs []error
	for _, run := range fleet.Clusters {
		if run.Report == nil {
			continue // its group on the gateway keeps the last run's time, which shows it is stale
		}
		if err := r.push(ctx, run.Report, r.renderOptions(plan, run.Duration())); err != nil {
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

// diagnoseContext is one cluster's part of a fleet run: the same diagnosis, through the
// context's own connection settings, with its notes on errOut and no progress line of its own.
func (r *reportRun) diagnoseContext(ctx context.Context, plan engine.Plan, name string, errOut io.Writer) report.ClusterRun {
	src := r.source
	src.Cluster = r.target.ForContext(name)
	src.Notes, src.NotesTerminal, src.Notice = errOut, false, nil
	started := r.env.Now()
	rep, err := r.diagnose(ctx, plan, src)
	run := report.ClusterRun{Context: name, DurationSeconds: r.env.Now().Sub(started).Seconds()}
	if err != nil {
		run.Error, run.ExitCode = err.Error(), report.ExitError
		return run
	}
	run.Report, run.ExitCode = rep, rep.ExitCode(r.failOn)
	return run
}
