package snapshot

import (
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/alertmend/kubectl-alertmend/pkg/suggest"
)

// Kind names a resource a check may need, as the API server's plural resource name.
type Kind string

const (
	KindCronJobs    Kind = "cronjobs"
	KindDaemonSets  Kind = "daemonsets"
	KindDeployments Kind = "deployments"
	KindJobs        Kind = "jobs"
	KindLimitRanges Kind = "limitranges"
	KindNamespaces  Kind = "namespaces"
	KindNodes       Kind = "nodes"
	KindPodMetrics  Kind = "podmetrics"
	KindPods        Kind = "pods"
	KindReplicaSets Kind = "replicasets"
	// KindReplicationControllers are the ReplicaSets' predecessors, still in many examples.
	KindReplicationControllers Kind = "replicationcontrollers"
	KindResourceQuotas         Kind = "resourcequotas"
	KindStatefulSets           Kind = "statefulsets"

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

	// KindAPIServices are the aggregated APIs the API server proxies to (apiregistration.k8s.io).
	KindAPIServices Kind = "apiservices"
	// KindValidatingWebhookConfigurations and KindMutatingWebhookConfigurations are the
	// admission webhooks the API server calls.
	KindValidatingWebhookConfigurations Kind = "validatingwebhookconfigurations"
	KindMutatingWebhookConfigurations   Kind = "mutatingwebhookconfigurations"
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
	// KindEvents are, on a live cluster, the Warning events about every kind of object (the
	// newest few of each, see BoundEvents), the evidence of what is failing, and every event
	// about nodes, Normal ones included: node-problem-detector reports there.
	KindEvents Kind = "events"
	// KindHTTPRoutes are the Gateway API's HTTPRoutes, reduced to their backends (HTTPRoute):
	// read as JSON, and absent where the API server does not serve gateway.networking.k8s.io/v1.
	KindHTTPRoutes Kind = "httproutes"
	// KindServingCertificate is the certificate chain the API server presented in the run's own
	// TLS handshake.
	KindServingCertificate Kind = "serving-certificate"
	// KindCertificateSigningRequests are the cluster's CSRs (certificates.k8s.io).
	KindCertificateSigningRequests Kind = "certificatesigningrequests"
	// KindCertManagerCertificates are cert-manager's Certificates (cert-manager.io/v1), where
	// the CRD is served; read as the few fields the checks judge, never their Secrets.
	KindCertManagerCertificates Kind = "certificates.cert-manager.io"

	// KindPersistentVolumeClaims, KindPersistentVolumes, KindStorageClasses,
	// KindVolumeAttachments and KindCSINodes are the storage objects: claims, the volumes bound
	// to them, the classes that provision them, their attachments to nodes, and the CSI drivers
	// each node's kubelet has registered.
	KindPersistentVolumeClaims Kind = "persistentvolumeclaims"
	KindPersistentVolumes      Kind = "persistentvolumes"
	KindStorageClasses         Kind = "storageclasses"
	KindVolumeAttachments      Kind = "volumeattachments"
	KindCSINodes               Kind = "csinodes"
	// KindVolumeStats is the kubelets' volume usage (kubelet_volume_stats_*), read from the
	// Prometheus of --prometheus-url.
	KindVolumeStats Kind = "volume-stats"
	// KindHorizontalPodAutoscalers are the HPAs (autoscaling/v2), with the metrics they scale on
	// and the conditions the controller sets.
	KindHorizontalPodAutoscalers Kind = "horizontalpodautoscalers"
	// KindPriorityClasses are the pods' priorities by name (scheduling.k8s.io/v1): which pods
	// preempt which.
	KindPriorityClasses Kind = "priorityclasses"
	// KindConfigMapMetadata is every ConfigMap's creation time and writers (ConfigMapMetadata),
	// read as metadata only on a whole-cluster live run, for the changes timeline: KindConfigMaps
	// is read whole from the add-on namespaces alone. With -n it reads nothing (the namespace's
	// ConfigMaps are read whole).
	KindConfigMapMetadata Kind = "configmap-metadata"
	// KindControllerRevisions are the StatefulSets' and DaemonSets' pod-template revisions
	// (apps/v1 ControllerRevisions), reduced to their templates, newest two per owner.
	KindControllerRevisions Kind = "controllerrevisions"
)

