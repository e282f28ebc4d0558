package cmd

import (
	"context"
	"slices"

	"k8s.io/client-go/kubernetes"

	"github.com/alertmend/kubectl-alertmend/pkg/collect"
	"github.com/alertmend/kubectl-alertmend/pkg/connect"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// explainPermissions answers --explain-permissions for the plan: the requests the collector
// would make, whether this identity may make each, and the checks a refusal blinds.
func (r *reportRun) explainPermissions(ctx context.Context, plan engine.Plan) error {
	if len(r.source.Filenames) > 0 || r.source.SnapshotFile != "" {
		return failed("--explain-permissions asks the cluster what this identity may read; it does not combine with -f or --snapshot")
	}
	config, err := r.target.RESTConfig()
	if err != nil {
		return failed("%v", err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return failed("cannot configure a client for %s: %v", config.Host, err)
	}
	if r.source.Timeout > 0 {
		// --timeout bounds the questions as it bounds a run's reads, the first one included.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.source.Timeout)
		defer cancel()
	}
	// Only /version: telling whether -n's namespace exists would be a read this mode does not make.
	contact := connect.Contact{Context: r.target.ContextName(), Timeout: r.source.Timeout, Notice: r.source.Notice}
	if err := connect.Reach(ctx, client, config, contact); err != nil {
		return failed("%v", err)
	}
	namespace := r.source.Namespace
	// Limited to a namespace, the checks that need objects beyond it do not apply whatever
	// this identity may do: only the others count.
	var counted []collect.CheckNeeds
	for _, c := range plan.Run {
		if m := c.Meta(); m.OutOfNamespace(namespace) == "" {
			counted = append(counted, collect.CheckNeeds{ID: m.ID, Requires: m.Requires, Optional: m.Optional})
		}
	}
	kinds := r.kinds(plan)
	permissions, err := collect.ExplainPermissions(ctx, client, kinds, namespace, r.source.PrometheusURL != "", counted)
	if err != nil {
		return failed("%v", err)
	}
	notes := render.PermissionNotes{WholeClusterOnly: len(plan.Run) - len(counted), Namespace: namespace,
		AnonymousProbe: slices.Contains(kinds, snapshot.KindAnonymousAccess)}
	if err := render.WritePermissions(r.streams.Out, permissions, r.format, notes); err != nil {
		return failed("writing the permissions: %v", err)
	}
	if len(permissions.NotEvaluated) > 0 {
		return &ExitError{Code: report.ExitIncomplete}
	}
	return nil
}
