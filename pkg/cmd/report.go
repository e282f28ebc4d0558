package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/collect"
	"github.com/alertmend/kubectl-alertmend/pkg/config"
	"github.com/alertmend/kubectl-alertmend/pkg/connect"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/push"
	"github.com/alertmend/kubectl-alertmend/pkg/redact"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	"github.com/alertmend/kubectl-alertmend/pkg/source"
	"github.com/alertmend/kubectl-alertmend/pkg/version"
	"github.com/alertmend/kubectl-alertmend/pkg/watch"
)

// defaultTimeout bounds reading the cluster, so a server that accepts connections but never
// answers cannot hang a run; a large cluster is read in seconds.
const defaultTimeout = 5 * time.Minute

// readFlags are how every command that reads a cluster reads it.
type readFlags struct {
	Timeout   time.Duration
	ChunkSize int64
	// PrometheusURL is where node_exporter's conntrack series are queried first.
	PrometheusURL string
}

func (r *readFlags) addReadFlags(f *pflag.FlagSet, timeoutHelp, prometheusHelp string) {
	f.DurationVar(&r.Timeout, "timeout", defaultTimeout, timeoutHelp)
	f.Int64Var(&r.ChunkSize, "chunk-size", collect.DefaultChunkSize, "List objects from the API server in pages of this size; 0 lists each kind in one response")
	f.StringVar(&r.PrometheusURL, "prometheus-url", "", prometheusHelp)
}

func (r *readFlags) validate() error {
	if r.Timeout < 0 {
		return failed("invalid --timeout %s: must be 0 (no limit) or more", r.Timeout)
	}
	if r.ChunkSize < 0 {
		return failed("invalid --chunk-size %d: must be 0 (no paging) or more", r.ChunkSize)
	}
	if r.PrometheusURL != "" {
		u, err := url.Parse(r.PrometheusURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return failed("invalid --prometheus-url %q: want an http or https URL such as http://localhost:9090", redact.URL(r.PrometheusURL))
		}
	}
	return nil
}

// sourceConfig is where and how the command reads: manifests, a snapshot file, or the cluster
// of the connection flags.
func (r *readFlags) sourceConfig(target connect.Target, streams genericiooptions.IOStreams, env Environment) source.Config {
	terminal := env.IsTerminal(streams.ErrOut)
	var watched io.Writer // only a person at a terminal is told where a slow first request goes
	if terminal {
		watched = streams.ErrOut
	}
	return source.Config{Stdin: streams.In, Cluster: target, Timeout: r.Timeout, ChunkSize: r.ChunkSize, PrometheusURL: r.PrometheusURL,
		Notes: streams.ErrOut, NotesTerminal: terminal, Notice: connect.NewNotice(watched), Now: env.Now}
}

// reportFlags are the flags of the commands that judge a cluster or manifests and print a
// report: diagnose and rbac-audit.
type reportFlags struct {
	Filenames      []string
	Checks         []string
	Skip           []string
	Output         string
	FailOn         string
	MinSeverity    string
	Color          string
	ConfigFile     string
	ShowSuppressed bool
	BaselineFile   string
	WriteBaseline  string
	// Object is --object TYPE/NAME: only the findings about it, its owners and its node.
	Object string
	// AllNamespaces is -A: every namespace, the default, said explicitly.
	AllNamespaces bool
	// Selector is -l: only the findings about the objects it selects.
	Selector string
	// Complete is --complete: the manifests are everything that runs.
	Complete bool
	// SnapshotFile is --snapshot: replay a recorded snapshot instead of reading a cluster.
	SnapshotFile string
	// ExplainPermissions lists the requests instead of making them.
	ExplainPermissions bool
	// PushGateway is --push-gateway: a Pushgateway that receives the report as metrics.
	PushGateway string
	// PushGrouping is --push-grouping: labels of the pushed group besides job and cluster, or
	// cluster itself, where the context's name does not tell clusters apart (in-cluster runs).
	PushGrouping map[string]string
	readFlags
	fleetFlags
}

