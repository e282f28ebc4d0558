package checks

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// syntheticCluster builds a snapshot of the size issue #10 measures (10,000 pods in 200
// namespaces on 100 nodes, 2,000 Deployments), with one Deployment in ten unhealthy.
func syntheticCluster(deployments, podsPer, nodes int) *snapshot.Snapshot {
	s := snapshot.New(snapshot.SourceCluster)
	for n := 0; n < nodes; n++ {
		s.Nodes = append(s.Nodes, corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%03d", n)},
			Status: corev1.NodeStatus{
				Allocatable: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Gi")},
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16")},
				Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			},
		})
	}
	for d := 0; d < deployments; d++ {
		ns := fmt.Sprintf("ns-%03d", d%200)
		name := fmt.Sprintf("app-%04d", d)
		spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
		}}}}
		available := int32(podsPer)
		if d%10 == 0 {
			available = 0
		}
		s.Deployments = append(s.Deployments, appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(int32(podsPer)), Template: corev1.PodTemplateSpec{Spec: spec}},
			Status:     appsv1.DeploymentStatus{AvailableReplicas: available},
		})
		s.Services = append(s.Services, corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}}})
		rs := name + "-5d4f"
		s.ReplicaSets = append(s.ReplicaSets, appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: rs, Namespace: ns,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, Controller: ptr.To(true)}}}})
		for p := 0; p < podsPer; p++ {
			pod := corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", rs, p), Namespace: ns, Labels: map[string]string{"app": name},
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs, Controller: ptr.To(true)}}},
				Spec:   *spec.DeepCopy(),
				Status: corev1.PodStatus{Phase: corev1.PodRunning},
			}
			pod.Spec.NodeName = fmt.Sprintf("node-%03d", (d*podsPer+p)%nodes)
			if d%10 == 0 {
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: 7,
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
			}
			s.Pods = append(s.Pods, pod)
		}
	}
	addClusterDNS(s)
	addConntrack(s)
	addTraffic(s)
	addStorage(s)
	addDisruption(s, nodes)
	addCapacity(s)
	s.Finish()
	return s
}

// addStorage gives one Deployment in ten a claim its pods mount, bound to a CSI volume attached
// to the first pod's node, with its kubelet's usage (one in ten of them nearly full); every node
// registers the driver; and one claim in twenty of them stays Pending on a StorageClass that
// does not exist.
func addStorage(s *snapshot.Snapshot) {
	const driver = "ebs.csi.aws.com"
	s.StorageClasses = append(s.StorageClasses, storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard",
		Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}}, Provisioner: driver})
	for _, node := range s.Nodes {
		s.CSINodes = append(s.CSINodes, storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: node.Name},
			Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: driver, NodeID: node.Name}}}})
	}
	s.VolumeStats = &snapshot.VolumeStats{Source: "Prometheus at http://127.0.0.1:9090"}
	claims := 0
	for i := range s.Pods {
		pod := &s.Pods[i]
		owner := pod.OwnerReferences[0].Name
		if !strings.HasSuffix(owner, "0-5d4f") || strings.HasPrefix(pod.Namespace, "kube-") {
			continue // one Deployment in ten: app-0000, app-0010, ...
		}
		claim := strings.TrimSuffix(owner, "-5d4f") + "-data"
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
		if !strings.HasSuffix(pod.Name, "-0") {
			continue
		}
		pv := "pvc-" + pod.Namespace + "-" + claim
		class, phase := "standard", corev1.ClaimBound
		if claims%20 == 19 {
			class, phase, pv = "fast", corev1.ClaimPending, ""
		}
		s.PersistentVolumeClaims = append(s.PersistentVolumeClaims, corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: pod.Namespace},
			Spec:       corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), VolumeName: pv},
			Status:     corev1.PersistentVolumeClaimStatus{Phase: phase}})
		claims++
		if pv == "" {
			continue
		}
		s.PersistentVolumes = append(s.PersistentVolumes, corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: pv},
			Spec: corev1.PersistentVolumeSpec{ClaimRef: &corev1.ObjectReference{Namespace: pod.Namespace, Name: claim},
				PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: pv}}}})
		s.VolumeAttachments = append(s.VolumeAttachments, storagev1.VolumeAttachment{ObjectMeta: metav1.ObjectMeta{Name: "csi-" + pv},
			Spec: storagev1.VolumeAttachmentSpec{Attacher: driver, NodeName: pod.Spec.NodeName,
				Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To(pv)}},
			Status: storagev1.VolumeAttachmentStatus{Attached: true}})
		available := 50.0
		if claims%10 == 0 {
			available = 2
		}
		s.VolumeStats.Volumes = append(s.VolumeStats.Volumes, snapshot.VolumeUsage{Namespace: pod.Namespace, Claim: claim,
			Node: pod.Spec.NodeName, CapacityBytes: 100, AvailableBytes: available})
	}
}

