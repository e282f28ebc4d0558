// Package snapshot holds the cluster state that checks read: typed objects fetched once (from a
// live cluster or from manifests), what could not be read and why, and read-only indexes.
package snapshot

import (
	"fmt"
	"strings"
	"time"

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
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// Source says where a snapshot came from.
type Source string

const (
	SourceCluster   Source = "cluster"
	SourceManifests Source = "manifests"
	SourceSnapshot  Source = "snapshot"
)

// Snapshot is the state every check reads. After Finish it must be treated as read-only.
type Snapshot struct {
	Source  Source
	Context string
	Server  string
	// Namespace is the namespace of -n: on a cluster, namespaced kinds were read from it alone;
	// in manifests, it is the namespace of every namespaced object (kubectl apply -n). Empty
	// means the whole cluster, or manifests in any namespace.
	Namespace string
	// Complete says that manifests are everything that runs (diagnose --complete): checks that
	// judge what is absent from the input (a policy that selects no pod) may then trust the
	// absence. Manifests are otherwise partial: operators create pods from custom resources that
	// no check reads. A cluster is complete by nature and does not set it.
	Complete bool
	// CollectedAt is when the state was read (for manifests, when they were loaded); checks
	// that judge dates use it instead of the clock, so they stay pure.
	CollectedAt time.Time

	Namespaces  []corev1.Namespace
	Nodes       []corev1.Node
	Pods        []corev1.Pod
	Deployments []appsv1.Deployment
	ReplicaSets []appsv1.ReplicaSet
	// ReplicationControllers are judged like any controller of pods.
	ReplicationControllers []corev1.ReplicationController
	StatefulSets           []appsv1.StatefulSet
	DaemonSets             []appsv1.DaemonSet
	Jobs                   []batchv1.Job
	CronJobs               []batchv1.CronJob

	LimitRanges    []corev1.LimitRange
	ResourceQuotas []corev1.ResourceQuota
	// PodMetrics is the metrics API's view of current usage (metrics.k8s.io, from metrics-server).
	PodMetrics []metricsv1beta1.PodMetrics

	Services             []corev1.Service
	EndpointSlices       []discoveryv1.EndpointSlice
	PodDisruptionBudgets []policyv1.PodDisruptionBudget
	ConfigMaps           []corev1.ConfigMap
	NetworkPolicies      []networkingv1.NetworkPolicy
	Ingresses            []networkingv1.Ingress
	// Events are the Warning events about every kind of object, and every event about nodes
	// (see KindEvents); read them through WarningEvents.
	Events []corev1.Event
	// EventsLeftOut counts the Warning events a live run did not keep, past EventsPerObject for
	// one object or MaxEvents in all (see BoundEvents).
	EventsLeftOut int

	ServiceAccounts     []corev1.ServiceAccount
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
	RoleBindings        []rbacv1.RoleBinding
	ClusterRoles        []rbacv1.ClusterRole
	Roles               []rbacv1.Role

	// APIServices and the webhook configurations name the Services the API server itself
	// calls: aggregated APIs and admission webhooks.
	APIServices                     []apiregistrationv1.APIService
	ValidatingWebhookConfigurations []admissionregistrationv1.ValidatingWebhookConfiguration
	MutatingWebhookConfigurations   []admissionregistrationv1.MutatingWebhookConfiguration

	// CertificateSigningRequests are the cluster's CSRs; kubelets ask for their certificates so.
	CertificateSigningRequests []certificatesv1.CertificateSigningRequest
	// ServingCertificate is the chain the API server presented; nil when not read.
	ServingCertificate *ServingCertificate
	// CertManagerCertificates are cert-manager's Certificates, where its CRD is served.
	CertManagerCertificates []CertManagerCertificate
	// HorizontalPodAutoscalers are the HPAs (autoscaling/v2): what they scale, on which metrics,
	// and the controller's conditions.
	HorizontalPodAutoscalers []autoscalingv2.HorizontalPodAutoscaler

	// ServerVersion is the API server's /version answer, e.g. "v1.37.2".
	ServerVersion string
	// AnonymousAccess records what the server answered requests made without credentials.
	AnonymousAccess []ProbeResult
	// DNSMetrics holds one scrape per cluster DNS pod.
	DNSMetrics []DNSMetrics
	// KubeletConfigs holds the kubelet configuration of each node hosting a cluster DNS pod.
	KubeletConfigs []KubeletConfig
	// Conntrack holds the measured connection-tracking tables; nil when not read.
	Conntrack *Conntrack
	// HTTPRoutes are the Gateway API routes' backends, where the API server serves them.
	HTTPRoutes []HTTPRoute
	// PriorityClasses name the priorities pods are scheduled and preempted by.
	PriorityClasses []schedulingv1.PriorityClass

	PersistentVolumeClaims []corev1.PersistentVolumeClaim
	PersistentVolumes      []corev1.PersistentVolume
	StorageClasses         []storagev1.StorageClass
	VolumeAttachments      []storagev1.VolumeAttachment
	// CSINodes list the CSI drivers each node's kubelet has registered.
	CSINodes []storagev1.CSINode
	// VolumeStats is the kubelets' volume usage from Prometheus; nil when not read.
	VolumeStats *VolumeStats
	// ConfigMapMetadata is every ConfigMap's creation and writers, without data, on a
	// whole-cluster live run (see KindConfigMapMetadata).
	ConfigMapMetadata []ConfigMapMetadata
	// ControllerRevisions are the StatefulSets' and DaemonSets' newest two revisions each.
	ControllerRevisions []ControllerRevision

	// Unavailable maps a kind that could not be read to the reason, for example
	// "forbidden: User "bob" cannot list resource "nodes" ...".
	Unavailable map[Kind]string
	// Absent marks the unavailable kinds that are not there to be read on this cluster (an API
	// that is not served, a component that is not installed), as opposed to kinds that are there
	// but could not be read (forbidden, timed out).
	Absent map[Kind]bool
	// Origins gives, for objects loaded from files, where each was defined.
	Origins map[Ref]Origin

	replicaSetsByKey   map[string]*appsv1.ReplicaSet
	rolesByKey         map[string]*rbacv1.Role
	clusterRolesByName map[string]*rbacv1.ClusterRole
	jobsByKey          map[string]*batchv1.Job
	podsPerOwner       map[Ref]int
	podsByOwner        map[Ref][]*corev1.Pod
	derived            *derivedValues
}

// ProbeResult is the answer to one request made without credentials.
type ProbeResult struct {
	// Path is the request, e.g. "/api/v1/namespaces".
	Path string
	// Status is the HTTP status code; 0 when no answer came.
	Status int
	// Error describes a failure to get any answer.
	Error string
}

// Origin is the place in a manifest file an object came from.
type Origin struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (o Origin) String() string { return fmt.Sprintf("%s:%d", o.File, o.Line) }

// New returns an empty snapshot of the given source.
func New(source Source) *Snapshot {
	return &Snapshot{Source: source, Unavailable: map[Kind]string{}, Origins: map[Ref]Origin{}, derived: &derivedValues{}}
}

// MarkAbsent records that a kind is not there to be read on this cluster; the first reason
// for a kind wins, as with MarkUnavailable.
func (s *Snapshot) MarkAbsent(k Kind, reason string) {
	if _, seen := s.Unavailable[k]; seen {
		return
	}
	s.Unavailable[k] = reason
	if s.Absent == nil {
		s.Absent = map[Kind]bool{}
	}
	s.Absent[k] = true
}

// MarkUnavailable records that a kind could not be read; the first reason wins.
func (s *Snapshot) MarkUnavailable(k Kind, reason string) {
	if _, seen := s.Unavailable[k]; !seen {
		s.Unavailable[k] = reason
	}
}

// Finish sorts every list into a stable order and builds the lookup indexes. Loaders and the
// collector call it once, before any check runs.
func (s *Snapshot) Finish() {
	for _, e := range kindEntries {
		e.data.sortIn(s)
	}

	s.replicaSetsByKey = make(map[string]*appsv1.ReplicaSet, len(s.ReplicaSets))
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		s.replicaSetsByKey[rs.Namespace+"/"+rs.Name] = rs
	}
	s.rolesByKey = make(map[string]*rbacv1.Role, len(s.Roles))
	for i := range s.Roles {
		s.rolesByKey[s.Roles[i].Namespace+"/"+s.Roles[i].Name] = &s.Roles[i]
	}
	s.clusterRolesByName = make(map[string]*rbacv1.ClusterRole, len(s.ClusterRoles))
	for i := range s.ClusterRoles {
		s.clusterRolesByName[s.ClusterRoles[i].Name] = &s.ClusterRoles[i]
	}
	s.jobsByKey = make(map[string]*batchv1.Job, len(s.Jobs))
	for i := range s.Jobs {
		job := &s.Jobs[i]
		s.jobsByKey[job.Namespace+"/"+job.Name] = job
	}
	s.podsPerOwner = map[Ref]int{}
	s.podsByOwner = map[Ref][]*corev1.Pod{}
	for i := range s.Pods {
		pod := &s.Pods[i]
		owner := s.TopOwner(pod)
		s.podsByOwner[owner] = append(s.podsByOwner[owner], pod)
		if IsLive(pod) {
			s.podsPerOwner[owner]++
		}
	}
}