func (o *reportFlags) addReportFlags(f *pflag.FlagSet) {
	f.StringSliceVarP(&o.Filenames, "filename", "f", nil, "Manifests to check instead of the cluster: files, directories (recursive), or - for stdin")
	f.BoolVar(&o.Complete, "complete", false, "With -f: the manifests are everything that runs, so what is absent from them is absent "+
		"(a NetworkPolicy that selects no pod in them is reported); without it, pods that operators create from custom resources are taken to be missing")
	f.StringSliceVar(&o.Checks, "checks", nil, "Run only these check IDs (comma-separated)")
	f.StringSliceVar(&o.Skip, "skip", nil, "Skip these check IDs (comma-separated)")
	f.StringVarP(&o.Output, "output", "o", "", "Output format: "+render.DocumentReport.FormatNames()+" (default pretty on a terminal, table otherwise)")
	f.StringVar(&o.FailOn, "fail-on", "high", "Exit 1 when a finding is at least this severe: critical, high, medium, low, info, or none")
	f.StringVar(&o.MinSeverity, "min-severity", "", "List only findings at least this severe (critical, high, medium, low, info); "+
		"the summary still counts the others, and --fail-on still judges them all")
	f.StringVar(&o.Color, "color", "auto", "Colour the pretty output: auto (on a terminal, unless NO_COLOR is set), always, never")
	o.addReadFlags(f, "Stop reading the cluster after this long and report on what was read; the rest is not evaluated, with the reason (0: no limit)",
		"Prometheus to read node_exporter's conntrack series from (e.g. http://localhost:9090 after kubectl port-forward); "+
			"without it, a Prometheus Service in the cluster is queried through the API server's service proxy")
	f.StringVar(&o.ConfigFile, "config", "", "Config `FILE` with failOn, severity overrides and ignore rules (default "+config.DefaultFile+" in the working directory, if present)")
	f.BoolVar(&o.ShowSuppressed, "show-suppressed", false, "Also show the findings that ignore annotations or rules silenced, and by what")
	f.StringVar(&o.BaselineFile, "baseline", "", "Baseline `FILE`: findings it records are shown but do not fail the gate (only new ones do)")
	f.StringVar(&o.WriteBaseline, "write-baseline", "", "Record the current findings in the baseline `FILE` (they then do not fail this run's gate)")
	f.StringVar(&o.Object, "object", "", "Only the findings about this object (`TYPE/NAME`, e.g. pod/cart-1 or deployment/cart, in -n's namespace, or with -A in "+
		"whichever holds it), what manages it and, for a pod, its node; an object that is not there is an error")
	addAllNamespacesFlag(f, &o.AllNamespaces)
	f.StringVarP(&o.Selector, "selector", "l", "", "Only the findings about objects whose labels match this selector (e.g. app=cart,tier!=cache; "+
		"a workload also by its pods' labels), about the nodes their pods run on and the namespaces holding them. The checks "+
		"still read everything they judge by (a NetworkPolicy check needs every pod): -l narrows the report, not what is read")
	f.StringVar(&o.SnapshotFile, "snapshot", "", "Diagnose the snapshot `FILE` that kubectl alertmend snapshot recorded, instead of a live cluster")
	f.BoolVar(&o.ExplainPermissions, "explain-permissions", false, "Read nothing but whether OpenShift's DNS namespace exists: list the API requests the selected checks would make and "+
		"whether the current identity may make them (asked with SelfSubjectAccessReviews); exit 3 when some check would not be evaluated")
	f.StringVar(&o.PushGateway, "push-gateway", "", "After the report is written, push it as metrics (those of -o prometheus) to this Pushgateway, "+
		`e.g. http://pushgateway:9091, grouped by job="kubectl-alertmend" and cluster="<context>"`)
	f.StringToStringVar(&o.PushGrouping, "push-grouping", nil, "With --push-gateway: more labels of the pushed group, NAME=VALUE,...; cluster=NAME replaces the context's name "+
		"(an in-cluster run's is in-cluster)")
	o.addFleetFlags(f)
}

// reportRun is a report command's flags turned into what a run needs, validated.
type reportRun struct {
	streams genericiooptions.IOStreams
	env     Environment
	target  connect.Target

	source    source.Config
	catalog   []check.Check
	selection engine.Selection
	policy    engine.Policy
	// writeBaseline is the file the run's findings are recorded in; empty records nothing.
	writeBaseline string
	explain       bool

	format render.Format
	failOn check.Severity
	// minSeverity is the lowest severity listed; "" lists all.
	minSeverity check.Severity
	// incidentsOnly is diagnose --incidents: only the findings of incidents are listed.
	incidentsOnly bool
	color         bool
	width         int

	pushGateway  string
	pushGrouping map[string]string

	// object is --object, found in the snapshot once read; nil without it.
	object *objectTarget

	// fleet is the contexts to run, resolved from the flags; empty for a run on one cluster.
	fleet    []string
	parallel int

	// watch keeps the report current until interrupted (diagnose --watch); nil for one run.
	watch *watchSettings
	// observers are told of every evaluation of a watch (alerts, metrics).
	observers []watch.Observer
}