// addDisruption gives every Deployment a PodDisruptionBudget and an autoscaler, as the disruption
// and autoscaler controllers would report them, and cordons one node in ten: one budget in twenty
// needs every pod (holding up the drains), one autoscaler in twenty is at its maximum with cpu
// above target, one in twenty cannot read its metrics.
func addDisruption(s *snapshot.Snapshot, nodes int) {
	for n := 0; n < nodes; n += 10 {
		s.Nodes[n].Spec.Unschedulable = true
	}
	for d := range s.Deployments {
		dep := &s.Deployments[d]
		replicas := *dep.Spec.Replicas
		allowed := int32(1)
		budget := policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": dep.Name}}}
		if d%20 == 3 {
			budget.MaxUnavailable, budget.MinAvailable, allowed = nil, ptr.To(intstr.FromInt32(replicas)), 0
		}
		s.PodDisruptionBudgets = append(s.PodDisruptionBudgets, policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: dep.Name, Namespace: dep.Namespace}, Spec: budget,
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed, CurrentHealthy: replicas, DesiredHealthy: replicas - allowed, ExpectedPods: replicas},
		})
		utilization := int32(50)
		limited := autoscalingv2.HorizontalPodAutoscalerCondition{Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionFalse, Reason: "DesiredWithinRange"}
		active := autoscalingv2.HorizontalPodAutoscalerCondition{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionTrue, Reason: "ValidMetricFound"}
		switch d % 20 {
		case 4:
			utilization, limited.Status, limited.Reason = 150, corev1.ConditionTrue, "TooManyReplicas"
		case 5:
			active.Status, active.Reason = corev1.ConditionFalse, "FailedGetResourceMetric"
		}
		s.HorizontalPodAutoscalers = append(s.HorizontalPodAutoscalers, autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: dep.Name, Namespace: dep.Namespace},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name},
				MaxReplicas:    replicas,
				Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(int32(70))}}}},
			},
			Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: replicas, Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{active, limited},
				CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
					Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: &utilization}}}}},
		})
	}
}

// addTraffic gives every Service the EndpointSlice the endpoint controller would write (an
// endpoint per pod, ready unless the pod crash loops) and puts an Ingress in front of one in ten.
func addTraffic(s *snapshot.Snapshot) {
	byService := map[string][]discoveryv1.Endpoint{}
	for i := range s.Pods {
		pod := &s.Pods[i]
		ready := len(pod.Status.ContainerStatuses) == 0
		key := pod.Namespace + "/" + pod.Labels["app"]
		byService[key] = append(byService[key], discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.2.%d.%d", i/250%250, i%250+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}, NodeName: ptr.To(pod.Spec.NodeName)})
	}
	for i, svc := range s.Services {
		s.EndpointSlices = append(s.EndpointSlices, discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: svc.Name + "-x7k2p", Namespace: svc.Namespace, Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
			Endpoints:  byService[svc.Namespace+"/"+svc.Name]})
		if i%10 == 0 {
			backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc.Name, Port: networkingv1.ServiceBackendPort{Number: 80}}}
			s.Ingresses = append(s.Ingresses, networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace},
				Spec: networkingv1.IngressSpec{DefaultBackend: &backend}})
		}
	}
}

