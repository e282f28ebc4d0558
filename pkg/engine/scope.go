package engine

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Scope is what a run is about: one namespace (-n) and the objects a label selector picks (-l).
// The checks judge everything that was read, since they need the context (a NetworkPolicy check
// needs every pod); the run then reports the findings about what is in scope. A finding that
// names namespaced objects is in when one of them is: it is in Namespace, and the selector
// matches its labels or, for a workload, its pods' (the pod template's, or those of its pods).
// A finding that names none is in when it names
//
//   - a node that a pod in scope runs on (pods not read: every node, rather than none), or
//   - Namespace itself, or with a selector a namespace whose labels match or that holds a
//     workload or pod in scope.
//
// Nothing else is: cluster-wide findings (no object, cluster roles, the API server) are about
// every namespace, not the one the run is about.
type Scope struct {
	// Namespace is -n on a cluster or a recorded snapshot; "" is every namespace. Manifests are
	// not narrowed by it: there -n names where they would be applied.
	Namespace string
	// Selector is -l; nil selects every object.
	Selector labels.Selector
}

// For is the scope of a run over s: a cluster read with -n, or a snapshot recorded so, holds one
// namespace, and its run is that namespace's whatever the flags of the replay say.
func (sc Scope) For(s *snapshot.Snapshot) Scope {
	if sc.Namespace == "" && s.LimitedToNamespace() {
		sc.Namespace = s.Namespace
	}
	return sc
}

// Narrows tells whether the scope leaves anything out.
func (sc Scope) Narrows() bool { return sc.Namespace != "" || sc.Selector != nil }

// Describe says what the run is limited to, e.g. "namespace shop, -l app=cart".
func (sc Scope) Describe() string {
	var parts []string
	if sc.Namespace != "" {
		parts = append(parts, "namespace "+sc.Namespace)
	}
	if sc.Selector != nil {
		parts = append(parts, "-l "+sc.Selector.String())
	}
	return strings.Join(parts, ", ")
}

// scoped is a Scope applied to one snapshot: what is in it, computed once per run.
type scoped struct {
	sc        Scope
	s         *snapshot.Snapshot
	templates map[snapshot.Ref]labels.Set
	// nodes run a pod in scope; namespaces hold a workload or pod in scope (with a selector).
	nodes, namespaces map[string]bool
	podsUnread        bool
}

// in returns whether a finding is in the run of sc over s.
func (sc Scope) in(s *snapshot.Snapshot) func(check.Finding) bool {
	if !sc.Narrows() {
		return func(check.Finding) bool { return true }
	}
	x := &scoped{sc: sc, s: s, templates: map[snapshot.Ref]labels.Set{}, nodes: map[string]bool{}, namespaces: map[string]bool{}}
	_, x.podsUnread = s.Unavailable[snapshot.KindPods]
	for _, w := range s.Workloads() {
		x.templates[w.Ref] = w.Labels
	}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if !x.podIn(pod) {
			continue
		}
		x.namespaces[pod.Namespace] = true
		// A finished pod holds nothing on its node any more; one being deleted may still.
		if pod.Spec.NodeName != "" && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			x.nodes[pod.Spec.NodeName] = true
		}
	}
	for ref := range x.templates {
		if x.namespacedIn(ref) {
			x.namespaces[ref.Namespace] = true
		}
	}
	return x.findingIn
}

func (x *scoped) findingIn(f check.Finding) bool {
	if slices.ContainsFunc(f.Objects, func(r snapshot.Ref) bool { return r.Namespace != "" }) {
		return slices.ContainsFunc(f.Objects, func(r snapshot.Ref) bool { return r.Namespace != "" && x.namespacedIn(r) })
	}
	return slices.ContainsFunc(f.Objects, x.clusterScopedIn)
}

func (x *scoped) clusterScopedIn(r snapshot.Ref) bool {
	switch {
	case r.Kind == "Node":
		return x.podsUnread || x.nodes[r.Name]
	case r.Kind == "Namespace":
		if x.sc.Namespace != "" && r.Name != x.sc.Namespace {
			return false
		}
		return x.sc.Selector == nil || x.namespaces[r.Name] || x.ownLabelsMatch(r)
	}
	return false
}