// completeReport turns o into a run of catalog (the checks the command may run; its --checks
// and config file are judged against every check, so a shared config names any).
func (o *reportFlags) completeReport(cmd *cobra.Command, configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams,
	env Environment, thresholds checks.Options, catalog func(check.Meta) bool) (*reportRun, error) {
	if err := o.readFlags.validate(); err != nil {
		return nil, err
	}
	r := &reportRun{streams: streams, env: env, target: env.target(configFlags), explain: o.ExplainPermissions,
		writeBaseline: o.WriteBaseline, pushGateway: o.PushGateway, pushGrouping: o.PushGrouping, parallel: o.Parallel}
	r.source = o.sourceConfig(r.target, streams, env)
	r.source.Filenames, r.source.SnapshotFile, r.source.Complete = o.Filenames, o.SnapshotFile, o.Complete
	if o.Complete && len(o.Filenames) == 0 {
		return nil, failed("--complete describes manifests (-f); a cluster or a snapshot is judged as it is")
	}
	var err error
	if r.source.Namespace, err = namespaceFlag(cmd, o.AllNamespaces); err != nil {
		return nil, err
	}
	all := checks.All(thresholds)
	r.catalog = slices.DeleteFunc(slices.Clone(all), func(c check.Check) bool { return catalog != nil && !catalog(c.Meta()) })
	r.selection = engine.Selection{Checks: o.Checks, Skip: o.Skip}

	stdoutIsTerminal := env.IsTerminal(streams.Out)
	if r.format, err = outputFormat(cmd, o.Output, stdoutIsTerminal); err != nil {
		return nil, err
	}
	cfg, err := loadConfig(o.ConfigFile, all)
	if err != nil {
		return nil, err
	}
	failOn := o.FailOn
	if cfg != nil && cfg.FailOnSet && !cmd.Flags().Changed("fail-on") {
		failOn = string(cfg.FailOn)
		if failOn == "" {
			failOn = "none"
		}
	}
	if !strings.EqualFold(failOn, "none") {
		if r.failOn, err = check.ParseSeverity(failOn); err != nil {
			return nil, usageError(cmd, fmt.Errorf("invalid --fail-on: %v (or none)", err))
		}
	}
	if o.MinSeverity != "" {
		if r.minSeverity, err = check.ParseSeverity(o.MinSeverity); err != nil {
			return nil, usageError(cmd, fmt.Errorf("invalid --min-severity: %v", err))
		}
	}
	r.width = env.width(streams.Out)
	switch o.Color {
	case "always":
		r.color = true
	case "never":
		r.color = false
	case "auto":
		r.color = stdoutIsTerminal && env.Getenv("NO_COLOR") == "" && env.Getenv("TERM") != "dumb"
	default:
		return nil, usageError(cmd, fmt.Errorf("invalid --color %q (want auto, always or never)", o.Color))
	}
	if o.SnapshotFile != "" && len(o.Filenames) > 0 {
		return nil, failed("--snapshot replays what was recorded; it does not combine with -f")
	}
	r.policy = engine.Policy{Config: cfg, ShowSuppressed: o.ShowSuppressed, RecordBaseline: o.WriteBaseline != ""}
	if r.policy.Scope, err = o.scope(r.source); err != nil {
		return nil, err
	}
	if r.object, err = o.objectTarget(r.source, r.target); err != nil {
		return nil, err
	}
	if o.BaselineFile != "" {
		if r.policy.Baseline, err = report.ReadBaseline(o.BaselineFile); err != nil {
			return nil, failed("%v", err)
		}
	}
	if r.fleet, err = o.completeFleet(cmd, r.target, r.format); err != nil {
		return nil, err
	}
	return r, o.validatePush(r)
}

// outputFormat is -o, checked against the formats of the document the command's flags make it
// write; without -o, pretty on a terminal where the document has it, else its first format.
func outputFormat(cmd *cobra.Command, output string, stdoutIsTerminal bool) (render.Format, error) {
	document := documentOf(cmd)
	if output == "" {
		if stdoutIsTerminal && document.Supports(render.Pretty) {
			return render.Pretty, nil
		}
		if document.Supports(render.Table) {
			return render.Table, nil
		}
		return document.Formats()[0], nil
	}
	f, err := document.ParseFormat(output)
	if err != nil {
		if document == render.DocumentFleetReport && render.DocumentReport.Supports(render.Format(output)) {
			return "", usageError(cmd, fmt.Errorf("-o %s describes one cluster: a fleet run writes %s", output, document.FormatNames()))
		}
		return "", usageError(cmd, fmt.Errorf("invalid --output: %v", err))
	}
	return f, nil
}