// addCapacity gives the synthetic cluster what the capacity checks read: PriorityClasses, a
// ResourceQuota and a LimitRange in every namespace, pod ranges on the nodes, and, for one
// Deployment in fifty, a pod the scheduler cannot place, a pod preempted for a pod of high
// priority, a refusal by its namespace's quota, and a pod without an address.
func addCapacity(s *snapshot.Snapshot) {
	s.PriorityClasses = []schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "default-low"}, Value: 0, GlobalDefault: true},
		{ObjectMeta: metav1.ObjectMeta{Name: "urgent"}, Value: 1000000},
	}
	for i := range s.Nodes {
		s.Nodes[i].Spec.PodCIDR = fmt.Sprintf("10.%d.%d.0/24", 100+i/250, i%250)
		s.Nodes[i].Status.Capacity[corev1.ResourcePods] = resource.MustParse("110")
	}
	for n := 0; n < 200; n++ {
		ns := fmt.Sprintf("ns-%03d", n)
		s.ResourceQuotas = append(s.ResourceQuotas, corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: ns},
			Status: corev1.ResourceQuotaStatus{Hard: corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse("64Gi")},
				Used: corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse("64Gi")}}})
		s.LimitRanges = append(s.LimitRanges, corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: ns},
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
				DefaultRequest: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}}}}})
	}
	preemptor := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "train-0", Namespace: "ns-000", UID: "0b6c2a8e-1f3d-4c5b-9a7e-2d8f6e4c1a90"},
		Spec: corev1.PodSpec{NodeName: "node-000", PriorityClassName: "urgent"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	s.Pods = append(s.Pods, preemptor)
	at := metav1.NewTime(time.Date(2026, 11, 24, 9, 58, 0, 0, time.UTC))
	event := func(ns, kind, name, typ, reason, message string) {
		s.Events = append(s.Events, corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name + "." + reason, Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: ns, Name: name}, Type: typ, Reason: reason, Message: message, LastTimestamp: at})
	}
	for d := 0; d < len(s.Deployments); d += 50 {
		deploy := s.Deployments[d]
		rs := deploy.Name + "-5d4f"
		pending := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: rs + "-pendx", Namespace: deploy.Namespace, Labels: map[string]string{"app": deploy.Name},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs, Controller: ptr.To(true)}}},
			Spec: *deploy.Spec.Template.Spec.DeepCopy(),
			Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
				Reason: corev1.PodReasonUnschedulable, Message: fmt.Sprintf("0/%d nodes are available: %d Insufficient memory.", len(s.Nodes), len(s.Nodes))}}}}
		stuck := *pending.DeepCopy()
		stuck.Name, stuck.Spec.NodeName, stuck.Status = rs+"-nonet", "node-001", corev1.PodStatus{Phase: corev1.PodPending}
		s.Pods = append(s.Pods, pending, stuck)
		event(deploy.Namespace, "Pod", rs+"-gonex", corev1.EventTypeNormal, "Preempted", "Preempted by pod "+string(preemptor.UID)+" on node node-000")
		event(deploy.Namespace, "ReplicaSet", rs, corev1.EventTypeWarning, "FailedCreate", fmt.Sprintf(`Error creating: pods "%s-x2k4q" is forbidden: `+
			"exceeded quota: compute, requested: requests.memory=128Mi, used: requests.memory=64Gi, limited: requests.memory=64Gi", rs))
		event(deploy.Namespace, "Pod", stuck.Name, corev1.EventTypeWarning, "FailedCreatePodSandBox",
			"failed to allocate for range 0: no IP addresses available in range set: 10.100.1.1-10.100.1.254")
	}
}

