package aggregated

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// NamespaceTerminatingStuck finds namespaces whose deletion the namespace controller reports
// it cannot finish.
type NamespaceTerminatingStuck struct{}

func (NamespaceTerminatingStuck) Meta() check.Meta {
	return check.Meta{
		ID:       "namespace-terminating-stuck",
		Title:    "Namespaces are stuck terminating",
		Category: check.CategoryAPIServer,
		Severity: check.Medium,
		Requires: []snapshot.Kind{snapshot.KindNamespaces},
		LiveOnly: true,
		Description: "Reads the conditions the namespace controller sets on a terminating namespace: " +
			"NamespaceDeletionDiscoveryFailure (an API group cannot be listed, most often an unavailable aggregated " +
			"API), NamespaceDeletionContentFailure, NamespaceDeletionGroupVersionParsingFailure, and " +
			"NamespaceContentRemaining or NamespaceFinalizersRemaining (objects whose finalizers no controller removes).",
		Why: "A namespace that cannot finish deleting keeps its name: it cannot be recreated, its remaining " +
			"objects linger, and CI or tenants that recreate namespaces by name fail.",
		Remediation: "Remove the cause the condition names: bring back or remove the unavailable API, or let the " +
			"controller that owns the remaining finalizers run. Removing finalizers by hand leaves what they guard behind.",
		References: []string{"https://kubernetes.io/docs/tasks/administer-cluster/namespaces/#deleting-a-namespace"},
	}
}

// stuckConditions are the namespace conditions that hold a deletion up, in the order a person
// should read them.
func stuckConditions() []corev1.NamespaceConditionType {
	return []corev1.NamespaceConditionType{
		corev1.NamespaceDeletionDiscoveryFailure, corev1.NamespaceDeletionGVParsingFailure, corev1.NamespaceDeletionContentFailure,
		corev1.NamespaceFinalizersRemaining, corev1.NamespaceContentRemaining,
	}
}

func (c NamespaceTerminatingStuck) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for i := range s.Namespaces {
		ns := &s.Namespaces[i]
		if ns.DeletionTimestamp == nil && ns.Status.Phase != corev1.NamespaceTerminating {
			continue
		}
		var held []corev1.NamespaceCondition
		for _, cond := range ns.Status.Conditions {
			if cond.Status == corev1.ConditionTrue && slices.Contains(stuckConditions(), cond.Type) {
				held = append(held, cond)
			}
		}
		if len(held) == 0 {
			continue
		}
		slices.SortStableFunc(held, func(a, b corev1.NamespaceCondition) int {
			return slices.Index(stuckConditions(), a.Type) - slices.Index(stuckConditions(), b.Type)
		})
		terminating := ""
		if ns.DeletionTimestamp != nil {
			terminating = " " + check.For(ns.DeletionTimestamp.Time, s.CollectedAt)
		}
		f := check.New(meta, fmt.Sprintf("namespace %s has been terminating%s: %s: %s", ns.Name, terminating, held[0].Type, held[0].Message),
			snapshot.RefTo(snapshot.KindNamespaces, "", ns.Name))
		f.Incident = true
		if ns.DeletionTimestamp != nil {
			f.Since = check.Earliest(ns.DeletionTimestamp.Time)
		}
		for _, cond := range held[1:] {
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s (%s): %s", cond.Type, cond.Reason, cond.Message))
		}
		f.Fix = namespaceFix(ns.Name, held[0].Type, remainingResources(held))
		findings = append(findings, f)
	}
	return findings
}

// remainingResources reads the resources the namespace controller says are left, from its
// NamespaceContentRemaining message: "Some resources are remaining: widgets.example.com has 1
// resource instances, ...".
func remainingResources(conditions []corev1.NamespaceCondition) []string {
	var out []string
	for _, c := range conditions {
		if c.Type != corev1.NamespaceContentRemaining {
			continue
		}
		_, list, ok := strings.Cut(c.Message, ": ")
		if !ok {
			continue
		}
		for _, item := range strings.Split(list, ", ") {
			if resource, _, found := strings.Cut(item, " has "); found && resource != "" {
				out = append(out, resource)
			}
		}
	}
	return out
}

func namespaceFix(namespace string, cause corev1.NamespaceConditionType, remaining []string) []string {
	ns := check.Quote(namespace)
	switch cause {
	case corev1.NamespaceDeletionDiscoveryFailure:
		return []string{
			"kubectl get apiservices | grep -v True  # the unavailable APIServices the deletion waits on",
			check.Comment("bring them back, or delete the APIServices no longer wanted; the namespace then finishes deleting by itself"),
		}
	case corev1.NamespaceFinalizersRemaining, corev1.NamespaceContentRemaining:
		var fix []string
		for _, resource := range remaining {
			fix = append(fix, fmt.Sprintf("kubectl -n %s get %s -o custom-columns=NAME:.metadata.name,FINALIZERS:.metadata.finalizers",
				ns, check.Quote(resource)))
		}
		if len(fix) == 0 {
			fix = append(fix, "kubectl get namespace "+ns+" -o yaml")
		}
		return append(fix, check.Comment("the objects left hold finalizers their controller has not removed: get that controller "+
			"running again; removing a finalizer by hand leaves behind what it guards"))
	}
	return []string{"kubectl get namespace " + ns + " -o yaml"}
}
