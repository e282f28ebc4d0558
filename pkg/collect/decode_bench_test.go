package collect

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// A Deployment's pod as the API server keeps it: the controller-manager's Update when it
// created the pod from the ReplicaSet's template, the kubelet's status Update, and a third
// manager's annotation.
const (
	controllerFields = `{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/restartedAt":{},"f:prometheus.io/port":{},"f:prometheus.io/scrape":{}},"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{},"f:team":{},"f:version":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"%[1]s\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:env":{".":{},"k:{\"name\":\"LOG_LEVEL\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"POD_IP\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:fieldRef":{}}},"k:{\"name\":\"POD_NAME\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:fieldRef":{}}}},"f:image":{},"f:imagePullPolicy":{},"f:livenessProbe":{".":{},"f:failureThreshold":{},"f:httpGet":{".":{},"f:path":{},"f:port":{},"f:scheme":{}},"f:periodSeconds":{},"f:successThreshold":{},"f:timeoutSeconds":{}},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:readinessProbe":{".":{},"f:failureThreshold":{},"f:httpGet":{".":{},"f:path":{},"f:port":{},"f:scheme":{}},"f:periodSeconds":{},"f:successThreshold":{},"f:timeoutSeconds":{}},"f:resources":{".":{},"f:limits":{".":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{},"f:volumeMounts":{".":{},"k:{\"mountPath\":\"/etc/app\"}":{".":{},"f:mountPath":{},"f:name":{},"f:readOnly":{}},"k:{\"mountPath\":\"/tmp\"}":{".":{},"f:mountPath":{},"f:name":{}}}},"k:{\"name\":\"proxy\"}":{".":{},"f:args":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":15090,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:resources":{".":{},"f:limits":{".":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{".":{},"f:runAsNonRoot":{}},"f:serviceAccount":{},"f:serviceAccountName":{},"f:terminationGracePeriodSeconds":{},"f:volumes":{".":{},"k:{\"name\":\"config\"}":{".":{},"f:configMap":{".":{},"f:defaultMode":{},"f:name":{}},"f:name":{}},"k:{\"name\":\"tmp\"}":{".":{},"f:emptyDir":{},"f:name":{}}}}}`
	kubeletFields    = `{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"PodReadyToStartContainers\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:hostIPs":{},"f:phase":{},"f:podIP":{},"f:podIPs":{".":{},"k:{\"ip\":\"%[1]s\"}":{".":{},"f:ip":{}}},"f:startTime":{}}}`
	annotatorFields  = `{"f:metadata":{"f:annotations":{"f:cluster-autoscaler.kubernetes.io/safe-to-evict":{},"f:sidecar.istio.io/status":{},"f:kubectl.kubernetes.io/default-container":{},"f:kubectl.kubernetes.io/default-logs-container":{},"f:prometheus.io/path":{},"f:traffic.sidecar.istio.io/excludeOutboundIPRanges":{}},"f:labels":{"f:security.istio.io/tlsMode":{},"f:service.istio.io/canonical-name":{},"f:service.istio.io/canonical-revision":{}}},"f:spec":{"f:initContainers":{},"f:volumes":{"k:{\"name\":\"istio-envoy\"}":{".":{},"f:emptyDir":{".":{},"f:medium":{}},"f:name":{}},"k:{\"name\":\"istio-data\"}":{".":{},"f:emptyDir":{},"f:name":{}},"k:{\"name\":\"istio-podinfo\"}":{".":{},"f:downwardAPI":{".":{},"f:defaultMode":{},"f:items":{}},"f:name":{}},"k:{\"name\":\"istio-token\"}":{".":{},"f:name":{},"f:projected":{".":{},"f:defaultMode":{},"f:sources":{}}}}}}`
)

