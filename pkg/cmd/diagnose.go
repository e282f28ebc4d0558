package cmd

import (
	"strings"

	"github.com/alertmend/kubectl-alertmend/pkg/check"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/alertmend/kubectl-alertmend/checks"
)

// DiagnoseOptions are the flags of `diagnose`.
type DiagnoseOptions struct {
	configFlags *genericclioptions.ConfigFlags
	streams     genericiooptions.IOStreams
	env         Environment

	reportFlags
	Categories []string
	Thresholds checks.Options
	// SystemNamespaces is --system-namespaces, which the NetworkPolicy and Pod Security checks
	// share; netpolSystemNamespaces is its older name, still accepted.
	SystemNamespaces       []string
	netpolSystemNamespaces []string
	// Incidents is --incidents: list only the incidents, root causes with their symptoms.
	Incidents bool
	watchFlags
	alertmanagerFlags
	listenFlags
}

func newDiagnoseCommand(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, env Environment) *cobra.Command {
	o := &DiagnoseOptions{configFlags: configFlags, streams: streams, env: env, Thresholds: checks.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "diagnose",
		Short: "Diagnose the current cluster, or manifests with -f, and print prioritized findings",
		Long: `Diagnose reads the cluster of the current kubeconfig context once, runs every
selected check on that state, and prints the findings most urgent first:
severity, then what is broken now before what could break, then breadth. Checks
that could not see what they need (forbidden, not served) are listed as not
evaluated, never as passed.

With -f, it checks manifests instead (files, directories, or - for stdin), so a
CI pipeline can gate a deploy; checks that judge live status are left out then.

With -n NS the run is about one namespace: its objects, and the nodes its pods
run on; checks that need more, or that judge components running elsewhere
(cluster DNS, kube-proxy), do not apply. With -l SELECTOR only the findings
about the objects it selects are reported; the checks still read everything
they judge by. Findings left out by either are counted in a note on stderr.
--object names one object, and is an error when it is not there.

` + watchHelp + `
` + exitCodesHelp,
		Example: `  # Diagnose the current context's cluster
  kubectl alertmend diagnose

  # Only one namespace, only workload incidents
  kubectl alertmend diagnose -n shop --category workloads

  # What on-call reads first: root causes, their symptoms, what changed before
  kubectl alertmend diagnose --incidents

  # Only what concerns the objects labelled app=cart
  kubectl alertmend diagnose -l app=cart

  # Gate manifests in CI: fail on medium or worse, machine-readable output
  kubectl alertmend diagnose -f deploy/ --fail-on medium -o json

  # Gate only on findings new since the baseline, for GitHub code scanning
  helm template ./chart | kubectl alertmend diagnose -f - \
    --baseline .alertmend-baseline.yaml -o sarif

  # Everything about one pod: its own findings, its controller's and its node's
  kubectl alertmend diagnose -n shop --object pod/cart-7d9f8-x2x4q

  # Keep watching: print what appears, changes and resolves (Ctrl-C ends it)
  kubectl alertmend diagnose --watch -n shop

  # Keep watching, alert Alertmanager, and serve /metrics, /healthz, /readyz
  kubectl alertmend diagnose --watch -o json --listen :8080 \
    --alertmanager-url http://alertmanager.monitoring:9093

  # Replay a snapshot someone recorded with "kubectl alertmend snapshot"
  kubectl alertmend diagnose --snapshot incident.alertmend.gz

  # Before a run: what would be read, and what may this identity read?
  kubectl alertmend diagnose --explain-permissions

  # Every production cluster of the kubeconfig at once, with a fleet summary
  kubectl alertmend diagnose --all-contexts='prod-*'

  # In a CronJob: push the findings as metrics to a Pushgateway
  kubectl alertmend diagnose -o json --fail-on none \
    --push-gateway http://pushgateway.monitoring:9091 \
    --push-grouping cluster=prod-eu`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := fleetArgsHint(cmd, args); err != nil {
				return err
			}
			return cobra.NoArgs(cmd, args)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			run, err := o.Complete(cmd)
			if err != nil {
				return err
			}
			return run.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	o.addReportFlags(f)
	f.StringSliceVar(&o.Categories, "category", nil, "Run only these categories: "+categoryList())
	f.Float64Var(&o.Thresholds.Resources.MemoryOvercommitRatio, "memory-overcommit-ratio", o.Thresholds.Resources.MemoryOvercommitRatio,
		"memory-overcommit reports memory limits more than this many times the request")
	f.StringSliceVar(&o.SystemNamespaces, "system-namespaces", o.Thresholds.Netpol.SystemNamespaces,
		"namespaces of the cluster's own components: the NetworkPolicy coverage checks leave them alone, and the Pod Security "+
			"checks report their privileged workloads once, at info (default "+strings.Join(o.Thresholds.Netpol.SystemNamespaces, ", ")+
			"; --netpol-system-namespaces is its old name)")
	// The default is in the usage, in words that wrap; pflag would print it as one long word.
	f.Lookup("system-namespaces").DefValue = "[]"
	f.BoolVar(&o.Incidents, "incidents", false, "List only the incidents: each root cause with the findings it explains and what changed before it "+
		"(the summary still counts every finding, and --fail-on still judges them all)")
	f.StringSliceVar(&o.netpolSystemNamespaces, "netpol-system-namespaces", nil, "the old name of --system-namespaces")
	_ = f.MarkHidden("netpol-system-namespaces")
	o.watchFlags.add(f)
	o.alertmanagerFlags.add(f)
	o.listenFlags.add(f)
	return cmd
}

// Complete turns the flags into a validated run.
func (o *DiagnoseOptions) Complete(cmd *cobra.Command) (*reportRun, error) {
	if o.Thresholds.Resources.MemoryOvercommitRatio < 1 {
		return nil, failed("invalid --memory-overcommit-ratio %g: must be 1 or more", o.Thresholds.Resources.MemoryOvercommitRatio)
	}
	if f := cmd.Flags(); f.Changed("netpol-system-namespaces") {
		if f.Changed("system-namespaces") {
			return nil, failed("--netpol-system-namespaces is the old name of --system-namespaces: give one of them")
		}
		o.SystemNamespaces = o.netpolSystemNamespaces
	}
	if err := o.watchFlags.validate(cmd.Flags().Changed, &o.reportFlags); err != nil {
		return nil, err
	}
	o.Thresholds.Netpol.SystemNamespaces = o.SystemNamespaces
	o.Thresholds.PodSecurity.SystemNamespaces = o.SystemNamespaces
	run, err := o.completeReport(cmd, o.configFlags, o.streams, o.env, o.Thresholds, nil)
	if err != nil {
		return nil, err
	}
	run.selection.Categories = o.Categories
	run.incidentsOnly = o.Incidents
	run.watch = o.watchFlags.settings()
	if err := o.completeObservers(run); err != nil {
		return nil, err
	}
	return run, nil
}

// categoryList names the categories for --category's help, from the catalog's own list.
func categoryList() string {
	var names []string
	for _, c := range check.Categories() {
		names = append(names, string(c))
	}
	return strings.Join(names, ", ")
}

// completeObservers makes what a watch tells of its evaluations besides its output: alerts
// to Alertmanager and the --listen server, whose address is bound now, before the cluster is
// read, so an address in use is refused at once.
func (o *DiagnoseOptions) completeObservers(run *reportRun) error {
	if !o.Watch {
		switch {
		case len(o.alertmanagerFlags.URLs) > 0:
			return failed("--alertmanager-url sends a watch's findings as they come and go: add --watch (a single run would never resolve them)")
		case o.listenFlags.Addr != "":
			return failed("--listen serves a watch's metrics while it runs: add --watch (a single run can push its metrics with --push-gateway)")
		}
	}
	sender, err := o.alertmanagerFlags.sender(o.streams.ErrOut, run.failOn, "", o.env)
	if err != nil {
		return err
	}
	listener, err := o.listenFlags.open()
	if err != nil {
		return err
	}
	run.alerts, run.listener = sender, listener
	return nil
}
