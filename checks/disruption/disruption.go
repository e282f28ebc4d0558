// Package disruption judges what keeps workloads from moving and from growing: node drains that
// PodDisruptionBudgets hold up, and HorizontalPodAutoscalers that cannot add replicas, capped
// at their maximum or blind to their metrics. It reads live status: budgets' counts, nodes'
// cordons, autoscalers' conditions; with -f it judges what manifests show (an autoscaler whose
// target has no request for the resource its utilization target is a percentage of).
package disruption

import (
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const (
	referenceDrain = "https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/"
	referencePDB   = "https://kubernetes.io/docs/tasks/run-application/configure-pdb/"
	referenceHPA   = "https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/"
)

// Checks is every check of the family, as the catalog lists it.
func Checks() []check.Check {
	return []check.Check{DrainBlocked{}, HPAAtMax{}, HPAMetricsUnavailable{}}
}

// hpaRef names an autoscaler in findings.
func hpaRef(namespace, name string) snapshot.Ref {
	return snapshot.RefTo(snapshot.KindHorizontalPodAutoscalers, namespace, name)
}

// optionalOwners are the kinds that name the workload a pod belongs to: without them a pod is
// named by its nearest owner, which blinds nothing.
func optionalOwners(more ...snapshot.Kind) []snapshot.Kind {
	return append(append(snapshot.WorkloadKinds(), snapshot.LegacyWorkloadKinds()...), more...)
}
