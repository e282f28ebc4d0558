package snapshot

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type objectIndexKey struct{}

// ObjectMeta finds the metadata (labels, annotations) of an object a finding names. Findings
// may name things the snapshot does not hold (RBAC users and groups); those are not found.
func (s *Snapshot) ObjectMeta(r Ref) (metav1.Object, bool) {
	index := Derived(s, objectIndexKey{}, s.indexObjects)
	o, ok := index[objectKey{r.Kind, r.Namespace, r.Name}]
	return o, ok
}

// objectKey leaves the API version out: a finding may name an object by another version of
// its group than the one it was read as.
type objectKey struct{ kind, namespace, name string }

func (s *Snapshot) indexObjects() map[objectKey]metav1.Object {
	index := map[objectKey]metav1.Object{}
	addAll(index, KindNamespaces, s.Namespaces)
	addAll(index, KindNodes, s.Nodes)
	addAll(index, KindPods, s.Pods)
	addAll(index, KindDeployments, s.Deployments)
	addAll(index, KindReplicaSets, s.ReplicaSets)
	addAll(index, KindStatefulSets, s.StatefulSets)
	addAll(index, KindDaemonSets, s.DaemonSets)
	addAll(index, KindJobs, s.Jobs)
	addAll(index, KindCronJobs, s.CronJobs)
	addAll(index, KindLimitRanges, s.LimitRanges)
	addAll(index, KindResourceQuotas, s.ResourceQuotas)
	addAll(index, KindServices, s.Services)
	addAll(index, KindEndpointSlices, s.EndpointSlices)
	addAll(index, KindPodDisruptionBudgets, s.PodDisruptionBudgets)
	addAll(index, KindConfigMaps, s.ConfigMaps)
	addAll(index, KindNetworkPolicies, s.NetworkPolicies)
	addAll(index, KindIngresses, s.Ingresses)
	addAll(index, KindServiceAccounts, s.ServiceAccounts)
	addAll(index, KindClusterRoleBindings, s.ClusterRoleBindings)
	addAll(index, KindRoleBindings, s.RoleBindings)
	addAll(index, KindClusterRoles, s.ClusterRoles)
	addAll(index, KindRoles, s.Roles)
	return index
}

func addAll[T any, PT interface {
	*T
	metav1.Object
}](index map[objectKey]metav1.Object, k Kind, items []T) {
	kind := k.Info().ObjectKind
	for i := range items {
		o := PT(&items[i])
		index[objectKey{kind, o.GetNamespace(), o.GetName()}] = o
	}
}

// ConfigMapKey names one piece of a ConfigMap's data.
type ConfigMapKey struct {
	Namespace, Name, Key string
}