// benchPodList builds n pods of a Deployment spread over nodes and namespaces, each with two
// containers and status.
func benchPodList(n int) *corev1.PodList {
	t0 := metav1.NewTime(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))
	list := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "123456789", Continue: "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzNDU2Nzg5LCJzdGFydCI6InRlYW0tMy93ZWIifQ"}}
	for i := range n {
		rsUID := fmt.Sprintf("5b1c7c1e-0c4e-4f7e-9d0a-%012d", i/10)
		podIP := fmt.Sprintf("10.%d.%d.%d", 100+i/65536, (i/256)%256, i%256)
		container := func(name, image string, port int32, cpu, mem string) corev1.Container {
			return corev1.Container{
				Name: name, Image: image,
				Ports: []corev1.ContainerPort{{Name: name + "-port", ContainerPort: port, Protocol: corev1.ProtocolTCP}},
				Env: []corev1.EnvVar{
					{Name: "LOG_LEVEL", Value: "info"},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(mem)},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: "/etc/app", ReadOnly: true},
					{Name: "tmp", MountPath: "/tmp"},
					{Name: "kube-api-access-x7k2q", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
				},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(port)}},
					TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/livez", Port: intstr.FromInt32(port)}},
					TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3},
				TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				ImagePullPolicy: corev1.PullIfNotPresent,
			}
		}
		status := func(c corev1.Container) corev1.ContainerStatus {
			st := corev1.ContainerStatus{
				Name: c.Name, Ready: true, RestartCount: int32(i % 3), Image: c.Image,
				ImageID:     c.Image + "@sha256:6f0b3a1e9c5d4f2a8b7e6d5c4b3a29181716151413121110f0e0d0c0b0a09080",
				ContainerID: fmt.Sprintf("containerd://%064x", i*2+len(c.Name)),
				State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t0}},
				Started:     new(true),
				Resources:   c.Resources.DeepCopy(),
				User:        &corev1.ContainerUser{Linux: &corev1.LinuxContainerUser{UID: 65532, GID: 65532, SupplementalGroups: []int64{65532}}},
			}
			for _, m := range c.VolumeMounts {
				st.VolumeMounts = append(st.VolumeMounts, corev1.VolumeMountStatus{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly})
			}
			return st
		}
		app := container("app", "registry.example.com/team/web:v1.42.0", 8080, "250m", "512Mi")
		proxy := container("proxy", "docker.io/istio/proxyv2:1.24.2", 15090, "100m", "128Mi")
		ns := fmt.Sprintf("team-%d", i%20)
		pod := corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("web-%d-7d9f8b6c5d-%05d", i/10, i), GenerateName: fmt.Sprintf("web-%d-7d9f8b6c5d-", i/10), Namespace: ns,
				UID:             types.UID(fmt.Sprintf("9f3e2d1c-0b4a-4c5d-8e7f-%012d", i)),
				ResourceVersion: fmt.Sprint(100000000 + i), CreationTimestamp: t0,
				Labels: map[string]string{"app": "web", "pod-template-hash": "7d9f8b6c5d", "team": ns, "version": "v1.42.0",
					"security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": "web"},
				Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-06-30T09:15:00Z", "prometheus.io/scrape": "true",
					"prometheus.io/port": "15090", "kubectl.kubernetes.io/default-container": "app"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: fmt.Sprintf("web-%d-7d9f8b6c5d", i/10),
					UID: types.UID(rsUID), Controller: new(true), BlockOwnerDeletion: new(true)}},
				ManagedFields: []metav1.ManagedFieldsEntry{
					{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &t0,
						FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fmt.Sprintf(controllerFields, rsUID))}},
					{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &t0,
						FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fmt.Sprintf(kubeletFields, podIP))}, Subresource: "status"},
					{Manager: "pilot-agent", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &t0,
						FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(annotatorFields)}},
				},
			},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{app, proxy},
				Volumes: []corev1.Volume{
					{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}, DefaultMode: new(int32(420))}}},
					{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					{Name: "kube-api-access-x7k2q", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: new(int32(420)), Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: new(int64(3607)), Path: "token"}},
						{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
						{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
					}}}},
				},
				RestartPolicy: corev1.RestartPolicyAlways, TerminationGracePeriodSeconds: new(int64(30)), DNSPolicy: corev1.DNSClusterFirst,
				ServiceAccountName: "web", DeprecatedServiceAccount: "web", NodeName: fmt.Sprintf("node-%03d", i%100),
				SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: new(true)}, SchedulerName: "default-scheduler",
				Tolerations: []corev1.Toleration{
					{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
					{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
				},
				Priority: new(int32(0)), EnableServiceLinks: new(true), PreemptionPolicy: new(corev1.PreemptLowerPriority),
			},
			Status: corev1.PodStatus{
				Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBurstable, StartTime: &t0,
				HostIP: fmt.Sprintf("192.168.%d.%d", (i%100)/250, i%100+10), PodIP: podIP,
				HostIPs: []corev1.HostIP{{IP: fmt.Sprintf("192.168.0.%d", i%100+10)}}, PodIPs: []corev1.PodIP{{IP: podIP}},
				ContainerStatuses: []corev1.ContainerStatus{status(app), status(proxy)},
			},
		}
		for _, c := range []corev1.PodConditionType{"PodReadyToStartContainers", corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled} {
			pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue, LastTransitionTime: t0})
		}
		list.Items = append(list.Items, pod)
	}
	return list
}