// kindEntry is everything the snapshot, its file and the collector know about one kind.
type kindEntry struct {
	kind Kind
	// groupVersion, objectKind and namespaced describe an object kind as the API serves it;
	// empty for a probe.
	groupVersion string
	objectKind   string
	namespaced   bool
	// resource is what the kind is listed as, when that is not the kind's own name.
	resource string
	// shortNames are kubectl's abbreviations (kubectl get deploy).
	shortNames []string
	// fileField names the kind's data in a snapshot file; it must never change, or files
	// recorded before would replay without it.
	fileField string
	data      kindData
	// info is derived from the above when the table is indexed.
	info KindInfo
}

// kindTable is every kind a snapshot holds, in the order a snapshot file writes them (the
// order of the file format's fields since its first version). A kind is one entry here, a
// Kind constant, a field of Snapshot, and, for an object kind, a rule in deploy/rbac.yaml.
func kindTable() []kindEntry {
	return []kindEntry{
		{kind: KindNamespaces, groupVersion: "v1", objectKind: "Namespace", shortNames: []string{"ns"}, fileField: "namespaces",
			data: objects[corev1.NamespaceList](func(s *Snapshot) *[]corev1.Namespace { return &s.Namespaces })},
		{kind: KindNodes, groupVersion: "v1", objectKind: "Node", shortNames: []string{"no"}, fileField: "nodes",
			data: objects[corev1.NodeList](func(s *Snapshot) *[]corev1.Node { return &s.Nodes })},
		{kind: KindPods, groupVersion: "v1", objectKind: "Pod", namespaced: true, shortNames: []string{"po"}, fileField: "pods",
			data: objects[corev1.PodList](func(s *Snapshot) *[]corev1.Pod { return &s.Pods }).
				withPodSpec(func(o *corev1.Pod) *corev1.PodSpec { return &o.Spec })},
		{kind: KindDeployments, groupVersion: "apps/v1", objectKind: "Deployment", namespaced: true, shortNames: []string{"deploy"}, fileField: "deployments",
			data: objects[appsv1.DeploymentList](func(s *Snapshot) *[]appsv1.Deployment { return &s.Deployments }).
				withPodSpec(func(o *appsv1.Deployment) *corev1.PodSpec { return &o.Spec.Template.Spec })},
		{kind: KindReplicaSets, groupVersion: "apps/v1", objectKind: "ReplicaSet", namespaced: true, shortNames: []string{"rs"}, fileField: "replicaSets",
			data: objects[appsv1.ReplicaSetList](func(s *Snapshot) *[]appsv1.ReplicaSet { return &s.ReplicaSets }).
				withPodSpec(func(o *appsv1.ReplicaSet) *corev1.PodSpec { return &o.Spec.Template.Spec })},
		{kind: KindStatefulSets, groupVersion: "apps/v1", objectKind: "StatefulSet", namespaced: true, shortNames: []string{"sts"}, fileField: "statefulSets",
			data: objects[appsv1.StatefulSetList](func(s *Snapshot) *[]appsv1.StatefulSet { return &s.StatefulSets }).
				withPodSpec(func(o *appsv1.StatefulSet) *corev1.PodSpec { return &o.Spec.Template.Spec })},
		{kind: KindDaemonSets, groupVersion: "apps/v1", objectKind: "DaemonSet", namespaced: true, shortNames: []string{"ds"}, fileField: "daemonSets",
			data: objects[appsv1.DaemonSetList](func(s *Snapshot) *[]appsv1.DaemonSet { return &s.DaemonSets }).
				withPodSpec(func(o *appsv1.DaemonSet) *corev1.PodSpec { return &o.Spec.Template.Spec })},
		{kind: KindJobs, groupVersion: "batch/v1", objectKind: "Job", namespaced: true, fileField: "jobs",
			data: objects[batchv1.JobList](func(s *Snapshot) *[]batchv1.Job { return &s.Jobs }).
				withPodSpec(func(o *batchv1.Job) *corev1.PodSpec { return &o.Spec.Template.Spec })},
		{kind: KindCronJobs, groupVersion: "batch/v1", objectKind: "CronJob", namespaced: true, shortNames: []string{"cj"}, fileField: "cronJobs",
			data: objects[batchv1.CronJobList](func(s *Snapshot) *[]batchv1.CronJob { return &s.CronJobs }).
				withPodSpec(func(o *batchv1.CronJob) *corev1.PodSpec { return &o.Spec.JobTemplate.Spec.Template.Spec })},
		{kind: KindLimitRanges, groupVersion: "v1", objectKind: "LimitRange", namespaced: true, shortNames: []string{"limits"}, fileField: "limitRanges",
			data: objects[corev1.LimitRangeList](func(s *Snapshot) *[]corev1.LimitRange { return &s.LimitRanges })},
		{kind: KindResourceQuotas, groupVersion: "v1", objectKind: "ResourceQuota", namespaced: true, shortNames: []string{"quota"}, fileField: "resourceQuotas",
			data: objects[corev1.ResourceQuotaList](func(s *Snapshot) *[]corev1.ResourceQuota { return &s.ResourceQuotas })},
		// The metrics API serves pods' usage as its resource "pods".
		{kind: KindPodMetrics, groupVersion: "metrics.k8s.io/v1beta1", objectKind: "PodMetrics", namespaced: true, resource: "pods", fileField: "podMetrics",
			data: objects[metricsv1beta1.PodMetricsList](func(s *Snapshot) *[]metricsv1beta1.PodMetrics { return &s.PodMetrics })},
		{kind: KindServices, groupVersion: "v1", objectKind: "Service", namespaced: true, shortNames: []string{"svc"}, fileField: "services",
			data: objects[corev1.ServiceList](func(s *Snapshot) *[]corev1.Service { return &s.Services })},
		{kind: KindEndpointSlices, groupVersion: "discovery.k8s.io/v1", objectKind: "EndpointSlice", namespaced: true, fileField: "endpointSlices",
			data: objects[discoveryv1.EndpointSliceList](func(s *Snapshot) *[]discoveryv1.EndpointSlice { return &s.EndpointSlices })},
		{kind: KindPodDisruptionBudgets, groupVersion: "policy/v1", objectKind: "PodDisruptionBudget", namespaced: true, shortNames: []string{"pdb"}, fileField: "podDisruptionBudgets",
			data: objects[policyv1.PodDisruptionBudgetList](func(s *Snapshot) *[]policyv1.PodDisruptionBudget { return &s.PodDisruptionBudgets })},
		// Only the data keys the checks read are recorded: other values may be credentials.
		{kind: KindConfigMaps, groupVersion: "v1", objectKind: "ConfigMap", namespaced: true, shortNames: []string{"cm"}, fileField: "configMaps",
			data: objects[corev1.ConfigMapList](func(s *Snapshot) *[]corev1.ConfigMap { return &s.ConfigMaps }).recordedAs(keptData).keepingChangeTimes()},
		{kind: KindNetworkPolicies, groupVersion: "networking.k8s.io/v1", objectKind: "NetworkPolicy", namespaced: true, shortNames: []string{"netpol"}, fileField: "networkPolicies",
			data: objects[networkingv1.NetworkPolicyList](func(s *Snapshot) *[]networkingv1.NetworkPolicy { return &s.NetworkPolicies }).keepingChangeTimes()},
		{kind: KindIngresses, groupVersion: "networking.k8s.io/v1", objectKind: "Ingress", namespaced: true, shortNames: []string{"ing"}, fileField: "ingresses",
			data: objects[networkingv1.IngressList](func(s *Snapshot) *[]networkingv1.Ingress { return &s.Ingresses })},
		{kind: KindEvents, groupVersion: "v1", objectKind: "Event", namespaced: true, shortNames: []string{"ev"}, fileField: "events",
			data: objects[corev1.EventList](func(s *Snapshot) *[]corev1.Event { return &s.Events })},
		{kind: KindServiceAccounts, groupVersion: "v1", objectKind: "ServiceAccount", namespaced: true, shortNames: []string{"sa"}, fileField: "serviceAccounts",
			data: objects[corev1.ServiceAccountList](func(s *Snapshot) *[]corev1.ServiceAccount { return &s.ServiceAccounts })},
		{kind: KindClusterRoleBindings, groupVersion: "rbac.authorization.k8s.io/v1", objectKind: "ClusterRoleBinding", fileField: "clusterRoleBindings",
			data: objects[rbacv1.ClusterRoleBindingList](func(s *Snapshot) *[]rbacv1.ClusterRoleBinding { return &s.ClusterRoleBindings })},
		{kind: KindRoleBindings, groupVersion: "rbac.authorization.k8s.io/v1", objectKind: "RoleBinding", namespaced: true, fileField: "roleBindings",
			data: objects[rbacv1.RoleBindingList](func(s *Snapshot) *[]rbacv1.RoleBinding { return &s.RoleBindings })},
		{kind: KindClusterRoles, groupVersion: "rbac.authorization.k8s.io/v1", objectKind: "ClusterRole", fileField: "clusterRoles",
			data: objects[rbacv1.ClusterRoleList](func(s *Snapshot) *[]rbacv1.ClusterRole { return &s.ClusterRoles })},
		{kind: KindRoles, groupVersion: "rbac.authorization.k8s.io/v1", objectKind: "Role", namespaced: true, fileField: "roles",
			data: objects[rbacv1.RoleList](func(s *Snapshot) *[]rbacv1.Role { return &s.Roles })},
		{kind: KindReplicationControllers, groupVersion: "v1", objectKind: "ReplicationController", namespaced: true, shortNames: []string{"rc"},
			fileField: "replicationControllers",
			data: objects[corev1.ReplicationControllerList](func(s *Snapshot) *[]corev1.ReplicationController { return &s.ReplicationControllers }).
				withPodSpec(func(o *corev1.ReplicationController) *corev1.PodSpec {
					if o.Spec.Template == nil {
						return nil
					}
					// The template is a pointer, shared with the object this one was copied from:
					// a recording scrubs a copy of its own.
					o.Spec.Template = o.Spec.Template.DeepCopy()
					return &o.Spec.Template.Spec
				})},

		{kind: KindServerVersion, fileField: "serverVersion",
			data: probe(func(s *Snapshot) *string { return &s.ServerVersion }, nil)},
		{kind: KindAnonymousAccess, fileField: "anonymousAccess",
			data: probe(func(s *Snapshot) *[]ProbeResult { return &s.AnonymousAccess }, nil)},
		{kind: KindDNSMetrics, fileField: "dnsMetrics",
			data: probe(func(s *Snapshot) *[]DNSMetrics { return &s.DNSMetrics }, func(m *[]DNSMetrics) {
				slices.SortStableFunc(*m, func(a, b DNSMetrics) int {
					return compareQualified(a.Pod.Namespace, a.Pod.Name, b.Pod.Namespace, b.Pod.Name)
				})
			})},
		{kind: KindKubeletConfigs, fileField: "kubeletConfigs",
			data: probe(func(s *Snapshot) *[]KubeletConfig { return &s.KubeletConfigs }, func(c *[]KubeletConfig) {
				slices.SortStableFunc(*c, func(a, b KubeletConfig) int { return strings.Compare(a.Node, b.Node) })
			})},
		{kind: KindConntrack, fileField: "conntrack",
			data: probe(func(s *Snapshot) **Conntrack { return &s.Conntrack }, func(c **Conntrack) {
				if *c != nil {
					slices.SortStableFunc((*c).Nodes, func(a, b ConntrackNode) int { return strings.Compare(a.Node, b.Node) })
				}
			})},

		{kind: KindHTTPRoutes, fileField: "httpRoutes",
			data: probe(func(s *Snapshot) *[]HTTPRoute { return &s.HTTPRoutes }, func(r *[]HTTPRoute) {
				slices.SortStableFunc(*r, func(a, b HTTPRoute) int { return compareQualified(a.Namespace, a.Name, b.Namespace, b.Name) })
			})},

		{kind: KindAPIServices, groupVersion: "apiregistration.k8s.io/v1", objectKind: "APIService", fileField: "apiServices",
			data: objects[apiregistrationv1.APIServiceList](func(s *Snapshot) *[]apiregistrationv1.APIService { return &s.APIServices })},
		{kind: KindValidatingWebhookConfigurations, groupVersion: "admissionregistration.k8s.io/v1", objectKind: "ValidatingWebhookConfiguration",
			fileField: "validatingWebhookConfigurations",
			data: objects[admissionregistrationv1.ValidatingWebhookConfigurationList](func(s *Snapshot) *[]admissionregistrationv1.ValidatingWebhookConfiguration {
				return &s.ValidatingWebhookConfigurations
			}).keepingChangeTimes()},
		{kind: KindMutatingWebhookConfigurations, groupVersion: "admissionregistration.k8s.io/v1", objectKind: "MutatingWebhookConfiguration",
			fileField: "mutatingWebhookConfigurations",
			data: objects[admissionregistrationv1.MutatingWebhookConfigurationList](func(s *Snapshot) *[]admissionregistrationv1.MutatingWebhookConfiguration {
				return &s.MutatingWebhookConfigurations
			}).keepingChangeTimes()},
		{kind: KindCertificateSigningRequests, groupVersion: "certificates.k8s.io/v1", objectKind: "CertificateSigningRequest",
			shortNames: []string{"csr"}, fileField: "certificateSigningRequests",
			data: objects[certificatesv1.CertificateSigningRequestList](func(s *Snapshot) *[]certificatesv1.CertificateSigningRequest {
				return &s.CertificateSigningRequests
			})},
		{kind: KindServingCertificate, fileField: "servingCertificate",
			data: probe(func(s *Snapshot) **ServingCertificate { return &s.ServingCertificate }, nil)},
		{kind: KindCertManagerCertificates, fileField: "certManagerCertificates",
			data: probe(func(s *Snapshot) *[]CertManagerCertificate { return &s.CertManagerCertificates }, func(c *[]CertManagerCertificate) {
				slices.SortStableFunc(*c, func(a, b CertManagerCertificate) int {
					return compareQualified(a.Namespace, a.Name, b.Namespace, b.Name)
				})
			})},
		{kind: KindPersistentVolumeClaims, groupVersion: "v1", objectKind: "PersistentVolumeClaim", namespaced: true, shortNames: []string{"pvc"},
			fileField: "persistentVolumeClaims",
			data:      objects[corev1.PersistentVolumeClaimList](func(s *Snapshot) *[]corev1.PersistentVolumeClaim { return &s.PersistentVolumeClaims })},
		{kind: KindPersistentVolumes, groupVersion: "v1", objectKind: "PersistentVolume", shortNames: []string{"pv"}, fileField: "persistentVolumes",
			data: objects[corev1.PersistentVolumeList](func(s *Snapshot) *[]corev1.PersistentVolume { return &s.PersistentVolumes })},
		{kind: KindStorageClasses, groupVersion: "storage.k8s.io/v1", objectKind: "StorageClass", shortNames: []string{"sc"}, fileField: "storageClasses",
			data: objects[storagev1.StorageClassList](func(s *Snapshot) *[]storagev1.StorageClass { return &s.StorageClasses })},
		{kind: KindVolumeAttachments, groupVersion: "storage.k8s.io/v1", objectKind: "VolumeAttachment", fileField: "volumeAttachments",
			data: objects[storagev1.VolumeAttachmentList](func(s *Snapshot) *[]storagev1.VolumeAttachment { return &s.VolumeAttachments })},
		{kind: KindCSINodes, groupVersion: "storage.k8s.io/v1", objectKind: "CSINode", fileField: "csiNodes",
			data: objects[storagev1.CSINodeList](func(s *Snapshot) *[]storagev1.CSINode { return &s.CSINodes })},
		{kind: KindVolumeStats, fileField: "volumeStats",
			data: probe(func(s *Snapshot) **VolumeStats { return &s.VolumeStats }, func(v **VolumeStats) {
				if *v != nil {
					slices.SortStableFunc((*v).Volumes, func(a, b VolumeUsage) int {
						return compareQualified(a.Namespace, a.Claim, b.Namespace, b.Claim)
					})
				}
			})},
		{kind: KindHorizontalPodAutoscalers, groupVersion: "autoscaling/v2", objectKind: "HorizontalPodAutoscaler", namespaced: true,
			shortNames: []string{"hpa"}, fileField: "horizontalPodAutoscalers",
			data: objects[autoscalingv2.HorizontalPodAutoscalerList](func(s *Snapshot) *[]autoscalingv2.HorizontalPodAutoscaler {
				return &s.HorizontalPodAutoscalers
			})},
		{kind: KindPriorityClasses, groupVersion: "scheduling.k8s.io/v1", objectKind: "PriorityClass", shortNames: []string{"pc"},
			fileField: "priorityClasses",
			data:      objects[schedulingv1.PriorityClassList](func(s *Snapshot) *[]schedulingv1.PriorityClass { return &s.PriorityClasses })},
		{kind: KindConfigMapMetadata, fileField: "configMapMetadata",
			data: probe(func(s *Snapshot) *[]ConfigMapMetadata { return &s.ConfigMapMetadata }, func(c *[]ConfigMapMetadata) {
				slices.SortStableFunc(*c, func(a, b ConfigMapMetadata) int { return compareQualified(a.Namespace, a.Name, b.Namespace, b.Name) })
			})},
		{kind: KindControllerRevisions, fileField: "controllerRevisions",
			data: probe(func(s *Snapshot) *[]ControllerRevision { return &s.ControllerRevisions }, func(r *[]ControllerRevision) {
				slices.SortStableFunc(*r, func(a, b ControllerRevision) int { return compareQualified(a.Namespace, a.Name, b.Namespace, b.Name) })
			})},
	}
}

