package cmd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/collect"
	"github.com/alertmend/kubectl-alertmend/pkg/config"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/push"
	"github.com/alertmend/kubectl-alertmend/pkg/redact"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	"github.com/alertmend/kubectl-alertmend/pkg/version"
)

// defaultTimeout bounds reading the cluster, so a server that accepts connections but never
// answers cannot hang a run; a large cluster is read in seconds.
const defaultTimeout = 5 * time.Minute

// defaultReachTimeout bounds the first request when --request-timeout is not set, so an
// unreachable server fails with one line instead of hanging.
const defaultReachTimeout = 30 * time.Second

// DiagnoseOptions are the flags of `diagnose` and what Complete derives from them.
type DiagnoseOptions struct {
	configFlags *genericclioptions.ConfigFlags
	streams     genericiooptions.IOStreams
	env         Environment

	Filenames  []string
	Checks     []string
	Categories []string
	Skip       []string
	Output     string
	FailOn     string
	Color      string
	ChunkSize  int64
	Thresholds checks.Options
	// PrometheusURL is where node_exporter's conntrack series are queried first.
	PrometheusURL string
	// ConfigFile is --config; empty reads .alertmend.yaml from the working directory if present.
	ConfigFile     string
	ShowSuppressed bool
	BaselineFile   string
	WriteBaseline  string
	// Object is --object TYPE/NAME: only the findings about it, its owners and its node.
	Object string
	// SnapshotFile is --snapshot: replay a recorded snapshot instead of reading a cluster.
	SnapshotFile string
	// Timeout bounds reading the cluster; what is not read by then is not evaluated.
	Timeout time.Duration
	// PushGateway is --push-gateway: a Pushgateway that receives the report as metrics.
	PushGateway string
	// PushGrouping is --push-grouping: labels of the pushed group besides job and cluster, or
	// cluster itself, where the context's name does not tell clusters apart (in-cluster runs).
	PushGrouping map[string]string
	fleetFlags

	// catalog narrows the checks a command runs (rbac-audit runs the RBAC ones); nil keeps all.
	catalog func(check.Meta) bool
	permissionsFlag

	format    render.Format
	failOn    check.Severity
	color     bool
	namespace string
	config    *config.Config
	baseline  *report.Baseline
	focus     *snapshot.Ref
}