func (x *scoped) namespacedIn(r snapshot.Ref) bool {
	if x.sc.Namespace != "" && r.Namespace != x.sc.Namespace {
		return false
	}
	if x.sc.Selector == nil || x.ownLabelsMatch(r) {
		return true
	}
	if template, ok := x.templates[r]; ok && x.sc.Selector.Matches(template) {
		return true
	}
	// A controller whose template was not read (an operator's kind) is selected by its pods.
	return slices.ContainsFunc(x.s.PodsOf(r), func(pod *corev1.Pod) bool { return x.sc.Selector.Matches(labels.Set(pod.Labels)) })
}

func (x *scoped) podIn(pod *corev1.Pod) bool {
	if x.sc.Namespace != "" && pod.Namespace != x.sc.Namespace {
		return false
	}
	return x.sc.Selector == nil || x.sc.Selector.Matches(labels.Set(pod.Labels)) || x.ownLabelsMatch(x.s.TopOwner(pod))
}

func (x *scoped) ownLabelsMatch(r snapshot.Ref) bool {
	meta, found := x.s.ObjectMeta(r)
	return found && x.sc.Selector.Matches(labels.Set(meta.GetLabels()))
}

// Locate finds the object --object names: kind/name in namespace, or, for a namespaced kind
// with namespace "" (-A), in whichever namespace holds it. When s does not hold it, the error
// says so and where else it is: in other namespaces, or as another kind of the same name.
func Locate(s *snapshot.Snapshot, kind snapshot.Kind, namespace, name string) (snapshot.Ref, error) {
	info := kind.Info()
	target := snapshot.RefTo(kind, "", name)
	if info.Namespaced {
		target.Namespace = namespace
	}
	what := target.KubectlTarget()
	if why, unread := s.Unavailable[kind]; unread {
		return target, fmt.Errorf("cannot look for %s: %s could not be read: %s", what, kind, why)
	}
	if !info.Namespaced {
		if _, ok := s.ObjectMeta(target); ok {
			return target, nil
		}
		return target, fmt.Errorf("%s not found%s", what, otherKinds(s, target))
	}
	elsewhere := s.NamespacesOf(info.ObjectKind, name)
	if namespace == "" {
		switch len(elsewhere) {
		case 1:
			target.Namespace = elsewhere[0]
			return target, nil
		case 0:
			return target, fmt.Errorf("%s not found in any namespace%s", what, limitedTo(s))
		}
		return target, fmt.Errorf("%s exists in namespaces %s: add -n with one of them", what, joinAnd(elsewhere))
	}
	if slices.Contains(elsewhere, namespace) {
		return target, nil
	}
	message := fmt.Sprintf("%s not found in namespace %s", what, namespace)
	switch {
	case kind == snapshot.KindConfigMaps && s.Source != snapshot.SourceManifests && !s.LimitedToNamespace() &&
		!slices.Contains(snapshot.ClusterDNSNamespaces(), namespace):
		// Without -n, ConfigMaps are read from the cluster add-ons' namespaces only.
		return target, fmt.Errorf("%s: ConfigMaps are read only in %s unless -n names the namespace: add -n %s",
			message, joinAnd(snapshot.ClusterDNSNamespaces()), namespace)
	case len(elsewhere) == 1:
		return target, fmt.Errorf("%s; it exists in namespace %s: add -n %s", message, elsewhere[0], elsewhere[0])
	case len(elsewhere) > 1:
		return target, fmt.Errorf("%s; it exists in namespaces %s: add -n with one of them", message, joinAnd(elsewhere))
	}
	return target, fmt.Errorf("%s%s%s", message, otherKinds(s, target), limitedTo(s))
}

// otherKinds names the objects of other kinds that have target's name and namespace, for a
// TYPE that was a guess.
func otherKinds(s *snapshot.Snapshot, target snapshot.Ref) string {
	var found []string
	for _, kind := range s.KindsNamed(target.Namespace, target.Name) {
		if !strings.EqualFold(kind, target.Kind) {
			found = append(found, strings.ToLower(kind)+"/"+target.Name)
		}
	}
	if len(found) == 0 {
		return ""
	}
	return fmt.Sprintf(" (there is %s)", joinAnd(found))
}

// limitedTo says that a run limited to a namespace has looked nowhere else.
func limitedTo(s *snapshot.Snapshot) string {
	if !s.LimitedToNamespace() {
		return ""
	}
	return fmt.Sprintf("; the run read namespace %s only (-n)", s.Namespace)
}

func joinAnd(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