// kindEntries is the table, and byKind indexes it; neither changes after the package is loaded.
var (
	kindEntries = kindTable()
	byKind      = indexKinds(kindEntries)
)

func indexKinds(entries []kindEntry) map[Kind]*kindEntry {
	index := make(map[Kind]*kindEntry, len(entries))
	for i := range entries {
		e := &entries[i]
		e.info = infoOf(e)
		index[e.kind] = e
	}
	return index
}

func infoOf(e *kindEntry) KindInfo {
	objects, isObject := e.data.(objectData)
	if !isObject {
		return KindInfo{Probe: true}
	}
	resource := e.resource
	if resource == "" {
		resource = string(e.kind)
	}
	gv, _ := schema.ParseGroupVersion(e.groupVersion)
	return KindInfo{Group: gv.Group, GroupVersion: e.groupVersion, ObjectKind: e.objectKind, Resource: resource, Namespaced: e.namespaced,
		ChangeTimes: objects.keepsChangeTimes()}
}

// AllKinds lists every kind a snapshot can hold, sorted by name.
func AllKinds() []Kind {
	out := make([]Kind, 0, len(kindEntries))
	for _, e := range kindEntries {
		out = append(out, e.kind)
	}
	slices.Sort(out)
	return out
}

// KindInfo is what the loaders, the collector and the renderers need to know about a kind.
type KindInfo struct {
	Group        string
	GroupVersion string
	ObjectKind   string
	// Resource is what the kind is listed as: its own name, but "pods" for the metrics API's
	// podmetrics. Empty for a probe.
	Resource   string
	Namespaced bool
	// Probe marks what the collector learns by asking the server rather than by listing
	// objects; manifests never carry it.
	Probe bool
	// ChangeTimes marks the kinds whose objects keep their managedFields in the slim form
	// SlimManagedFields makes (who changed them and when), for the changes timeline: ConfigMaps,
	// NetworkPolicies and webhook configurations, few and small. Every other kind loses them.
	ChangeTimes bool
}

