package snapshot

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// The header of a recorded snapshot; the format is versioned like the report.
const (
	FileAPIVersion = "alertmend.io/v1alpha1"
	FileKind       = "Snapshot"
	// MaxFileSize bounds what a snapshot may expand to when read: a 50,000-pod cluster
	// records a few hundred megabytes, and a hostile file must not exhaust memory.
	MaxFileSize = 2 << 30
)

// File is a recorded snapshot as written to disk: gzip-compressed JSON.
type File struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   FileMetadata `json:"metadata"`
	// Unavailable keeps what could not be read and why, so a replay is as blind as the run was.
	Unavailable map[Kind]string `json:"unavailable,omitempty"`

	Namespaces           []corev1.Namespace             `json:"namespaces,omitempty"`
	Nodes                []corev1.Node                  `json:"nodes,omitempty"`
	Pods                 []corev1.Pod                   `json:"pods,omitempty"`
	Deployments          []appsv1.Deployment            `json:"deployments,omitempty"`
	ReplicaSets          []appsv1.ReplicaSet            `json:"replicaSets,omitempty"`
	StatefulSets         []appsv1.StatefulSet           `json:"statefulSets,omitempty"`
	DaemonSets           []appsv1.DaemonSet             `json:"daemonSets,omitempty"`
	Jobs                 []batchv1.Job                  `json:"jobs,omitempty"`
	CronJobs             []batchv1.CronJob              `json:"cronJobs,omitempty"`
	LimitRanges          []corev1.LimitRange            `json:"limitRanges,omitempty"`
	ResourceQuotas       []corev1.ResourceQuota         `json:"resourceQuotas,omitempty"`
	PodMetrics           []metricsv1beta1.PodMetrics    `json:"podMetrics,omitempty"`
	Services             []corev1.Service               `json:"services,omitempty"`
	EndpointSlices       []discoveryv1.EndpointSlice    `json:"endpointSlices,omitempty"`
	PodDisruptionBudgets []policyv1.PodDisruptionBudget `json:"podDisruptionBudgets,omitempty"`
	ConfigMaps           []corev1.ConfigMap             `json:"configMaps,omitempty"`
	NetworkPolicies      []networkingv1.NetworkPolicy   `json:"networkPolicies,omitempty"`
	Ingresses            []networkingv1.Ingress         `json:"ingresses,omitempty"`
	Events               []corev1.Event                 `json:"events,omitempty"`
	ServiceAccounts      []corev1.ServiceAccount        `json:"serviceAccounts,omitempty"`
	ClusterRoleBindings  []rbacv1.ClusterRoleBinding    `json:"clusterRoleBindings,omitempty"`
	RoleBindings         []rbacv1.RoleBinding           `json:"roleBindings,omitempty"`
	ClusterRoles         []rbacv1.ClusterRole           `json:"clusterRoles,omitempty"`
	Roles                []rbacv1.Role                  `json:"roles,omitempty"`
	ServerVersion        string                         `json:"serverVersion,omitempty"`
	AnonymousAccess      []ProbeResult                  `json:"anonymousAccess,omitempty"`
	DNSMetrics           []DNSMetrics                   `json:"dnsMetrics,omitempty"`
	KubeletConfigs       []KubeletConfig                `json:"kubeletConfigs,omitempty"`
	Conntrack            *Conntrack                     `json:"conntrack,omitempty"`
}

// FileMetadata says where and when the state was read, and which kinds were asked for.
type FileMetadata struct {
	Context     string    `json:"context,omitempty"`
	Server      string    `json:"server,omitempty"`
	Namespace   string    `json:"namespace,omitempty"`
	CollectedAt time.Time `json:"collectedAt"`
	Tool        string    `json:"tool,omitempty"`
	// Kinds lists what was read (or tried); a check needing anything else is not evaluated on
	// replay rather than judging an absence that was never looked at.
	Kinds []Kind `json:"kinds"`
}