// addConntrack gives the synthetic cluster kube-proxy with its configuration, and a measured
// table for every node, one in ten of them nearly full and dropping.
func addConntrack(s *snapshot.Snapshot) {
	s.DaemonSets = append(s.DaemonSets, appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-proxy"}},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "kube-proxy", Image: "registry.k8s.io/kube-proxy:v1.37.2",
				Command:      []string{"kube-proxy", "--config=/var/lib/kube-proxy/config.conf"},
				VolumeMounts: []corev1.VolumeMount{{Name: "kube-proxy", MountPath: "/var/lib/kube-proxy"}}}},
			Volumes: []corev1.Volume{{Name: "kube-proxy", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-proxy"}}}}},
		}}},
	})
	s.ConfigMaps = append(s.ConfigMaps, corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: "kube-system"},
		Data: map[string]string{"config.conf": "kind: KubeProxyConfiguration\nconntrack:\n  maxPerCore: 4096\n  min: 0\n"}})
	s.Conntrack = &snapshot.Conntrack{Sources: []string{"Prometheus at http://127.0.0.1:9090"}}
	for i, node := range s.Nodes {
		n := snapshot.ConntrackNode{Node: node.Name, Source: "Prometheus at http://127.0.0.1:9090", Entries: 40000, Limit: 524288,
			Rates: &snapshot.ConntrackCounters{}, RateWindow: 5 * time.Minute}
		if i%10 == 0 {
			n.Entries, n.Rates.Drop = 520000, 3
		}
		s.Conntrack.Nodes = append(s.Conntrack.Nodes, n)
	}
}

// addClusterDNS gives the synthetic cluster a CoreDNS the DNS checks find and judge, with its
// Service and Corefile.
func addClusterDNS(s *snapshot.Snapshot) {
	labels := map[string]string{"k8s-app": "kube-dns"}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "coredns", Image: "registry.k8s.io/coredns/coredns:v1.11.3",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("170Mi")}}}},
	}}
	s.Deployments = append(s.Deployments, appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system", Labels: labels},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, AvailableReplicas: 2},
	})
	s.Services = append(s.Services, corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system"},
		Spec: corev1.ServiceSpec{Selector: labels}})
	s.ConfigMaps = append(s.ConfigMaps, corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"},
		Data: map[string]string{"Corefile": ".:53 {\n  errors\n  health\n  ready\n  kubernetes cluster.local\n  forward . /etc/resolv.conf\n  cache 30\n  loop\n}\n"}})
}

// BenchmarkAllChecks runs the whole catalog over a 10,000-pod snapshot; it guards against
// checks whose cost grows with the square of the cluster.
func BenchmarkAllChecks(b *testing.B) {
	s := syntheticCluster(2000, 5, 100)
	all := All(DefaultOptions())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.ForgetDerived() // each run builds the shared views, as diagnose does
		findings := 0
		for _, c := range all {
			findings += len(c.Run(s))
		}
		if findings == 0 {
			b.Fatal("the synthetic cluster has incidents, yet no finding")
		}
	}
}

// BenchmarkEngine is what diagnose does after reading the cluster: select the catalog for a live
// cluster, run it, fold and prioritize the findings. At 10,000 and 50,000 pods: the time per pod
// must stay flat, or some check has a quadratic step.
func BenchmarkEngine(b *testing.B) {
	for _, deployments := range []int{2000, 10000} {
		b.Run(fmt.Sprintf("pods=%d", deployments*5), func(b *testing.B) {
			s := syntheticCluster(deployments, 5, deployments/20)
			plan, err := engine.Select(All(DefaultOptions()), engine.Selection{}, snapshot.SourceCluster)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.ForgetDerived()
				if r := engine.Run(s, plan, now); len(r.Findings) == 0 {
					b.Fatal("no finding")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(deployments*5), "ns/pod")
		})
	}
}
