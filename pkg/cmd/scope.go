package cmd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/connect"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	"github.com/alertmend/kubectl-alertmend/pkg/source"
)

// What a run is about: -n, -A, -l and --object, read from the flags here and applied by the
// engine (engine.Scope, engine.Locate).

// objectTarget is --object: a kind and a name, looked for in namespace (-n's, else the
// context's, as kubectl does; "" with -A: any) once the snapshot is read.
type objectTarget struct {
	kind            snapshot.Kind
	namespace, name string
}

// parseObject reads --object TYPE/NAME.
func parseObject(object string) (*objectTarget, error) {
	typ, name, ok := strings.Cut(object, "/")
	if !ok || typ == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("invalid --object %q: want TYPE/NAME, e.g. pod/cart-1 or deployment/cart", object)
	}
	kind, ok := snapshot.KindForType(typ)
	if !ok {
		return nil, fmt.Errorf("invalid --object %q: unknown type %q%s", object, typ, snapshot.UnknownTypeHint(typ))
	}
	return &objectTarget{kind: kind, name: name}, nil
}

// addAllNamespacesFlag adds kubectl's -A: every namespace is already the default, so it only
// says so, and conflicts with -n.
func addAllNamespacesFlag(f *pflag.FlagSet, all *bool) {
	f.BoolVarP(all, "all-namespaces", "A", false, "Every namespace: the default without -n, accepted as in kubectl; unlike kubectl, -A with -n is an error")
}

// namespaceFlag is -n when given ("" when not), refusing it together with -A: kubectl lets -A
// win silently, but a run that reports on the wrong scope is worse than one that stops.
func namespaceFlag(cmd *cobra.Command, allNamespaces bool) (string, error) {
	nsFlag := cmd.Flag("namespace")
	if nsFlag == nil || !nsFlag.Changed {
		return "", nil
	}
	if allNamespaces {
		return "", usageError(cmd, fmt.Errorf("-A (--all-namespaces) and -n %s ask for different runs: give one", nsFlag.Value.String()))
	}
	return nsFlag.Value.String(), nil
}

// scope is what the run reports on: -n on a cluster or a snapshot (manifests are not narrowed
// by -n, which names where they would be applied), and -l.
func (o *reportFlags) scope(src source.Config) (engine.Scope, error) {
	var sc engine.Scope
	if src.Kind() != snapshot.SourceManifests {
		sc.Namespace = src.Namespace
	}
	if o.Selector != "" {
		selector, err := labels.Parse(o.Selector)
		if err != nil {
			return sc, failed("invalid -l/--selector %q: %v", o.Selector, err)
		}
		sc.Selector = selector
	}
	return sc, nil
}

// objectTarget is --object, if given: its namespace is -n's; with -f, default, where manifests
// that name none are loaded whatever the kubeconfig's context says; else the context's; with
// -A, any, looked for once the snapshot is read.
func (o *reportFlags) objectTarget(src source.Config, target connect.Target) (*objectTarget, error) {
	if o.Object == "" {
		return nil, nil
	}
	object, err := parseObject(o.Object)
	if err != nil {
		return nil, failed("%v", err)
	}
	switch {
	case o.AllNamespaces:
	case src.Namespace != "":
		object.namespace = src.Namespace
	case len(src.Filenames) > 0:
		object.namespace = metav1.NamespaceDefault
	default:
		object.namespace = target.Namespace()
	}
	return object, nil
}

// locate finds --object in what was read; nil without it.
func (r *reportRun) locate(snap *snapshot.Snapshot, src source.Config) (*snapshot.Ref, error) {
	if r.object == nil {
		return nil, nil
	}
	namespace := r.object.namespace
	if snap.LimitedToNamespace() && src.Namespace == "" {
		namespace = snap.Namespace // a snapshot recorded with -n holds that namespace only
	}
	found, err := engine.Locate(snap, r.object.kind, namespace, r.object.name)
	if err != nil {
		return nil, failed("--object: %v", err)
	}
	return &found, nil
}

// kinds is what the run reads: the plan's, the --object's kind, to find it, and pods when the
// scope is narrowed, to tell the nodes that run its pods.
func (r *reportRun) kinds(plan engine.Plan) []snapshot.Kind {
	kinds := liveKinds(plan)
	if r.object != nil {
		kinds = withKinds(kinds, r.object.kind)
	}
	if r.policy.Scope.Narrows() {
		kinds = withKinds(kinds, snapshot.KindPods)
	}
	return kinds
}

func withKinds(kinds []snapshot.Kind, more ...snapshot.Kind) []snapshot.Kind {
	for _, k := range more {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds
}
