package cmd

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/restmapper"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// RBACAuditOptions are the flags of `rbac-audit`; the report flags are diagnose's.
type RBACAuditOptions struct {
	*DiagnoseOptions
	Subject string
	WhoCan  bool

	args []string
}

func newRBACAuditCommand(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, env Environment) *cobra.Command {
	o := &RBACAuditOptions{DiagnoseOptions: &DiagnoseOptions{configFlags: configFlags, streams: streams, env: env, Thresholds: checks.DefaultOptions()}}
	o.catalog = rbacAuditRuns
	cmd := &cobra.Command{
		Use:   "rbac-audit [--subject KIND:NAME | --who-can VERB RESOURCE[/SUBRESOURCE]]",
		Short: "Find who can take over the cluster: risky RBAC subjects, one subject's permissions, or who may do something",
		Long: `rbac-audit computes every subject's effective permissions from Roles, ClusterRoles (aggregated
ones included) and their bindings, and reports the risky subjects most dangerous first, each with
the path that grants the permission: subject -> binding -> role -> rule. The API server's own
bootstrap bindings are known defaults and not reported.

  --subject KIND:NAME   everything one subject may do: sa:NAMESPACE/NAME, user:NAME or group:NAME
  --who-can VERB RES    every subject allowed, and through which binding; RES is a resource
                        (pods, deployments.apps, pods/exec) or a non-resource path (/metrics).
                        The namespace is -n, else the context's; cluster-scoped resources have none.

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
			if err := o.Complete(cmd); err != nil {
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
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	o.addReportFlags(f)
	f.StringVar(&o.Subject, "subject", "", "Show everything this subject may do: sa:NAMESPACE/NAME, user:NAME or group:NAME")
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
	case o.explain && (o.Subject != "" || o.WhoCan):
		return usageError(cmd, fmt.Errorf("--explain-permissions explains the audit's own reads; it does not combine with --subject or --who-can"))
	case o.PushGateway != "" && (o.Subject != "" || o.WhoCan):
		return failed("--subject and --who-can answer a question rather than write a report: leave out --push-gateway")
	case !o.WhoCan && len(o.args) > 0:
		return usageError(cmd, fmt.Errorf("unexpected arguments %q (did you mean --who-can?)", o.args))
	}
	return nil
}

// rbacSnapshot reads the RBAC objects, from the cluster or from -f.
func (o *RBACAuditOptions) rbacSnapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	kinds := []snapshot.Kind{snapshot.KindClusterRoleBindings, snapshot.KindRoleBindings, snapshot.KindClusterRoles, snapshot.KindRoles}
	var snap *snapshot.Snapshot
	var err error
	if len(o.Filenames) > 0 {
		snap, err = o.loadManifests()
	} else {
		snap, err = o.collect(ctx, kinds)
	}
	if err != nil {
		return nil, err
	}
	for _, k := range kinds {
		if why, blind := snap.Unavailable[k]; blind {
			// A partial answer to "who can" would be a wrong one.
			return nil, failed("cannot read %s, so the answer would be incomplete: %s", k, why)
		}
	}
	snap.CollectedAt = o.env.Now()
	return snap, nil
}

func (o *RBACAuditOptions) metadata(snap *snapshot.Snapshot) report.Metadata {
	return report.Metadata{Source: string(snap.Source), Context: snap.Context, Server: snap.Server, Namespace: snap.Namespace,
		GeneratedAt: o.env.Now().UTC().Truncate(1e9)}
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

func accessGrant(g snapshot.Grant) report.AccessGrant {
	return report.AccessGrant{
		Subject: report.Subject{Kind: g.Subject.Kind, Name: g.Subject.Name, Namespace: g.Subject.Namespace},
		Binding: g.Binding, Role: g.Role, Namespace: g.Namespace, Rule: *g.Rule, Default: g.Default,
	}
}

func (o *RBACAuditOptions) runSubject(ctx context.Context) error {
	subject, identity, err := parseSubject(o.Subject)
	if err != nil {
		return failed("%v", err)
	}
	if o.namespace != "" {
		return failed("--subject answers for every namespace at once; -n does not apply (use --who-can with -n)")
	}
	snap, err := o.rbacSnapshot(ctx)
	if err != nil {
		return err
	}
	access := &report.SubjectAccess{APIVersion: report.APIVersion, Kind: report.KindSubjectAccess, Metadata: o.metadata(snap),
		Subject: subject, User: identity.User, Groups: identity.Groups, Grants: []report.AccessGrant{}}
	for _, g := range snap.Grants() {
		if identity.Holds(g.Subject) {
			access.Grants = append(access.Grants, accessGrant(g))
		}
	}
	if err := render.WriteSubjectAccess(o.streams.Out, access, o.format); err != nil {
		return failed("writing the answer: %v", err)
	}
	return nil
}

func (o *RBACAuditOptions) runWhoCan(ctx context.Context) error {
	request, err := o.whoCanRequest()
	if err != nil {
		return err
	}
	snap, err := o.rbacSnapshot(ctx)
	if err != nil {
		return err
	}
	answer := &report.WhoCan{APIVersion: report.APIVersion, Kind: report.KindWhoCan, Metadata: o.metadata(snap),
		Request: report.AccessRequest{Verb: request.Verb, APIGroup: request.APIGroup, Resource: request.Resource,
			Subresource: request.Subresource, Namespace: request.Namespace, Path: request.Path},
		Grants: []report.AccessGrant{}}
	seen := map[string]bool{}
	for _, g := range snap.Grants() {
		// One row per subject and binding: further rules of the same binding say nothing new.
		key := g.Subject.Kind + "/" + g.Subject.Namespace + "/" + g.Subject.Name + "|" + g.Binding.String()
		if !seen[key] && g.Applies(request) && snapshot.RuleAllows(*g.Rule, request) {
			seen[key] = true
			answer.Grants = append(answer.Grants, accessGrant(g))
		}
	}
	if err := render.WriteWhoCan(o.streams.Out, answer, o.format); err != nil {
		return failed("writing the answer: %v", err)
	}
	return nil
}

// whoCanRequest turns VERB RESOURCE into a request: the resource's API group and scope come from
// the server's discovery (or, for manifests, from the types this tool knows), the namespace from
// -n or the context.
func (o *RBACAuditOptions) whoCanRequest() (snapshot.Request, error) {
	verb, target := o.args[0], o.args[1]
	if strings.HasPrefix(target, "/") {
		return snapshot.Request{Verb: verb, Path: target}, nil
	}
	resource, subresource, _ := strings.Cut(target, "/")
	resource, group, explicitGroup := strings.Cut(resource, ".")
	namespaced := true
	gvr, scope, err := o.resolveResource(schema.GroupVersionResource{Group: group, Resource: resource}, explicitGroup)
	if err != nil {
		return snapshot.Request{}, err
	}
	if scope != nil {
		namespaced = scope.Name() == meta.RESTScopeNameNamespace
	}
	request := snapshot.Request{Verb: verb, APIGroup: gvr.Group, Resource: gvr.Resource, Subresource: subresource}
	if namespaced {
		request.Namespace = o.namespace
		if request.Namespace == "" {
			ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
			if err != nil || ns == "" {
				ns = "default"
			}
			request.Namespace = ns
		}
	}
	return request, nil
}

// resolveResource finds a resource's group (and scope) by discovery on a cluster; for manifests,
// among the built-in types, core group first.
func (o *RBACAuditOptions) resolveResource(partial schema.GroupVersionResource, explicitGroup bool) (schema.GroupVersionResource, meta.RESTScope, error) {
	if len(o.Filenames) == 0 {
		config, err := o.configFlags.ToRESTConfig()
		if err == nil {
			var dc discovery.DiscoveryInterface
			if dc, err = discovery.NewDiscoveryClientForConfig(config); err == nil {
				mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
				var gvr schema.GroupVersionResource
				if gvr, err = mapper.ResourceFor(partial); err == nil {
					var gvk schema.GroupVersionKind
					var mapping *meta.RESTMapping
					if gvk, err = mapper.KindFor(gvr); err == nil {
						if mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
							return gvr, mapping.Scope, nil
						}
					}
				}
			}
		}
		if gvr, ok := virtualResource(partial, explicitGroup); ok {
			return gvr, clusterScope{}, nil
		}
		return schema.GroupVersionResource{}, nil, failed("unknown resource %q on this server: %v", partial.Resource, err)
	}
	if gvr, ok := virtualResource(partial, explicitGroup); ok {
		return gvr, clusterScope{}, nil
	}
	if explicitGroup {
		if slices.Contains(clusterScopedBuiltins(), partial.Resource) {
			return partial, clusterScope{}, nil
		}
		return partial, namespaceScope{}, nil
	}
	var groups []string
	for gvk := range clientgoscheme.Scheme.AllKnownTypes() {
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		if plural.Resource == partial.Resource && !slices.Contains(groups, gvk.Group) {
			groups = append(groups, gvk.Group)
		}
	}
	if len(groups) == 0 {
		return schema.GroupVersionResource{}, nil, failed("unknown resource %q: name its group, as in widgets.example.com", partial.Resource)
	}
	slices.Sort(groups) // "" (core) sorts first
	gvr := schema.GroupVersionResource{Group: groups[0], Resource: partial.Resource}
	if slices.Contains(clusterScopedBuiltins(), partial.Resource) {
		return gvr, clusterScope{}, nil
	}
	return gvr, namespaceScope{}, nil
}

// clusterScopedBuiltins are the built-in resources that live in no namespace; without a server
// to ask, they tell where a request for manifests is made.
func clusterScopedBuiltins() []string {
	return []string{"apiservices", "certificatesigningrequests", "clusterrolebindings", "clusterroles", "componentstatuses",
		"csidrivers", "csinodes", "customresourcedefinitions", "deviceclasses", "flowschemas", "ingressclasses", "ipaddresses",
		"mutatingadmissionpolicies", "mutatingadmissionpolicybindings", "mutatingwebhookconfigurations", "namespaces", "nodes",
		"persistentvolumes", "priorityclasses", "prioritylevelconfigurations", "runtimeclasses", "selfsubjectaccessreviews",
		"selfsubjectreviews", "selfsubjectrulesreviews", "servicecidrs", "storageclasses", "subjectaccessreviews", "tokenreviews",
		"validatingadmissionpolicies", "validatingadmissionpolicybindings", "validatingwebhookconfigurations", "volumeattachments"}
}

// virtualResource knows the resources RBAC names that no API serves as objects: the targets of
// impersonation and the certificate signers. They are cluster-wide.
func virtualResource(partial schema.GroupVersionResource, explicitGroup bool) (schema.GroupVersionResource, bool) {
	groups := map[string]string{"users": "", "groups": "", "userextras": "authentication.k8s.io", "uids": "authentication.k8s.io",
		"signers": "certificates.k8s.io"}
	group, ok := groups[partial.Resource]
	if !ok || (explicitGroup && partial.Group != group) {
		return schema.GroupVersionResource{}, false
	}
	return schema.GroupVersionResource{Group: group, Resource: partial.Resource}, true
}

// clusterScope and namespaceScope say where a resource lives when no RESTMapper says it.
type (
	clusterScope   struct{}
	namespaceScope struct{}
)

func (clusterScope) Name() meta.RESTScopeName   { return meta.RESTScopeNameRoot }
func (namespaceScope) Name() meta.RESTScopeName { return meta.RESTScopeNameNamespace }