// documentOf is the document a command writes, as its flags decide; completion of -o reads
// the same, so it offers exactly what would be accepted.
func documentOf(cmd *cobra.Command) render.Document {
	on := func(name string) bool {
		f := cmd.Flags().Lookup(name)
		return f != nil && f.Changed && f.Value.String() != "false"
	}
	switch cmd.Name() {
	case "checks":
		return render.DocumentCatalog
	case "version":
		return render.DocumentVersion
	}
	switch {
	case on("subject"):
		return render.DocumentSubjectAccess
	case on("who-can"):
		return render.DocumentWhoCan
	case on("explain-permissions"):
		return render.DocumentPermissionReport
	case on("contexts") || on("all-contexts"):
		return render.DocumentFleetReport
	}
	return render.DocumentReport
}

// validatePush checks the push flags against the rest of the run.
func (o *reportFlags) validatePush(r *reportRun) error {
	if o.PushGateway != "" {
		if err := push.CheckURL(o.PushGateway); err != nil {
			return failed("--push-gateway: %v", err)
		}
		switch {
		case o.ExplainPermissions:
			return failed("--explain-permissions writes no report, so there is nothing to push: leave out --push-gateway")
		case o.SnapshotFile != "":
			return failed("--push-gateway does not combine with --snapshot: a replay would overwrite the live cluster's group with old findings")
		case len(o.Filenames) > 0 && len(o.PushGrouping) == 0:
			return failed("with -f there is no cluster to group the pushed metrics by: name the group with --push-grouping, e.g. --push-grouping repo=shop")
		}
	}
	if len(o.PushGrouping) > 0 {
		if o.PushGateway == "" {
			return failed("--push-grouping names the group --push-gateway pushes to: add --push-gateway")
		}
		if err := push.CheckGrouping(o.PushGrouping); err != nil {
			return failed("--push-grouping: %v", err)
		}
		if _, ok := o.PushGrouping["cluster"]; ok && len(r.fleet) > 0 {
			return failed("--push-grouping cluster=... would push every cluster of the fleet to one group; each is pushed as its context")
		}
	}
	return nil
}

// loadConfig reads file, or .alertmend.yaml in the working directory when file is empty and it
// exists; nil when there is none. Its rules may name any check of the catalog.
func loadConfig(file string, catalog []check.Check) (*config.Config, error) {
	if file == "" {
		if _, err := os.Stat(config.DefaultFile); err != nil {
			return nil, nil
		}
		file = config.DefaultFile
	}
	var ids []string
	for _, c := range catalog {
		ids = append(ids, c.Meta().ID)
	}
	cfg, err := config.Load(file, ids)
	if err != nil {
		return nil, failed("%v", err)
	}
	return cfg, nil
}

// plan is the selected checks for the run's source.
func (r *reportRun) plan() (engine.Plan, error) {
	plan, err := engine.Select(r.catalog, r.selection, r.source.Kind())
	if err != nil {
		return plan, failed("%v", err)
	}
	// Reporting "no problems" after checking nothing would be a silent pass.
	if len(plan.Run) == 0 && len(plan.NotEvaluated) == 0 && len(plan.LiveOnlyLeftOut) == 0 {
		return plan, failed("the selection matches no check (see `kubectl alertmend checks`)")
	}
	return plan, nil
}

// liveKinds is what the plan reads from a cluster: its checks' kinds, and Namespaces for their
// ignore annotations (not being allowed to list them blinds no check that did not ask).
func liveKinds(plan engine.Plan) []snapshot.Kind {
	return withKinds(plan.Kinds(), snapshot.KindNamespaces)
}

