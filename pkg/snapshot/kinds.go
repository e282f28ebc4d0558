package snapshot

// Kind names a resource a check may need, as the API server's plural resource name.
type Kind string

const (
	KindCronJobs       Kind = "cronjobs"
	KindDaemonSets     Kind = "daemonsets"
	KindDeployments    Kind = "deployments"
	KindJobs           Kind = "jobs"
	KindLimitRanges    Kind = "limitranges"
	KindNamespaces     Kind = "namespaces"
	KindNodes          Kind = "nodes"
	KindPodMetrics     Kind = "podmetrics"
	KindPods           Kind = "pods"
	KindReplicaSets    Kind = "replicasets"
	KindResourceQuotas Kind = "resourcequotas"
	KindStatefulSets   Kind = "statefulsets"
)

// AllKinds lists every kind a snapshot can hold, sorted by name.
func AllKinds() []Kind {
	return []Kind{KindCronJobs, KindDaemonSets, KindDeployments, KindJobs, KindLimitRanges, KindNamespaces, KindNodes,
		KindPodMetrics, KindPods, KindReplicaSets, KindResourceQuotas, KindStatefulSets}
}

// KindInfo is what the loaders and the renderers need to know about a kind.
type KindInfo struct {
	Group        string
	GroupVersion string
	ObjectKind   string
	Namespaced   bool
}

// Info returns the facts of a kind; an unknown kind yields the zero value.
func (k Kind) Info() KindInfo {
	switch k {
	case KindNamespaces:
		return KindInfo{"", "v1", "Namespace", false}
	case KindNodes:
		return KindInfo{"", "v1", "Node", false}
	case KindPods:
		return KindInfo{"", "v1", "Pod", true}
	case KindDeployments:
		return KindInfo{"apps", "apps/v1", "Deployment", true}
	case KindReplicaSets:
		return KindInfo{"apps", "apps/v1", "ReplicaSet", true}
	case KindStatefulSets:
		return KindInfo{"apps", "apps/v1", "StatefulSet", true}
	case KindDaemonSets:
		return KindInfo{"apps", "apps/v1", "DaemonSet", true}
	case KindJobs:
		return KindInfo{"batch", "batch/v1", "Job", true}
	case KindCronJobs:
		return KindInfo{"batch", "batch/v1", "CronJob", true}
	case KindLimitRanges:
		return KindInfo{"", "v1", "LimitRange", true}
	case KindResourceQuotas:
		return KindInfo{"", "v1", "ResourceQuota", true}
	case KindPodMetrics:
		return KindInfo{"metrics.k8s.io", "metrics.k8s.io/v1beta1", "PodMetrics", true}
	}
	return KindInfo{}
}

// KindOf finds the kind for an object's Kind field (e.g. "Deployment"), if the snapshot holds it.
func KindOf(objectKind string) (Kind, bool) {
	for _, k := range AllKinds() {
		if k.Info().ObjectKind == objectKind {
			return k, true
		}
	}
	return "", false
}