// LimitedToNamespace tells whether the snapshot lacks objects beyond Namespace: a cluster read
// with -n. Manifests loaded with -n hold all of the input; -n only gave the namespace of objects
// that name none.
func (s *Snapshot) LimitedToNamespace() bool {
	return s.Namespace != "" && s.Source != SourceManifests
}

// RoleRules returns the rules a binding's roleRef grants, and whether the role is in the
// snapshot. A RoleBinding may name a ClusterRole, whose rules then apply in its namespace.
func (s *Snapshot) RoleRules(namespace string, ref rbacv1.RoleRef) ([]rbacv1.PolicyRule, bool) {
	switch ref.Kind {
	case "ClusterRole":
		if role, ok := s.clusterRolesByName[ref.Name]; ok {
			return role.Rules, true
		}
	case "Role":
		if role, ok := s.rolesByKey[namespace+"/"+ref.Name]; ok {
			return role.Rules, true
		}
	}
	return nil, false
}

// PodsOf lists, in snapshot order, every pod (finished ones included) whose top-level owner is
// owner; checks use it instead of scanning all pods for each workload.
func (s *Snapshot) PodsOf(owner Ref) []*corev1.Pod { return s.podsByOwner[owner] }

// IsLive reports whether a pod still counts as a replica: not finished (Succeeded, Failed,
// evicted) and not being deleted.
func IsLive(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// PodCount is the number of live pods whose top-level owner is owner.
func (s *Snapshot) PodCount(owner Ref) int { return s.podsPerOwner[owner] }

// Ref names one object in findings and reports.
type Ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String renders a ref the way kubectl names objects: kind/name, prefixed by the namespace.
func (r Ref) String() string {
	name := strings.ToLower(r.Kind) + "/" + r.Name
	if r.Namespace != "" {
		return r.Namespace + "/" + name
	}
	return name
}

// RefTo builds a ref for a typed object from its kind's table entry.
func RefTo(k Kind, namespace, name string) Ref {
	info := k.Info()
	return Ref{APIVersion: info.GroupVersion, Kind: info.ObjectKind, Namespace: namespace, Name: name}
}

// Describe reads "deployment shop/cart", or "node n1" for cluster-scoped objects.
func (r Ref) Describe() string {
	if r.Namespace == "" {
		return strings.ToLower(r.Kind) + " " + r.Name
	}
	return fmt.Sprintf("%s %s/%s", strings.ToLower(r.Kind), r.Namespace, r.Name)
}

// KubectlTarget is the TYPE/NAME argument kubectl takes, e.g. "deployment/cart".
func (r Ref) KubectlTarget() string { return strings.ToLower(r.Kind) + "/" + r.Name }