// Record turns a collected snapshot into what is written for sharing: ConfigMaps keep only the
// data the checks read (keep), and what could carry credentials or bulk is dropped: container
// environment values, kubectl's last-applied-configuration copies, and managed fields.
// Secrets are never in a snapshot to begin with. The snapshot itself is left as it was.
func Record(s *Snapshot, kinds []Kind, keep []ConfigMapKey, tool string) *File {
	type meta = metav1.Object
	noSpec := func(meta) *corev1.PodSpec { return nil }
	f := &File{
		APIVersion: FileAPIVersion, Kind: FileKind,
		Metadata: FileMetadata{Context: s.Context, Server: s.Server, Namespace: s.Namespace, CollectedAt: s.CollectedAt.UTC(),
			Tool: tool, Kinds: slices.Sorted(slices.Values(kinds))},
		Unavailable: s.Unavailable,

		Namespaces:           scrubbed(s.Namespaces, noSpec),
		Nodes:                scrubbed(s.Nodes, noSpec),
		Pods:                 scrubbed(s.Pods, func(o meta) *corev1.PodSpec { return &o.(*corev1.Pod).Spec }),
		Deployments:          scrubbed(s.Deployments, func(o meta) *corev1.PodSpec { return &o.(*appsv1.Deployment).Spec.Template.Spec }),
		ReplicaSets:          scrubbed(s.ReplicaSets, func(o meta) *corev1.PodSpec { return &o.(*appsv1.ReplicaSet).Spec.Template.Spec }),
		StatefulSets:         scrubbed(s.StatefulSets, func(o meta) *corev1.PodSpec { return &o.(*appsv1.StatefulSet).Spec.Template.Spec }),
		DaemonSets:           scrubbed(s.DaemonSets, func(o meta) *corev1.PodSpec { return &o.(*appsv1.DaemonSet).Spec.Template.Spec }),
		Jobs:                 scrubbed(s.Jobs, func(o meta) *corev1.PodSpec { return &o.(*batchv1.Job).Spec.Template.Spec }),
		CronJobs:             scrubbed(s.CronJobs, func(o meta) *corev1.PodSpec { return &o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template.Spec }),
		LimitRanges:          scrubbed(s.LimitRanges, noSpec),
		ResourceQuotas:       scrubbed(s.ResourceQuotas, noSpec),
		PodMetrics:           scrubbed(s.PodMetrics, noSpec),
		Services:             scrubbed(s.Services, noSpec),
		EndpointSlices:       scrubbed(s.EndpointSlices, noSpec),
		PodDisruptionBudgets: scrubbed(s.PodDisruptionBudgets, noSpec),
		ConfigMaps:           scrubbed(keptData(s.ConfigMaps, keep), noSpec),
		NetworkPolicies:      scrubbed(s.NetworkPolicies, noSpec),
		Ingresses:            scrubbed(s.Ingresses, noSpec),
		Events:               scrubbed(s.Events, noSpec),
		ServiceAccounts:      scrubbed(s.ServiceAccounts, noSpec),
		ClusterRoleBindings:  scrubbed(s.ClusterRoleBindings, noSpec),
		RoleBindings:         scrubbed(s.RoleBindings, noSpec),
		ClusterRoles:         scrubbed(s.ClusterRoles, noSpec),
		Roles:                scrubbed(s.Roles, noSpec),

		ServerVersion:   s.ServerVersion,
		AnonymousAccess: s.AnonymousAccess,
		DNSMetrics:      s.DNSMetrics,
		KubeletConfigs:  s.KubeletConfigs,
		Conntrack:       s.Conntrack,
	}
	return f
}

// keptData copies ConfigMaps with only the data keys named in keep.
func keptData(configMaps []corev1.ConfigMap, keep []ConfigMapKey) []corev1.ConfigMap {
	out := make([]corev1.ConfigMap, 0, len(configMaps))
	for _, cm := range configMaps {
		kept := corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}
		for _, k := range keep {
			if value, ok := cm.Data[k.Key]; ok && k.Namespace == cm.Namespace && k.Name == cm.Name {
				if kept.Data == nil {
					kept.Data = map[string]string{}
				}
				kept.Data[k.Key] = value
			}
		}
		out = append(out, kept)
	}
	return out
}

// lastAppliedAnnotation is kubectl apply's copy of the whole object as applied, ConfigMap data
// and environment values included.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// scrubbed copies items without managed fields, last-applied copies and, in the pod spec that
// spec finds (nil for none), environment values. Maps and slices it changes are copied first:
// the items share them with the live snapshot.
func scrubbed[T any, PT interface {
	*T
	metav1.Object
}](items []T, spec func(metav1.Object) *corev1.PodSpec) []T {
	if len(items) == 0 {
		return nil
	}
	out := slices.Clone(items)
	for i := range out {
		o := PT(&out[i])
		o.SetManagedFields(nil)
		if annotations := o.GetAnnotations(); annotations[lastAppliedAnnotation] != "" {
			copied := maps.Clone(annotations)
			delete(copied, lastAppliedAnnotation)
			o.SetAnnotations(copied)
		}
		if ps := spec(o); ps != nil {
			ps.InitContainers = withoutEnvValues(ps.InitContainers)
			ps.Containers = withoutEnvValues(ps.Containers)
			ephemeral := slices.Clone(ps.EphemeralContainers)
			for j := range ephemeral {
				ephemeral[j].Env = envWithoutValues(ephemeral[j].Env)
			}
			ps.EphemeralContainers = ephemeral
		}
	}
	return out
}