func newDiagnoseCommand(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, env Environment) *cobra.Command {
	o := &DiagnoseOptions{configFlags: configFlags, streams: streams, env: env, Thresholds: checks.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "diagnose",
		Short: "Diagnose the current cluster, or manifests with -f, and print prioritized findings",
		Long: `Diagnose reads the cluster of the current kubeconfig context once, runs every selected check on
that state, and prints the findings most urgent first: severity, then what is broken now before
what could break, then breadth. Checks that could not see what they need (forbidden, not served)
are listed as not evaluated, never as passed.

With -f, it checks manifests instead (files, directories, or - for stdin), so a CI pipeline can gate
a deploy; checks that judge live status are left out then.

` + exitCodesHelp,
		Example: `  # Diagnose the current context's cluster
  kubectl alertmend diagnose

  # Only one namespace, only workload incidents
  kubectl alertmend diagnose -n shop --category workloads

  # Gate manifests in CI: fail on medium or worse, machine-readable output
  kubectl alertmend diagnose -f deploy/ --fail-on medium -o json

  # Gate only on what is new since the recorded baseline, for GitHub code scanning
  helm template ./chart | kubectl alertmend diagnose -f - --baseline .alertmend-baseline.yaml -o sarif

  # Everything about one pod: its own findings, its controller's and its node's
  kubectl alertmend diagnose -n shop --object pod/cart-7d9f8-x2x4q

  # Replay a snapshot someone recorded with "kubectl alertmend snapshot"
  kubectl alertmend diagnose --snapshot incident.alertmend.gz

  # Before a run: what would be read, and what may this identity read?
  kubectl alertmend diagnose --explain-permissions

  # Every production cluster of the kubeconfig at once, with a fleet summary
  kubectl alertmend diagnose --all-contexts='prod-*'

  # In a CronJob: push the findings as metrics to a Pushgateway
  kubectl alertmend diagnose -o json --fail-on none --push-gateway http://pushgateway.monitoring:9091 --push-grouping cluster=prod-eu`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := fleetArgsHint(cmd, args); err != nil {
				return err
			}
			return cobra.NoArgs(cmd, args)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(cmd); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	o.addReportFlags(f)
	f.StringSliceVar(&o.Categories, "category", nil, "Run only these categories: apiserver, resources, workloads, dns, conntrack, netpol, rbac")
	f.Float64Var(&o.Thresholds.Resources.MemoryOvercommitRatio, "memory-overcommit-ratio", o.Thresholds.Resources.MemoryOvercommitRatio,
		"memory-overcommit reports memory limits more than this many times the request")
	f.StringSliceVar(&o.Thresholds.Netpol.SystemNamespaces, "netpol-system-namespaces", o.Thresholds.Netpol.SystemNamespaces,
		"namespaces the NetworkPolicy coverage checks leave alone (the cluster's own components)")
	return cmd
}

// addReportFlags registers the flags every command that reads a cluster (or manifests) and
// prints a report shares.
func (o *DiagnoseOptions) addReportFlags(f *pflag.FlagSet) {
	f.StringSliceVarP(&o.Filenames, "filename", "f", nil, "Manifests to check instead of the cluster: files, directories (recursive), or - for stdin")
	f.StringSliceVar(&o.Checks, "checks", nil, "Run only these check IDs (comma-separated)")
	f.StringSliceVar(&o.Skip, "skip", nil, "Skip these check IDs (comma-separated)")
	f.StringVarP(&o.Output, "output", "o", "", "Output format: "+formatNames()+" (default pretty on a terminal, table otherwise)")
	f.StringVar(&o.FailOn, "fail-on", "high", "Exit 1 when a finding is at least this severe: critical, high, medium, low, info, or none")
	f.StringVar(&o.Color, "color", "auto", "Colour the pretty output: auto (on a terminal, unless NO_COLOR is set), always, never")
	f.DurationVar(&o.Timeout, "timeout", defaultTimeout, "Stop reading the cluster after this long and report on what was read; the rest is not evaluated, with the reason (0: no limit)")
	f.Int64Var(&o.ChunkSize, "chunk-size", collect.DefaultChunkSize, "List objects from the API server in pages of this size; 0 lists each kind in one response")
	f.StringVar(&o.ConfigFile, "config", "", "Config file with failOn, severity overrides and ignore rules (default "+config.DefaultFile+" in the working directory, if present)")
	f.BoolVar(&o.ShowSuppressed, "show-suppressed", false, "Also show the findings that ignore annotations or rules silenced, and by what")
	f.StringVar(&o.BaselineFile, "baseline", "", "Baseline file: findings it records are shown but do not fail the gate (only new ones do)")
	f.StringVar(&o.WriteBaseline, "write-baseline", "", "Record the current findings in this baseline file (they then do not fail this run's gate)")
	f.StringVar(&o.Object, "object", "", "Only the findings about this object (TYPE/NAME, e.g. pod/cart-1 or deployment/cart, in -n's namespace), what manages it and, for a pod, its node")
	f.StringVar(&o.SnapshotFile, "snapshot", "", "Diagnose a snapshot recorded by `kubectl alertmend snapshot` instead of a live cluster")
	o.addExplainPermissionsFlag(f)
	f.StringVar(&o.PrometheusURL, "prometheus-url", "", "Prometheus to read node_exporter's conntrack series from (e.g. http://localhost:9090 after kubectl port-forward); "+
		"without it, a Prometheus Service in the cluster is queried through the API server's service proxy")
	f.StringVar(&o.PushGateway, "push-gateway", "", "After the report is written, push it as metrics (those of -o prometheus) to this Pushgateway, "+
		`e.g. http://pushgateway.monitoring:9091, grouped by job="kubectl-alertmend" and cluster="<context>"`)
	f.StringToStringVar(&o.PushGrouping, "push-grouping", nil, "With --push-gateway: more labels of the pushed group, NAME=VALUE,...; cluster=NAME replaces the context's name "+
		"(an in-cluster run's is in-cluster)")
	o.addFleetFlags(f)
}

func formatNames() string {
	var names []string
	for _, f := range render.Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// Complete derives the output format, the gate and the colour decision from flags and environment.
func (o *DiagnoseOptions) Complete(cmd *cobra.Command) error {
	stdoutIsTerminal := o.env.IsTerminal(o.streams.Out)
	var err error
	if o.Output == "" {
		o.format = render.Table
		if stdoutIsTerminal {
			o.format = render.Pretty
		}
	} else if o.format, err = render.ParseFormat(o.Output); err != nil {
		return usageError(cmd, fmt.Errorf("invalid --output: %v", err))
	}
	if err := o.loadConfig(); err != nil {
		return err
	}
	if o.config != nil && o.config.FailOnSet && !cmd.Flags().Changed("fail-on") {
		o.FailOn = string(o.config.FailOn)
		if o.FailOn == "" {
			o.FailOn = "none"
		}
	}
	if strings.EqualFold(o.FailOn, "none") {
		o.failOn = ""
	} else if o.failOn, err = check.ParseSeverity(o.FailOn); err != nil {
		return usageError(cmd, fmt.Errorf("invalid --fail-on: %v (or none)", err))
	}
	switch o.Color {
	case "always":
		o.color = true
	case "never":
		o.color = false
	case "auto":
		o.color = stdoutIsTerminal && o.env.Getenv("NO_COLOR") == "" && o.env.Getenv("TERM") != "dumb"
	default:
		return usageError(cmd, fmt.Errorf("invalid --color %q (want auto, always or never)", o.Color))
	}
	if nsFlag := cmd.Flag("namespace"); nsFlag != nil && nsFlag.Changed {
		o.namespace = nsFlag.Value.String()
	}
	if o.SnapshotFile != "" && (len(o.Filenames) > 0 || o.namespace != "") {
		return failed("--snapshot replays what was recorded; it does not combine with -f or -n")
	}
	if o.Object != "" {
		if o.focus, err = o.parseObject(); err != nil {
			return failed("%v", err)
		}
	}
	if o.BaselineFile != "" {
		if o.baseline, err = report.ReadBaseline(o.BaselineFile); err != nil {
			return failed("%v", err)
		}
	}
	return o.completeFleet(cmd)
}

// loadConfig reads --config, or .alertmend.yaml in the working directory when it exists.
func (o *DiagnoseOptions) loadConfig() error {
	file := o.ConfigFile
	if file == "" {
		if _, err := os.Stat(config.DefaultFile); err != nil {
			return nil
		}
		file = config.DefaultFile
	}
	var ids []string
	for _, c := range checks.All(o.Thresholds) {
		ids = append(ids, c.Meta().ID)
	}
	cfg, err := config.Load(file, ids)
	if err != nil {
		return failed("%v", err)
	}
	o.config = cfg
	return nil
}

// parseObject reads --object TYPE/NAME; namespaced kinds are in -n's namespace, else the
// context's, as kubectl does.
func (o *DiagnoseOptions) parseObject() (*snapshot.Ref, error) {
	typ, name, ok := strings.Cut(o.Object, "/")
	if !ok || typ == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("invalid --object %q: want TYPE/NAME, e.g. pod/cart-1 or deployment/cart", o.Object)
	}
	kind, ok := snapshot.KindForType(typ)
	if !ok {
		return nil, fmt.Errorf("invalid --object %q: unknown type %q (e.g. pod, deployment, statefulset, daemonset, node, namespace)", o.Object, typ)
	}
	ref := snapshot.RefTo(kind, "", name)
	if kind.Info().Namespaced {
		ref.Namespace = o.namespace
		if ref.Namespace == "" {
			ref.Namespace = "default"
			if ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace(); err == nil && ns != "" {
				ref.Namespace = ns
			}
		}
	}
	return &ref, nil
}

// Validate rejects flag values Complete could not judge alone.
func (o *DiagnoseOptions) Validate() error {
	if o.Thresholds.Resources.MemoryOvercommitRatio < 1 {
		return failed("invalid --memory-overcommit-ratio %g: must be 1 or more", o.Thresholds.Resources.MemoryOvercommitRatio)
	}
	if o.Timeout < 0 {
		return failed("invalid --timeout %s: must be 0 (no limit) or more", o.Timeout)
	}
	if o.ChunkSize < 0 {
		return failed("invalid --chunk-size %d: must be 0 (no paging) or more", o.ChunkSize)
	}
	if o.PrometheusURL != "" {
		u, err := url.Parse(o.PrometheusURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return failed("invalid --prometheus-url %q: want an http or https URL such as http://localhost:9090", redact.URL(o.PrometheusURL))
		}
	}
	if o.PushGateway != "" {
		if err := push.CheckURL(o.PushGateway); err != nil {
			return failed("--push-gateway: %v", err)
		}
		switch {
		case o.explain:
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
		if _, ok := o.PushGrouping["cluster"]; ok && len(o.fleet) > 0 {
			return failed("--push-grouping cluster=... would push every cluster of the fleet to one group; each is pushed as its context")
		}
	}
	return nil
}

// Run diagnoses and returns an *ExitError carrying the exit code.
func (o *DiagnoseOptions) Run(ctx context.Context) error {
	if len(o.fleet) > 0 {
		return o.runFleet(ctx)
	}
	plan, err := o.selectChecks()
	if err != nil {
		return err
	}
	if o.explain {
		return o.explainPermissions(ctx, plan, liveKinds(plan))
	}
	r, opts, err := o.diagnose(ctx, plan)
	if err != nil {
		return err
	}
	if err := render.Write(o.streams.Out, r, o.format, opts); err != nil {
		return failed("writing the report: %v", err)
	}
	if err := o.push(ctx, r, opts); err != nil {
		return err
	}
	if code := r.ExitCode(o.failOn); code != report.ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

// source is what the run reads: manifests with -f, else a cluster (or a snapshot of one).
func (o *DiagnoseOptions) source() snapshot.Source {
	if len(o.Filenames) > 0 {
		return snapshot.SourceManifests
	}
	return snapshot.SourceCluster
}

// selectChecks is the plan of the selected checks for the run's source.
func (o *DiagnoseOptions) selectChecks() (engine.Plan, error) {
	catalog := checks.All(o.Thresholds)
	if o.catalog != nil {
		catalog = slices.DeleteFunc(catalog, func(c check.Check) bool { return !o.catalog(c.Meta()) })
	}
	plan, err := engine.Select(catalog, engine.Selection{Checks: o.Checks, Categories: o.Categories, Skip: o.Skip}, o.source())
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
	return withKind(plan.Kinds(), snapshot.KindNamespaces)
}

// diagnose reads the cluster, manifests or snapshot, runs the plan and applies the policy
// (config, baseline, --object), returning the report and how to render it. It writes only
// notes and warnings, on stderr.
func (o *DiagnoseOptions) diagnose(ctx context.Context, plan engine.Plan) (*report.Report, render.Options, error) {
	started := o.env.Now()
	var snap *snapshot.Snapshot
	var err error
	switch {
	case o.SnapshotFile != "":
		snap, err = o.loadSnapshot()
	case o.source() == snapshot.SourceManifests:
		snap, err = o.loadManifests()
	default:
		snap, err = o.collect(ctx, liveKinds(plan))
	}
	if err != nil {
		return nil, render.Options{}, err
	}
	if o.SnapshotFile == "" {
		snap.CollectedAt = o.env.Now()
	}
	if len(plan.Run) == 0 && len(plan.NotEvaluated) == 0 {
		return nil, render.Options{}, failed("none of the selected checks can judge manifests: %s need live cluster state; run them against a cluster",
			strings.Join(plan.LiveOnlyLeftOut, ", "))
	}
	if len(plan.LiveOnlyLeftOut) > 0 {
		fmt.Fprintf(o.streams.ErrOut, "note: %s that judge live status (conditions, restarts, usage) are left out for manifests\n",
			check.Plural(len(plan.LiveOnlyLeftOut), "check", "checks"))
	}
	r := engine.Run(snap, plan, o.env.Now())
	if o.SnapshotFile != "" {
		r.Metadata.Source = string(snapshot.SourceSnapshot)
		recorded := snap.CollectedAt.UTC()
		r.Metadata.CollectedAt = &recorded
	}
	ran := []string{}
	for _, c := range plan.Run {
		ran = append(ran, c.Meta().ID)
	}
	engine.Apply(r, snap, engine.Policy{Config: o.config, Baseline: o.baseline, ShowSuppressed: o.ShowSuppressed,
		Focus: o.focus, Ran: ran, Now: o.env.Now()})
	if o.WriteBaseline != "" {
		if err := report.WriteBaseline(o.WriteBaseline, report.NewBaseline(r.Findings)); err != nil {
			return nil, render.Options{}, failed("writing the baseline: %v", err)
		}
		// What was just recorded is known from now on, this run included.
		for i := range r.Findings {
			r.Findings[i].Baselined = true
		}
		r.Summary.Baselined = len(r.Findings)
	}
	for _, n := range r.RuleNotices {
		fmt.Fprintf(o.streams.ErrOut, "warning: %s: ignore rule %s: %s\n", n.Rule, n.Problem, n.Detail)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// Interrupted after the cluster was read: a report now would be one the user gave up on.
		return nil, render.Options{}, failed("interrupted")
	}
	return r, o.renderOptions(plan, o.env.Now().Sub(started)), nil
}

// renderOptions is how the run's reports are written: the selected checks' metadata, the gate,
// colour, and how long the run took.
func (o *DiagnoseOptions) renderOptions(plan engine.Plan, took time.Duration) render.Options {
	metas := []check.Meta{}
	for _, c := range plan.Run {
		metas = append(metas, c.Meta())
	}
	return render.Options{Color: o.color, FailOn: o.failOn, Catalog: metas,
		Baseline: o.baseline != nil || o.WriteBaseline != "", ToolVersion: version.Get().Version, Duration: took}
}

// push sends the report's metrics to --push-gateway, grouped by the cluster's context, so that
// every cluster (and every in-cluster CronJob) keeps its own group on one gateway.
func (o *DiagnoseOptions) push(ctx context.Context, r *report.Report, opts render.Options) error {
	if o.PushGateway == "" {
		return nil
	}
	grouping := map[string]string{"cluster": r.Metadata.Context}
	maps.Copy(grouping, o.PushGrouping)
	if err := push.Push(ctx, o.PushGateway, grouping, render.MetricFamilies(r, opts)); err != nil {
		return failed("%v", err)
	}
	return nil
}

// withKind adds a kind to a list unless it is there.
func withKind(kinds []snapshot.Kind, k snapshot.Kind) []snapshot.Kind {
	if slices.Contains(kinds, k) {
		return kinds
	}
	return append(slices.Clone(kinds), k)
}

func (o *DiagnoseOptions) loadSnapshot() (*snapshot.Snapshot, error) {
	f, err := os.Open(o.SnapshotFile)
	if err != nil {
		return nil, failed("cannot read the snapshot: %v", err)
	}
	defer f.Close()
	snap, _, err := snapshot.ReadFile(o.SnapshotFile, f)
	if err != nil {
		return nil, failed("%v", err)
	}
	return snap, nil
}

func (o *DiagnoseOptions) loadManifests() (*snapshot.Snapshot, error) {
	loader := &snapshot.Loader{Namespace: o.namespace, Stdin: o.streams.In}
	snap, err := loader.LoadFiles(o.Filenames)
	if err != nil {
		return nil, failed("%v", err)
	}
	if len(loader.Skipped) > 0 {
		kinds := map[string]bool{}
		for _, s := range loader.Skipped {
			kinds[s.APIVersion+" "+s.Kind] = true
		}
		names := make([]string, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		sort.Strings(names)
		first := loader.Skipped[0].Origin
		fmt.Fprintf(o.streams.ErrOut, "note: skipped %d objects of kinds alertmend does not check (%s), the first at %s\n",
			len(loader.Skipped), strings.Join(names, ", "), first)
	}
	return snap, nil
}

// checkConnectionFlags catches what client-go would otherwise turn into a confusing message: no
// kubeconfig at all outside a pod (it falls back to localhost:8080), a flag that names part of a
// kubeconfig in a pod that has none, and a malformed --request-timeout.
func (o *DiagnoseOptions) checkConnectionFlags() error {
	if t := o.configFlags.Timeout; t != nil && *t != "" {
		if _, err := strconv.Atoi(*t); err != nil {
			if _, err := time.ParseDuration(*t); err != nil {
				return failed("invalid --request-timeout %q: want a duration such as 30s or 1m", *t)
			}
		}
	}
	if o.kubeconfigGiven() {
		return nil
	}
	if o.env.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return failed("no kubeconfig found: set KUBECONFIG, create ~/.kube/config, or pass --kubeconfig")
	}
	f := o.configFlags
	for _, flag := range []struct {
		name string
		set  bool
	}{
		{"context", flagSet(f.Context)}, {"cluster", flagSet(f.ClusterName)}, {"user", flagSet(f.AuthInfoName)},
		{"client-certificate", flagSet(f.CertFile)}, {"client-key", flagSet(f.KeyFile)},
		{"username", flagSet(f.Username)}, {"password", flagSet(f.Password)}, {"proxy-url", flagSet(f.ProxyURL)},
	} {
		if flag.set {
			return failed("--%s needs a kubeconfig, and there is none: in a pod without one, the pod's service account is used", flag.name)
		}
	}
	if !flagSet(f.Impersonate) && (flagSet(f.ImpersonateUID) || (f.ImpersonateGroup != nil && len(*f.ImpersonateGroup) > 0) ||
		(f.ImpersonateUserExtra != nil && len(*f.ImpersonateUserExtra) > 0)) {
		return failed("--as-group, --as-uid and --as-user-extra impersonate a user: pass --as too")
	}
	return nil
}

func flagSet(p *string) bool { return p != nil && *p != "" }

// kubeconfigGiven tells whether the user chose where to connect: --kubeconfig, --server, or a
// kubeconfig that KUBECONFIG or ~/.kube/config supplies. One that cannot be read counts, so
// loading it reports why.
func (o *DiagnoseOptions) kubeconfigGiven() bool {
	if flagSet(o.configFlags.APIServer) || flagSet(o.configFlags.KubeConfig) {
		return true
	}
	raw, err := o.configFlags.ToRawKubeConfigLoader().RawConfig()
	return err != nil || len(raw.Clusters) > 0 || len(raw.Contexts) > 0
}

// inCluster tells whether the run connects as the pod it runs in: no kubeconfig, and the
// variable the kubelet sets in every container.
func (o *DiagnoseOptions) inCluster() bool {
	return o.env.Getenv("KUBERNETES_SERVICE_HOST") != "" && !o.kubeconfigGiven()
}

// clientConfig is the REST config of every command that talks to a cluster: kubectl's flags
// (impersonation included), this tool's user agent, and no client-side throttling, since each
// caller bounds its requests in flight.
func (o *DiagnoseOptions) clientConfig() (*rest.Config, error) {
	if err := o.checkConnectionFlags(); err != nil {
		return nil, err
	}
	var config *rest.Config
	if o.inCluster() {
		var err error
		if config, err = o.inClusterConfig(); err != nil {
			return nil, err
		}
	} else {
		loaded, err := o.configFlags.ToRESTConfig()
		if err != nil {
			return nil, failed("cannot load the kubeconfig: %v", err)
		}
		config = rest.CopyConfig(loaded)
	}
	config.UserAgent = "kubectl-alertmend/" + version.Get().Version
	config.QPS, config.Burst = 100, 200
	return config, nil
}

// inClusterConfig is the pod's service account and API server address, with the kubectl flags
// that still mean something without a kubeconfig applied on top. client-go's loader falls back
// to the same by itself, but only where the token file is mounted (else the run would fail with
// "no configuration has been provided"), and it drops --as, --as-group and --request-timeout;
// choosing it here keeps those flags, names the cause when the pod's configuration cannot be
// loaded, and lets tests stand in for the pod.
func (o *DiagnoseOptions) inClusterConfig() (*rest.Config, error) {
	load := o.env.InClusterConfig
	if load == nil {
		load = rest.InClusterConfig
	}
	loaded, err := load()
	if err != nil {
		return nil, failed("no kubeconfig, and the in-cluster configuration of this pod (KUBERNETES_SERVICE_HOST is set) cannot be loaded: %v", err)
	}
	config := rest.CopyConfig(loaded)
	f := o.configFlags
	if flagSet(f.Impersonate) {
		config.Impersonate = rest.ImpersonationConfig{UserName: *f.Impersonate}
		if f.ImpersonateUID != nil {
			config.Impersonate.UID = *f.ImpersonateUID
		}
		if f.ImpersonateGroup != nil {
			config.Impersonate.Groups = *f.ImpersonateGroup
		}
		if f.ImpersonateUserExtra != nil {
			for _, extra := range *f.ImpersonateUserExtra {
				if key, value, ok := strings.Cut(extra, "="); ok {
					if config.Impersonate.Extra == nil {
						config.Impersonate.Extra = map[string][]string{}
					}
					config.Impersonate.Extra[key] = append(config.Impersonate.Extra[key], value)
				}
			}
		}
	}
	if flagSet(f.Timeout) {
		if config.Timeout, err = clientcmd.ParseTimeout(*f.Timeout); err != nil {
			return nil, failed("invalid --request-timeout %q: %v", *f.Timeout, err)
		}
	}
	if flagSet(f.BearerToken) {
		config.BearerToken, config.BearerTokenFile = *f.BearerToken, ""
	}
	if flagSet(f.CAFile) {
		config.TLSClientConfig.CAFile, config.TLSClientConfig.CAData = *f.CAFile, nil
	}
	if f.Insecure != nil && *f.Insecure {
		// client-go refuses a CA together with skipping verification.
		config.TLSClientConfig.Insecure = true
		config.TLSClientConfig.CAFile, config.TLSClientConfig.CAData = "", nil
	}
	if flagSet(f.TLSServerName) {
		config.TLSClientConfig.ServerName = *f.TLSServerName
	}
	if f.DisableCompression != nil && *f.DisableCompression {
		config.DisableCompression = true
	}
	return config, nil
}

func (o *DiagnoseOptions) collect(ctx context.Context, kinds []snapshot.Kind) (*snapshot.Snapshot, error) {
	config, err := o.clientConfig()
	if err != nil {
		return nil, err
	}
	contextName := o.contextName()
	config.ContentType = "application/vnd.kubernetes.protobuf"
	config.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	clients, err := collect.NewClients(config)
	if err != nil {
		return nil, failed("cannot configure a client for %s: %v", config.Host, err)
	}
	if err := reach(ctx, clients.Kube, config, contextName, o.namespace); err != nil {
		return nil, err
	}

	progress := startProgress(o.streams.ErrOut, o.env.IsTerminal(o.streams.ErrOut), len(kinds))
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	snap, err := collect.Collect(ctx, clients, kinds, collect.Options{
		Namespace: o.namespace,
		ChunkSize: o.ChunkSize,
		Progress:  progress.update,
		Received:  progress.receive,

		PrometheusURL:     o.PrometheusURL,
		ConntrackResample: collect.DefaultConntrackResample,
	})
	progress.finish()
	if err != nil {
		return nil, failed("reading the cluster at %s: %v", config.Host, err)
	}
	snap.Context = contextName
	snap.Server = config.Host
	return snap, nil
}

// reach makes one cheap request first, so an unreachable server or rejected credentials end
// the run with one clear line, within --request-timeout; with a namespace, it also tells one
// that does not exist.
func reach(ctx context.Context, client kubernetes.Interface, config *rest.Config, contextName, namespace string) error {
	timeout := config.Timeout
	if timeout == 0 {
		timeout = defaultReachTimeout
	}
	reachCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	where := config.Host
	if contextName != "" {
		where += " (context " + contextName + ")"
	}
	_, err := client.Discovery().RESTClient().Get().AbsPath("/version").Do(reachCtx).Raw()
	switch {
	case err == nil:
	case apierrors.IsUnauthorized(err):
		return failed("the API server at %s rejected the credentials: %v", where, err)
	case apierrors.IsForbidden(err):
		// /version is public on most clusters; a refusal here still shows the server is up.
	default:
		var netErr net.Error
		if errors.Is(reachCtx.Err(), context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
			return failed("cannot reach the Kubernetes API server at %s: no answer within %s", where, timeout)
		}
		return failed("cannot reach the Kubernetes API server at %s: %v", where, shortNetError(err))
	}
	if namespace == "" {
		return nil
	}
	if _, err := client.CoreV1().Namespaces().Get(reachCtx, namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return failed("namespace %q not found in %s", namespace, where)
	}
	return nil
}

// shortNetError drops the request URL that *url.Error repeats, keeping the cause.
func shortNetError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (o *DiagnoseOptions) contextName() string {
	if o.configFlags.Context != nil && *o.configFlags.Context != "" {
		return *o.configFlags.Context
	}
	if o.inCluster() {
		return "in-cluster"
	}
	raw, err := o.configFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return ""
	}
	return raw.CurrentContext
}
