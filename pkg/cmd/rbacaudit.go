package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/connect"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	"github.com/alertmend/kubectl-alertmend/pkg/source"
)

// RBACAuditOptions are the flags of `rbac-audit`; its report flags are diagnose's.
type RBACAuditOptions struct {
	configFlags *genericclioptions.ConfigFlags
	streams     genericiooptions.IOStreams
	env         Environment

	reportFlags
	Subject string
	WhoCan  bool

	args []string
	run  *reportRun
}

func newRBACAuditCommand(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, env Environment) *cobra.Command {
	o := &RBACAuditOptions{configFlags: configFlags, streams: streams, env: env}
	cmd := &cobra.Command{
		Use:   "rbac-audit [--subject KIND:NAME | --who-can VERB RESOURCE[/SUBRESOURCE]]",
		Short: "Find who can take over the cluster: risky RBAC subjects, one subject's permissions, or who may do something",
		Long: `rbac-audit computes every subject's effective permissions from Roles,
ClusterRoles (aggregated ones included) and their bindings, and reports the
risky subjects most dangerous first, each with the path that grants the
permission: subject -> binding -> role -> rule. The API server's own bootstrap
bindings are known defaults and not reported.

  --subject KIND:NAME  everything one subject may do: sa:NAMESPACE/NAME,
                       user:NAME or group:NAME
  --who-can VERB RES   every subject allowed, and through which binding; RES is
                       a resource (pods, deployments.apps, pods/exec) or a
                       non-resource path (/metrics). The namespace is -n, else
                       the context's, or with -A all of them at once;
                       cluster-scoped resources have none.

` + exitCodesHelp,
		Example: `  # Risky subjects, most dangerous first
  kubectl alertmend rbac-audit

  # What may the CI deployer do?
  kubectl alertmend rbac-audit --subject sa:ci/deployer

  # Who may read Secrets in kube-system?
  kubectl alertmend rbac-audit --who-can get secrets -n kube-system

  # Risky subjects in two clusters, one JSON document
  kubectl alertmend rbac-audit --contexts prod-eu,prod-us -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fleetArgsHint(cmd, args); err != nil {
				return err
			}
			o.args = args
			var err error
			if o.run, err = o.completeReport(cmd, o.configFlags, o.streams, o.env, checks.DefaultOptions(), rbacAuditRuns); err != nil {
				return err
			}
			if err := o.validateMode(cmd); err != nil {
				return err
			}
			switch {
			case o.Subject != "":
				return o.runSubject(cmd.Context())
			case o.WhoCan:
				return o.runWhoCan(cmd.Context())
			}
			return o.run.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	o.addReportFlags(f)
	f.StringVar(&o.Subject, "subject", "", "Show everything this subject may do: `KIND:NAME` is sa:NAMESPACE/NAME, user:NAME or group:NAME")
	f.BoolVar(&o.WhoCan, "who-can", false, "Show every subject allowed VERB on RESOURCE (two arguments)")
	return cmd
}

// rbacAuditRuns narrows the catalog to what rbac-audit runs: the RBAC checks and the one
// API server check about a binding.
func rbacAuditRuns(m check.Meta) bool {
	return m.Category == check.CategoryRBAC || m.ID == "apiserver-anonymous-binding"
}

func (o *RBACAuditOptions) validateMode(cmd *cobra.Command) error {
	switch {
	case o.Subject != "" && o.WhoCan:
		return usageError(cmd, fmt.Errorf("--subject and --who-can are separate questions: give one"))
	case o.WhoCan && len(o.args) != 2:
		return usageError(cmd, fmt.Errorf("--who-can takes two arguments, VERB and RESOURCE (e.g. --who-can get secrets), got %d", len(o.args)))
	case o.ExplainPermissions && (o.Subject != "" || o.WhoCan):
		return usageError(cmd, fmt.Errorf("--explain-permissions explains the audit's own reads; it does not combine with --subject or --who-can"))
	case o.PushGateway != "" && (o.Subject != "" || o.WhoCan):
		return failed("--subject and --who-can answer a question rather than write a report: leave out --push-gateway")
	case o.Selector != "" && (o.Subject != "" || o.WhoCan):
		return failed("-l narrows a report's findings; --subject and --who-can answer a question about every binding: leave out -l")
	case !o.WhoCan && len(o.args) > 0:
		return usageError(cmd, fmt.Errorf("unexpected arguments %q (did you mean --who-can?)", o.args))
	}
	return nil
}

// rbacSnapshot reads the RBAC objects, from the cluster or from -f.
func (o *RBACAuditOptions) rbacSnapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	kinds := []snapshot.Kind{snapshot.KindClusterRoleBindings, snapshot.KindRoleBindings, snapshot.KindClusterRoles, snapshot.KindRoles}
	src := o.run.source
	if len(src.Filenames) > 0 {
		// Here -n is where the question is asked, not where the manifests would be applied: they
		// are read as they are, whatever namespaces they name.
		src.Namespace = ""
	}
	snap, err := source.Read(ctx, src, kinds)
	if err != nil {
		return nil, failed("%v", err)
	}
	for _, k := range kinds {
		if why, blind := snap.Unavailable[k]; blind {
			// A partial answer to "who can" would be a wrong one.
			return nil, failed("cannot read %s, so the answer would be incomplete: %s", k, why)
		}
	}
	return snap, nil
}

// parseSubject reads sa:NAMESPACE/NAME, user:NAME or group:NAME into a subject and the identity
// the authorizer would see for it (users and service accounts are authenticated).
func parseSubject(value string) (report.Subject, snapshot.Identity, error) {
	kind, name, ok := strings.Cut(value, ":")
	if !ok || name == "" {
		return report.Subject{}, snapshot.Identity{}, fmt.Errorf("invalid --subject %q: want sa:NAMESPACE/NAME, user:NAME or group:NAME", value)
	}
	switch strings.ToLower(kind) {
	case "sa", "serviceaccount":
		ns, sa, ok := strings.Cut(name, "/")
		if !ok || ns == "" || sa == "" {
			return report.Subject{}, snapshot.Identity{}, fmt.Errorf("invalid --subject %q: a service account is sa:NAMESPACE/NAME", value)
		}
		return report.Subject{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}, snapshot.ServiceAccountIdentity(ns, sa), nil
	case "user":
		return report.Subject{Kind: rbacv1.UserKind, Name: name}, snapshot.Identity{User: name, Groups: []string{"system:authenticated"}}, nil
	case "group":
		return report.Subject{Kind: rbacv1.GroupKind, Name: name}, snapshot.Identity{Groups: []string{name}}, nil
	}
	return report.Subject{}, snapshot.Identity{}, fmt.Errorf("invalid --subject %q: the kind is sa, user or group", value)
}

func (o *RBACAuditOptions) runSubject(ctx context.Context) error {
	subject, identity, err := parseSubject(o.Subject)
	if err != nil {
		return failed("%v", err)
	}
	if o.run.source.Namespace != "" {
		return failed("--subject answers for every namespace at once; -n does not apply (use --who-can with -n)")
	}
	snap, err := o.rbacSnapshot(ctx)
	if err != nil {
		return err
	}
	access := engine.SubjectAccess(snap, subject, identity, o.env.Now())
	if err := render.WriteSubjectAccess(o.streams.Out, access, o.run.format); err != nil {
		return failed("writing the answer: %v", err)
	}
	return nil
}

func (o *RBACAuditOptions) runWhoCan(ctx context.Context) error {
	request, err := o.whoCanRequest(ctx)
	if err != nil {
		return err
	}
	snap, err := o.rbacSnapshot(ctx)
	if err != nil {
		return err
	}
	answer := engine.WhoCan(snap, request, o.env.Now())
	if err := render.WriteWhoCan(o.streams.Out, answer, o.run.format); err != nil {
		return failed("writing the answer: %v", err)
	}
	return nil
}

// whoCanRequest turns VERB RESOURCE into a request: the resource's API group and scope come from
// the server's discovery (or, for manifests, from the types this tool knows), the namespace from
// -n or the context.
func (o *RBACAuditOptions) whoCanRequest(ctx context.Context) (snapshot.Request, error) {
	verb, target := o.args[0], o.args[1]
	if strings.HasPrefix(target, "/") {
		return snapshot.Request{Verb: verb, Path: target}, nil
	}
	resource, subresource, _ := strings.Cut(target, "/")
	resource, group, explicitGroup := strings.Cut(resource, ".")
	partial := schema.GroupVersionResource{Group: group, Resource: resource}
	resolve := func(partial schema.GroupVersionResource, explicitGroup bool) (schema.GroupVersionResource, bool, error) {
		contact := connect.Contact{Context: o.run.target.ContextName(), Timeout: o.Timeout, Notice: o.run.source.Notice}
		return o.run.target.Resource(ctx, partial, explicitGroup, contact)
	}
	if len(o.Filenames) > 0 {
		resolve = connect.BuiltinResource
	}
	gvr, namespaced, err := resolve(partial, explicitGroup)
	if err != nil {
		return snapshot.Request{}, failed("%v", err)
	}
	request := snapshot.Request{Verb: verb, APIGroup: gvr.Group, Resource: gvr.Resource, Subresource: subresource}
	// With -A the question is asked across all namespaces, as kubectl auth can-i -A asks it.
	if namespaced && !o.AllNamespaces {
		request.Namespace = o.run.source.Namespace
		if request.Namespace == "" {
			request.Namespace = o.run.target.Namespace()
		}
	}
	return request, nil
}