func withoutEnvValues(containers []corev1.Container) []corev1.Container {
	out := slices.Clone(containers)
	for i := range out {
		out[i].Env = envWithoutValues(out[i].Env)
	}
	return out
}

// envWithoutValues keeps variables' names and references (to ConfigMaps, Secrets, fields) but
// not literal values, where people too often paste tokens.
func envWithoutValues(env []corev1.EnvVar) []corev1.EnvVar {
	out := slices.Clone(env)
	for i := range out {
		out[i].Value = ""
	}
	return out
}

// Write writes a recorded snapshot, gzip-compressed.
func (f *File) Write(w io.Writer) error {
	zw := gzip.NewWriter(w)
	enc := json.NewEncoder(zw)
	if err := enc.Encode(f); err != nil {
		return err
	}
	return zw.Close()
}

// ReadFile reads a snapshot written by Write and rebuilds the Snapshot the checks read. Kinds
// the recording did not ask for are marked unavailable, so checks needing them are not
// evaluated instead of judging an absence nobody looked at.
func ReadFile(name string, r io.Reader) (*Snapshot, *FileMetadata, error) {
	return readFile(name, r, MaxFileSize)
}

func readFile(name string, r io.Reader, limit int64) (*Snapshot, *FileMetadata, error) {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a snapshot written by `kubectl alertmend snapshot` (not gzip data: %v)", name, err)
	}
	limited := &limitedReader{r: zr, left: limit}
	var f File
	dec := json.NewDecoder(limited)
	if err := dec.Decode(&f); err != nil {
		if limited.exceeded {
			return nil, nil, fmt.Errorf("%s expands to more than %d MiB; refusing to read it", name, limit>>20)
		}
		var syntax *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, nil, fmt.Errorf("%s is damaged: invalid JSON at byte %d of its content: %v", name, syntax.Offset, err)
		case errors.As(err, &typeErr):
			return nil, nil, fmt.Errorf("%s is damaged: field %s holds a %s where %s belongs", name, typeErr.Field, typeErr.Value, typeErr.Type)
		}
		return nil, nil, fmt.Errorf("%s is damaged or truncated: %v", name, err)
	}
	if f.APIVersion != FileAPIVersion || f.Kind != FileKind {
		return nil, nil, fmt.Errorf("%s holds apiVersion %q, kind %q; want %s %s, as `kubectl alertmend snapshot` writes",
			name, f.APIVersion, f.Kind, FileAPIVersion, FileKind)
	}
	s := New(SourceCluster)
	s.Context, s.Server, s.Namespace, s.CollectedAt = f.Metadata.Context, f.Metadata.Server, f.Metadata.Namespace, f.Metadata.CollectedAt
	s.Namespaces, s.Nodes, s.Pods, s.Deployments, s.ReplicaSets = f.Namespaces, f.Nodes, f.Pods, f.Deployments, f.ReplicaSets
	s.StatefulSets, s.DaemonSets, s.Jobs, s.CronJobs, s.LimitRanges = f.StatefulSets, f.DaemonSets, f.Jobs, f.CronJobs, f.LimitRanges
	s.ResourceQuotas, s.PodMetrics, s.Services, s.EndpointSlices = f.ResourceQuotas, f.PodMetrics, f.Services, f.EndpointSlices
	s.PodDisruptionBudgets, s.ConfigMaps, s.NetworkPolicies, s.Ingresses = f.PodDisruptionBudgets, f.ConfigMaps, f.NetworkPolicies, f.Ingresses
	s.Events, s.ServiceAccounts, s.ClusterRoleBindings, s.RoleBindings = f.Events, f.ServiceAccounts, f.ClusterRoleBindings, f.RoleBindings
	s.ClusterRoles, s.Roles, s.ServerVersion, s.AnonymousAccess = f.ClusterRoles, f.Roles, f.ServerVersion, f.AnonymousAccess
	s.DNSMetrics, s.KubeletConfigs, s.Conntrack = f.DNSMetrics, f.KubeletConfigs, f.Conntrack
	for k, why := range f.Unavailable {
		s.MarkUnavailable(k, why)
	}
	for _, k := range AllKinds() {
		if !slices.Contains(f.Metadata.Kinds, k) {
			s.MarkUnavailable(k, "not recorded in the snapshot "+name)
		}
	}
	s.Finish()
	return s, &f.Metadata, nil
}

// limitedReader fails once more than left bytes were read, remembering that it did.
type limitedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.exceeded = true
		return 0, errors.New("size limit exceeded")
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