// benchReplicaSetList builds the ReplicaSets of n/10 Deployments' pods, each with its
// Deployment's pod template and the controller-manager's managedFields.
func benchReplicaSetList(pods *corev1.PodList) *appsv1.ReplicaSetList {
	list := &appsv1.ReplicaSetList{ListMeta: pods.ListMeta}
	for i := 0; i < len(pods.Items); i += 10 {
		pod := pods.Items[i]
		t0 := pod.CreationTimestamp
		name := pod.OwnerReferences[0].Name
		template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: pod.Labels, Annotations: pod.Annotations}, Spec: pod.Spec}
		template.Spec.NodeName = ""
		list.Items = append(list.Items, appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: pod.Namespace, UID: pod.OwnerReferences[0].UID, ResourceVersion: pod.ResourceVersion,
				Generation: 1, CreationTimestamp: t0, Labels: pod.Labels,
				Annotations: map[string]string{"deployment.kubernetes.io/desired-replicas": "10", "deployment.kubernetes.io/max-replicas": "13", "deployment.kubernetes.io/revision": "4"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: strings.TrimSuffix(name, "-7d9f8b6c5d"),
					UID: types.UID(fmt.Sprintf("0d2b6f3a-7c1e-4b9d-a5f2-%012d", i/10)), Controller: new(true), BlockOwnerDeletion: new(true)}},
				ManagedFields: []metav1.ManagedFieldsEntry{
					{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "apps/v1", Time: &t0,
						FieldsType: "FieldsV1", FieldsV1: pod.ManagedFields[0].FieldsV1},
					{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "apps/v1", Time: &t0,
						FieldsType: "FieldsV1", Subresource: "status", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:availableReplicas":{},"f:fullyLabeledReplicas":{},"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:terminatingReplicas":{}}}`)}},
				},
			},
			Spec:   appsv1.ReplicaSetSpec{Replicas: new(int32(10)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "7d9f8b6c5d"}}, Template: template},
			Status: appsv1.ReplicaSetStatus{Replicas: 10, FullyLabeledReplicas: 10, ReadyReplicas: 10, AvailableReplicas: 10, ObservedGeneration: 1},
		})
	}
	return list
}

// protobufBody encodes a list as the API server answers a LIST with protobuf.
func protobufBody(tb testing.TB, list runtime.Object) []byte {
	tb.Helper()
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		tb.Fatal("no protobuf serializer")
	}
	var buf bytes.Buffer
	versions := schema.GroupVersions{corev1.SchemeGroupVersion, appsv1.SchemeGroupVersion}
	if err := scheme.Codecs.EncoderForVersion(info.Serializer, versions).Encode(list, &buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDecode compares, on a page of 500 pods and on their Deployments' ReplicaSets,
// decoding as client-go does and then dropping managedFields with leaving managedFields out of
// the bytes before decoding.
func BenchmarkDecode(b *testing.B) {
	pods := benchPodList(DefaultChunkSize)
	b.Run("pods", func(b *testing.B) { benchmarkDecode(b, pods, podItems) })
	b.Run("replicasets", func(b *testing.B) { benchmarkDecode(b, benchReplicaSetList(pods), replicaSetItems) })
}

func benchmarkDecode[L any, PL interface {
	*L
	runtime.Object
	Unmarshal([]byte) error
}, T any, PT interface {
	*T
	SetManagedFields([]metav1.ManagedFieldsEntry)
}](b *testing.B, list PL, items func(PL) ([]T, metav1.ListMeta)) {
	body := protobufBody(b, list)
	b.Logf("%d objects: %d bytes", meta.LenList(list), len(body))

	b.Run("client-go", func(b *testing.B) {
		// The typed clientset's decoder for a protobuf answer, which rest.Result.Into uses.
		negotiated := rest.CodecFactoryForGeneratedClient(scheme.Scheme, scheme.Codecs).WithoutConversion()
		decoder, err := runtime.NewClientNegotiator(negotiated, schema.GroupVersion{}).Decoder(runtime.ContentTypeProtobuf, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			list := PL(new(L))
			if _, _, err := decoder.Decode(body, nil, list); err != nil {
				b.Fatal(err)
			}
			got, _ := items(list)
			for i := range got {
				PT(&got[i]).SetManagedFields(nil)
			}
		}
	})
	b.Run("stripped", func(b *testing.B) {
		var buf []byte
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			list := PL(new(L))
			var ok bool
			if ok, buf = unmarshalWithoutManagedFields(body, list, buf); !ok {
				b.Fatal("not decoded")
			}
		}
	})
}