// run writes the report (or the fleet's, or the permissions it would need) and returns an
// *ExitError carrying the exit code.
func (r *reportRun) run(ctx context.Context) error {
	plan, err := r.plan()
	if err != nil {
		return err
	}
	switch {
	case r.explain:
		return r.explainPermissions(ctx, plan)
	case len(r.fleet) > 0:
		return r.runFleet(ctx, plan)
	case r.watch != nil:
		return r.runWatch(ctx, plan)
	}
	started := r.env.Now()
	rep, err := r.diagnose(ctx, plan, r.source)
	if err != nil {
		return err
	}
	opts := r.renderOptions(plan, r.env.Now().Sub(started))
	if err := render.Write(r.streams.Out, r.shown(rep), r.format, opts); err != nil {
		return failed("writing the report: %v", err)
	}
	if err := r.push(ctx, rep, opts); err != nil {
		return err
	}
	if code := rep.ExitCode(r.failOn); code != report.ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

// diagnose reads src and diagnoses it: the run of one cluster or one set of manifests. It
// writes only notes and warnings, to src.Notes.
func (r *reportRun) diagnose(ctx context.Context, plan engine.Plan, src source.Config) (*report.Report, error) {
	snap, err := source.Read(ctx, src, r.kinds(plan))
	if err != nil {
		return nil, failed("%v", err)
	}
	if src.Kind() == snapshot.SourceSnapshot && snap.Namespace != "" && src.Namespace != "" && src.Namespace != snap.Namespace {
		return nil, failed("the snapshot was recorded with -n %s: it holds nothing of namespace %s", snap.Namespace, src.Namespace)
	}
	return r.judge(ctx, plan, src, snap)
}

// judge diagnoses what was read of src: the checks of plan, the run's policy and scope. It
// writes only notes and warnings, to src.Notes.
func (r *reportRun) judge(ctx context.Context, plan engine.Plan, src source.Config, snap *snapshot.Snapshot) (*report.Report, error) {
	focus, err := r.locate(snap, src)
	if err != nil {
		return nil, err
	}
	if len(plan.Run) == 0 && len(plan.NotEvaluated) == 0 {
		return nil, failed("none of the selected checks can judge manifests: %s need live cluster state; run them against a cluster",
			strings.Join(plan.LiveOnlyLeftOut, ", "))
	}
	if len(plan.LiveOnlyLeftOut) > 0 {
		fmt.Fprintf(src.Notes, "note: %s live status (conditions, restarts, usage) %s left out for manifests\n",
			check.Plural(len(plan.LiveOnlyLeftOut), "check that judges", "checks that judge"), check.PluralForm(len(plan.LiveOnlyLeftOut), "is", "are"))
	}
	policy := r.policy
	policy.Now = r.env.Now()
	policy.Focus = focus
	rep := engine.Diagnose(snap, plan, policy)
	if n := rep.Summary.OutOfScope; n > 0 {
		fmt.Fprintf(src.Notes, "note: left out %s nothing the run is limited to (%s): other nodes, other objects, the cluster as a whole\n",
			check.Plural(n, "finding that concerns", "findings that concern"), policy.Scope.For(snap).Describe())
	}
	if r.writeBaseline != "" {
		if err := report.WriteBaseline(r.writeBaseline, report.NewBaseline(rep.Findings)); err != nil {
			return nil, failed("writing the baseline: %v", err)
		}
	}
	for _, n := range rep.RuleNotices {
		fmt.Fprintf(src.Notes, "warning: %s: ignore rule %s: %s\n", n.Rule, n.Problem, n.Detail)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// Interrupted after the cluster was read: a report now would be one the user gave up on.
		return nil, failed("interrupted")
	}
	return rep, nil
}

// renderOptions is how the run's reports are written: the selected checks' metadata, the gate,
// colour, and how long the run took.
func (r *reportRun) renderOptions(plan engine.Plan, took time.Duration) render.Options {
	metas := []check.Meta{}
	for _, c := range plan.Run {
		metas = append(metas, c.Meta())
	}
	return render.Options{Color: r.color, Width: r.width, FailOn: r.failOn, Catalog: metas,
		Baseline: r.policy.Baseline != nil || r.writeBaseline != "", ToolVersion: version.Get().Version, Duration: took}
}

// shown is what of rep the run lists: the findings at or above --min-severity, except in the
// Prometheus format, whose metrics count every finding. The gate and the push judge rep itself.
func (r *reportRun) shown(rep *report.Report) *report.Report {
	if r.format == render.Prometheus {
		return rep
	}
	if r.minSeverity != "" {
		rep = rep.AtOrAbove(r.minSeverity)
	}
	if r.incidentsOnly {
		rep = rep.OnlyIncidents()
	}
	return rep
}

// push sends the report's metrics to --push-gateway, grouped by the cluster's context, so that
// every cluster (and every in-cluster CronJob) keeps its own group on one gateway.
func (r *reportRun) push(ctx context.Context, rep *report.Report, opts render.Options) error {
	if r.pushGateway == "" {
		return nil
	}
	grouping := map[string]string{"cluster": rep.Metadata.Context}
	maps.Copy(grouping, r.pushGrouping)
	if err := push.Push(ctx, r.pushGateway, grouping, render.MetricFamilies(rep, opts)); err != nil {
		return failed("%v", err)
	}
	return nil
}