// Info returns the facts of a kind; an unknown kind yields the zero value.
func (k Kind) Info() KindInfo {
	if e, ok := byKind[k]; ok {
		return e.info
	}
	return KindInfo{}
}

// KindOf finds the kind for an object's Kind field (e.g. "Deployment"), if the snapshot holds it.
func KindOf(objectKind string) (Kind, bool) {
	for _, e := range kindEntries {
		if e.objectKind != "" && e.objectKind == objectKind {
			return e.kind, true
		}
	}
	return "", false
}

// ObjectTypes is the TYPEs of TYPE/NAME as people most often write them, one per kind of
// object: the lowercase kind ("deployment"), sorted.
func ObjectTypes() []string {
	var types []string
	for _, e := range kindEntries {
		if e.objectKind != "" {
			types = append(types, strings.ToLower(e.objectKind))
		}
	}
	slices.Sort(types)
	return types
}

// typeWords is every TYPE KindForType reads but the short names, for suggestions: a short
// name is never what a longer typo was meant to be.
func typeWords() []string {
	var words []string
	for _, e := range kindEntries {
		if e.objectKind != "" {
			words = append(words, strings.ToLower(e.objectKind), string(e.kind))
		}
	}
	return words
}

// UnknownTypeHint ends the message about a TYPE KindForType does not read: the close ones,
// else a few examples.
func UnknownTypeHint(typ string) string {
	if hint := suggest.DidYouMean(typ, typeWords()); hint != "" {
		return hint
	}
	return " (e.g. pod, deployment, statefulset, daemonset, node, namespace)"
}

// KindForType reads a TYPE the way kubectl does in TYPE/NAME: the kind ("deployment"), the
// resource ("deployments") or kubectl's short name ("deploy"), in any case.
func KindForType(typ string) (Kind, bool) {
	typ = strings.ToLower(typ)
	for _, e := range kindEntries {
		if slices.Contains(e.shortNames, typ) {
			return e.kind, true
		}
	}
	for _, e := range kindEntries {
		if e.objectKind != "" && (typ == string(e.kind) || typ == strings.ToLower(e.objectKind)) {
			return e.kind, true
		}
	}
	return "", false
}
