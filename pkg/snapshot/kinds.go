package snapshot

import "strings"

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

	KindServices             Kind = "services"
	KindServiceAccounts      Kind = "serviceaccounts"
	KindNetworkPolicies      Kind = "networkpolicies"
	KindIngresses            Kind = "ingresses"
	KindEndpointSlices       Kind = "endpointslices"
	KindPodDisruptionBudgets Kind = "poddisruptionbudgets"
	// KindConfigMaps is read from kube-system only on a live cluster (unless -n names another
	// namespace): cluster add-ons keep their configuration there, and other namespaces' ConfigMaps
	// can be large and are none of the checks' business.
	KindConfigMaps Kind = "configmaps"

	KindClusterRoleBindings Kind = "clusterrolebindings"
	KindRoleBindings        Kind = "rolebindings"
	KindClusterRoles        Kind = "clusterroles"
	KindRoles               Kind = "roles"
	// KindServerVersion is the API server's /version: not an object, but read like one.
	KindServerVersion Kind = "version"
	// KindAnonymousAccess is what the API server answers a caller without credentials.
	KindAnonymousAccess Kind = "anonymous-access"
	// KindDNSMetrics is what each cluster DNS pod's metrics endpoint (:9153) reports, read through
	// the API server's pod proxy.
	KindDNSMetrics Kind = "dns-metrics"
	// KindKubeletConfigs is the running configuration (/configz) of the kubelets on the nodes
	// that host cluster DNS pods, read through the API server's node proxy.
	KindKubeletConfigs Kind = "kubelet-configs"
	// KindConntrack is each node's connection-tracking table as node_exporter reports it, read
	// from Prometheus or from the node-exporter pods through the API server's pod proxy.
	KindConntrack Kind = "conntrack"
	// KindEvents are events about nodes (involvedObject.kind=Node) on a live cluster: kernel
	// and node-problem-detector reports live there, and other events are many and not needed.
	KindEvents Kind = "events"
)

// AllKinds lists every kind a snapshot can hold, sorted by name.
func AllKinds() []Kind {
	return []Kind{KindAnonymousAccess, KindClusterRoleBindings, KindClusterRoles, KindConfigMaps, KindConntrack, KindCronJobs, KindDaemonSets,
		KindDeployments, KindDNSMetrics, KindEndpointSlices, KindEvents, KindIngresses, KindJobs, KindKubeletConfigs, KindLimitRanges,
		KindNamespaces, KindNetworkPolicies, KindNodes, KindPodDisruptionBudgets, KindPodMetrics, KindPods, KindReplicaSets, KindResourceQuotas, KindRoleBindings,
		KindRoles, KindServiceAccounts, KindServices, KindStatefulSets, KindServerVersion}
}

// KindInfo is what the loaders and the renderers need to know about a kind.
type KindInfo struct {
	Group        string
	GroupVersion string
	ObjectKind   string
	Namespaced   bool
	// Probe marks what the collector learns by asking the server rather than by listing
	// objects; manifests never carry it.
	Probe bool
}

// Info returns the facts of a kind; an unknown kind yields the zero value.
func (k Kind) Info() KindInfo {
	switch k {
	case KindNamespaces:
		return KindInfo{"", "v1", "Namespace", false, false}
	case KindNodes:
		return KindInfo{"", "v1", "Node", false, false}
	case KindPods:
		return KindInfo{"", "v1", "Pod", true, false}
	case KindDeployments:
		return KindInfo{"apps", "apps/v1", "Deployment", true, false}
	case KindReplicaSets:
		return KindInfo{"apps", "apps/v1", "ReplicaSet", true, false}
	case KindStatefulSets:
		return KindInfo{"apps", "apps/v1", "StatefulSet", true, false}
	case KindDaemonSets:
		return KindInfo{"apps", "apps/v1", "DaemonSet", true, false}
	case KindJobs:
		return KindInfo{"batch", "batch/v1", "Job", true, false}
	case KindCronJobs:
		return KindInfo{"batch", "batch/v1", "CronJob", true, false}
	case KindLimitRanges:
		return KindInfo{"", "v1", "LimitRange", true, false}
	case KindResourceQuotas:
		return KindInfo{"", "v1", "ResourceQuota", true, false}
	case KindPodMetrics:
		return KindInfo{"metrics.k8s.io", "metrics.k8s.io/v1beta1", "PodMetrics", true, false}
	case KindClusterRoleBindings:
		return KindInfo{"rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", false, false}
	case KindRoleBindings:
		return KindInfo{"rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1", "RoleBinding", true, false}
	case KindClusterRoles:
		return KindInfo{"rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1", "ClusterRole", false, false}
	case KindRoles:
		return KindInfo{"rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1", "Role", true, false}
	case KindServices:
		return KindInfo{"", "v1", "Service", true, false}
	case KindServiceAccounts:
		return KindInfo{"", "v1", "ServiceAccount", true, false}
	case KindNetworkPolicies:
		return KindInfo{"networking.k8s.io", "networking.k8s.io/v1", "NetworkPolicy", true, false}
	case KindIngresses:
		return KindInfo{"networking.k8s.io", "networking.k8s.io/v1", "Ingress", true, false}
	case KindEndpointSlices:
		return KindInfo{"discovery.k8s.io", "discovery.k8s.io/v1", "EndpointSlice", true, false}
	case KindPodDisruptionBudgets:
		return KindInfo{"policy", "policy/v1", "PodDisruptionBudget", true, false}
	case KindConfigMaps:
		return KindInfo{"", "v1", "ConfigMap", true, false}
	case KindEvents:
		return KindInfo{"", "v1", "Event", true, false}
	case KindServerVersion, KindAnonymousAccess, KindDNSMetrics, KindKubeletConfigs, KindConntrack:
		return KindInfo{Probe: true}
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

// KindForType reads a TYPE the way kubectl does in TYPE/NAME: the kind ("deployment"), the
// resource ("deployments") or kubectl's short name ("deploy"), in any case.
func KindForType(typ string) (Kind, bool) {
	typ = strings.ToLower(typ)
	short := map[string]Kind{
		"ns": KindNamespaces, "no": KindNodes, "po": KindPods, "deploy": KindDeployments, "rs": KindReplicaSets,
		"sts": KindStatefulSets, "ds": KindDaemonSets, "cj": KindCronJobs, "limits": KindLimitRanges, "quota": KindResourceQuotas,
		"svc": KindServices, "sa": KindServiceAccounts, "netpol": KindNetworkPolicies, "ing": KindIngresses,
		"pdb": KindPodDisruptionBudgets, "cm": KindConfigMaps, "ev": KindEvents,
	}
	if k, ok := short[typ]; ok {
		return k, true
	}
	for _, k := range AllKinds() {
		info := k.Info()
		if info.Probe {
			continue
		}
		if typ == string(k) || typ == strings.ToLower(info.ObjectKind) {
			return k, true
		}
	}
	return "", false
}
