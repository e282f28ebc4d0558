package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// systemManifests are the cluster's own components the checks look at: CoreDNS with its Service
// and Corefile, and kube-proxy with its configuration.
//
//go:embed system.yaml
var systemManifests []byte

// Size is the shape of a seeded cluster. The defaults at 10,000 pods are the cluster issue #10
// measures other tools on: 200 namespaces, 100 nodes, 2,000 Deployments and Services, 270
// NetworkPolicies, 1,000 RoleBindings; and, as issue #22 measures, 50,000 events.
type Size struct {
	Pods, Namespaces, Nodes, Policies, Bindings, Events int
}

// sizeFor scales that cluster to a number of pods.
func sizeFor(pods int) Size {
	return Size{
		Pods:       pods,
		Namespaces: max(pods/50, 1),
		Nodes:      max(pods/100, 1),
		Policies:   max(pods*27/1000, 1),
		Bindings:   max(pods/10, 1),
		Events:     pods * 5,
	}
}

// podsPerDeployment makes 2,000 Deployments of 10,000 pods.
const podsPerDeployment = 5

// seedWorkers is how many creates are in flight: enough to keep the API server busy.
const seedWorkers = 32

// seed creates the cluster: nodes, namespaces with their default ServiceAccount, Deployments
// with their ReplicaSets and pods (status written as controllers and kubelets would), Services,
// NetworkPolicies, Roles and RoleBindings, and a cluster DNS and kube-proxy in kube-system; one
// Deployment in ten mounts a claim bound to a CSI volume attached to a node, whose CSINode
// registers the driver, as every node's does. One
// Deployment in twenty crash loops after OOM kills, one in twenty has no memory limit, one in
// twenty cannot pull its image, and one node in fifty is not ready.
func seed(ctx context.Context, config *rest.Config, client kubernetes.Interface, size Size) (int, error) {
	var created atomic.Int64
	// count tallies one object the cluster now holds, when its last request succeeded.
	count := func(err error) error {
		if err == nil {
			created.Add(1)
		}
		return err
	}
	core := client.CoreV1()

	err := parallel(ctx, size.Nodes, func(i int) error {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%04d", i),
			Labels: map[string]string{"topology.kubernetes.io/zone": fmt.Sprintf("zone-%d", i%3)}}}
		if i%50 == 48 { // being drained
			node.Spec.Unschedulable = true
			node.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &metav1.Time{Time: time.Now().Add(-time.Hour)}}}
		}
		node, err := core.Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		ready := corev1.ConditionTrue
		if i%50 == 49 {
			ready = corev1.ConditionUnknown
		}
		node.Status = corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("15"), corev1.ResourceMemory: resource.MustParse("62Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: "KubeletReady"}},
			Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("127.1.%d.%d", i/250, i%250+1)}},
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "v1.37.2"},
		}
		if _, err = core.Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); count(err) != nil {
			return err
		}
		_, err = client.StorageV1().CSINodes().Create(ctx, &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: node.Name},
			Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: csiDriver, NodeID: node.Name}}}}, metav1.CreateOptions{})
		return count(err)
	})
	if err != nil {
		return 0, fmt.Errorf("nodes: %w", err)
	}
	err = parallel(ctx, size.Namespaces, func(i int) error {
		ns := namespaceName(i)
		if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		_ = count(nil) // the namespace
		_, err := core.ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		return count(err)
	})
	if err != nil {
		return 0, fmt.Errorf("namespaces: %w", err)
	}
	_, err = client.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard",
		Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}}, Provisioner: csiDriver}, metav1.CreateOptions{})
	if count(err) != nil {
		return 0, fmt.Errorf("storageclass: %w", err)
	}
	if err := testcluster.Apply(ctx, config, systemManifests); err != nil {
		return 0, fmt.Errorf("kube-system: %w", err)
	}
	created.Add(int64(bytes.Count(systemManifests, []byte("\nkind: "))))

	deployments := max(size.Pods/podsPerDeployment, 1)
	err = parallel(ctx, deployments, func(i int) error {
		return seedDeployment(ctx, client, size, i, count)
	})
	if err != nil {
		return 0, fmt.Errorf("deployments: %w", err)
	}
	err = parallel(ctx, size.Policies, func(i int) error {
		_, err := client.NetworkingV1().NetworkPolicies(namespaceName(i%size.Namespaces)).Create(ctx, policy(i), metav1.CreateOptions{})
		return count(err)
	})
	if err != nil {
		return 0, fmt.Errorf("networkpolicies: %w", err)
	}
	err = parallel(ctx, size.Bindings, func(i int) error {
		ns := namespaceName(i % size.Namespaces)
		role, binding := access(i)
		if _, err := client.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); count(err) != nil {
			return err
		}
		_, err := client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{})
		return count(err)
	})
	if err != nil {
		return 0, fmt.Errorf("rolebindings: %w", err)
	}
	if err := seedEvents(ctx, client, size, count); err != nil {
		return 0, fmt.Errorf("events: %w", err)
	}
	if err := seedCapacity(ctx, client, size, count); err != nil {
		return 0, fmt.Errorf("capacity: %w", err)
	}
	return int(created.Load()), nil
}

// seedCapacity creates what the capacity checks read: two PriorityClasses, and in every
// namespace a ResourceQuota and a LimitRange. They come after the pods, which the quota
// admission would otherwise judge.
func seedCapacity(ctx context.Context, client kubernetes.Interface, size Size, count func(error) error) error {
	for _, pc := range []schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "bench-default"}, Value: 0, GlobalDefault: true},
		{ObjectMeta: metav1.ObjectMeta{Name: "bench-urgent"}, Value: 1000000},
	} {
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, &pc, metav1.CreateOptions{}); count(err) != nil {
			return err
		}
	}
	return parallel(ctx, size.Namespaces, func(i int) error {
		ns := namespaceName(i)
		quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: ns},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("1000")}}}
		if _, err := client.CoreV1().ResourceQuotas(ns).Create(ctx, quota, metav1.CreateOptions{}); count(err) != nil {
			return err
		}
		limits := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: ns},
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
				DefaultRequest: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}}}}}
		_, err := client.CoreV1().LimitRanges(ns).Create(ctx, limits, metav1.CreateOptions{})
		return count(err)
	})
}

// evidencePerBroken is how many Warning events each broken Deployment's pods carry.
const evidencePerBroken = 10

// seedEvents creates size.Events events: 10 recent Warning events about the pods of each broken
// Deployment (back-offs and failing liveness probes of the crash loops, the registry's refusals of
// the image pulls), and older ones about all pods to make up the count, half Normal (pulled,
// started) and half Warning (a readiness probe that failed once): more Warning events than a run
// keeps, so the bound is measured too.
func seedEvents(ctx context.Context, client kubernetes.Interface, size Size, count func(error) error) error {
	deployments := max(size.Pods/podsPerDeployment, 1)
	var broken []int
	for i := range deployments {
		if i%20 == 0 || i%20 == 2 {
			broken = append(broken, i)
		}
	}
	evidence := min(len(broken)*evidencePerBroken, size.Events)
	now := time.Now()
	return parallel(ctx, size.Events, func(n int) error {
		var deployment, pod int
		var typ, reason, message string
		var ago time.Duration
		if n < evidence {
			deployment, pod = broken[n/evidencePerBroken], n%evidencePerBroken%podsPerDeployment
			ago = time.Duration(n%evidencePerBroken) * time.Minute
			typ, reason, message = corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container app"
			switch {
			case deployment%20 == 2:
				typ, reason, message = corev1.EventTypeWarning, "Failed", `Failed to pull image "registry.example/app:1.4.3": not found`
			case n%2 == 1:
				reason, message = "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 503"
			}
		} else {
			k := n - evidence
			deployment, pod = k%deployments, k/deployments%podsPerDeployment
			ago = 10*time.Minute + time.Duration(k%3000)*time.Second
			typ, reason, message = corev1.EventTypeNormal, "Pulled", `Container image "registry.example/app:1.4.2" already present on machine`
			if k%2 == 1 {
				typ, reason, message = corev1.EventTypeWarning, "Unhealthy", "Readiness probe failed: Get \"http://127.2.0.1:8080/ready\": context deadline exceeded"
			}
		}
		ns := namespaceName(deployment % size.Namespaces)
		podName := fmt.Sprintf("app-%05d-6d8f7b9c4-%05d", deployment, pod)
		_, err := client.CoreV1().Events(ns).Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%06d", podName, n), Namespace: ns},
			InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: podName},
			Type:           typ, Reason: reason, Message: message, Count: int32(1 + n%40),
			Source:         corev1.EventSource{Component: "kubelet", Host: fmt.Sprintf("node-%04d", (deployment*podsPerDeployment+pod)%size.Nodes)},
			FirstTimestamp: metav1.NewTime(now.Add(-time.Hour)), LastTimestamp: metav1.NewTime(now.Add(-ago)),
		}, metav1.CreateOptions{})
		return count(err)
	})
}

func namespaceName(i int) string { return fmt.Sprintf("team-%03d", i) }

// seedDeployment creates Deployment i, its ReplicaSet and pods, its Service with its
// EndpointSlice, and for one in ingressEvery an Ingress in front of the Service.
func seedDeployment(ctx context.Context, client kubernetes.Interface, size Size, i int, count func(error) error) error {
	ns := namespaceName(i % size.Namespaces)
	name := fmt.Sprintf("app-%05d", i)
	labels := map[string]string{"app": name}
	container := corev1.Container{Name: "app", Image: "registry.example/app:1.4.2",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
		}}
	crashing, unlimited, pullFailing := i%20 == 0, i%20 == 1, i%20 == 2
	if unlimited {
		container.Resources.Limits = nil
	}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{container}}}
	if i%claimEvery == claimEvery/2 {
		claim, err := seedClaim(ctx, client, ns, name, fmt.Sprintf("node-%04d", (i*podsPerDeployment)%size.Nodes), count)
		if err != nil {
			return err
		}
		template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
	}
	apps := client.AppsV1()
	deployment, err := apps.Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(podsPerDeployment)), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: template},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	available := int32(podsPerDeployment)
	switch {
	case crashing:
		available = 0
	case pullFailing:
		available = podsPerDeployment - 1
	}
	deployment.Status = appsv1.DeploymentStatus{ObservedGeneration: deployment.Generation, Replicas: podsPerDeployment,
		UpdatedReplicas: podsPerDeployment, ReadyReplicas: available, AvailableReplicas: available,
		UnavailableReplicas: podsPerDeployment - available}
	if _, err := apps.Deployments(ns).UpdateStatus(ctx, deployment, metav1.UpdateOptions{}); count(err) != nil {
		return err
	}
	rs, err := apps.ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-6d8f7b9c4", Namespace: ns, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: deployment.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(podsPerDeployment)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}, metav1.CreateOptions{})
	if count(err) != nil {
		return err
	}
	for p := range podsPerDeployment {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%05d", rs.Name, p), Namespace: ns, Labels: labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}},
			Spec: *template.Spec.DeepCopy(),
		}
		pod.Spec.NodeName = fmt.Sprintf("node-%04d", (i*podsPerDeployment+p)%size.Nodes)
		pod, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		pod.Status = podStatus(crashing, pullFailing && p == 0, i*podsPerDeployment+p)
		if err := count(updatePodStatus(ctx, client, pod)); err != nil {
			return err
		}
	}
	_, err = client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: labels, ClusterIP: corev1.ClusterIPNone,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{})
	if count(err) != nil {
		return err
	}
	if err := seedBudgetAndAutoscaler(ctx, client, ns, name, i, count); err != nil {
		return err
	}
	_, err = client.DiscoveryV1().EndpointSlices(ns).Create(ctx, endpointSlice(name, i, crashing, pullFailing), metav1.CreateOptions{})
	if count(err) != nil || i%ingressEvery != 0 {
		return err
	}
	_, err = client.NetworkingV1().Ingresses(ns).Create(ctx, ingress(name), metav1.CreateOptions{})
	return count(err)
}

// claimEvery gives one Deployment in ten a PersistentVolumeClaim its pods mount: 200 of 2,000.
const claimEvery = 10

// csiDriver provisions and attaches the seeded volumes.
const csiDriver = "ebs.csi.aws.com"

// seedClaim creates Deployment name's claim, bound to a CSI volume attached to node, with the
// statuses the PV controller and the attacher would write; it returns the claim's name.
func seedClaim(ctx context.Context, client kubernetes.Interface, ns, name, node string, count func(error) error) (string, error) {
	core, storage := client.CoreV1(), client.StorageV1()
	claimName, pvName := name+"-data", "pvc-"+ns+"-"+name
	size := corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}
	pv, err := core.PersistentVolumes().Create(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: pvName},
		Spec: corev1.PersistentVolumeSpec{Capacity: size, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: "standard", ClaimRef: &corev1.ObjectReference{Namespace: ns, Name: claimName},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: csiDriver, VolumeHandle: pvName}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	pv.Status.Phase = corev1.VolumeBound
	if _, err := core.PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{}); count(err) != nil {
		return "", err
	}
	claim, err := core.PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: claimName},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("standard"), VolumeName: pvName,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, Resources: corev1.VolumeResourceRequirements{Requests: size}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	claim.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: size,
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}}
	if _, err := core.PersistentVolumeClaims(ns).UpdateStatus(ctx, claim, metav1.UpdateOptions{}); count(err) != nil {
		return "", err
	}
	attachment, err := storage.VolumeAttachments().Create(ctx, &storagev1.VolumeAttachment{ObjectMeta: metav1.ObjectMeta{Name: "csi-" + pvName},
		Spec: storagev1.VolumeAttachmentSpec{Attacher: csiDriver, NodeName: node, Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To(pvName)}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	attachment.Status.Attached = true
	_, err = storage.VolumeAttachments().UpdateStatus(ctx, attachment, metav1.UpdateOptions{})
	return claimName, count(err)
}

// seedBudgetAndAutoscaler gives Deployment i a PodDisruptionBudget and a HorizontalPodAutoscaler
// with the status their controllers would write: the budget allows one eviction, but one in
// twenty needs every pod (and holds up the drains of the cordoned nodes); one autoscaler in
// twenty is at its maximum with cpu above target, one in twenty cannot read its metrics.
func seedBudgetAndAutoscaler(ctx context.Context, client kubernetes.Interface, ns, name string, i int, count func(error) error) error {
	budget := intstr.FromInt32(1)
	spec := policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &budget, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}
	allowed := int32(1)
	if i%20 == 3 {
		all := intstr.FromInt32(podsPerDeployment)
		spec = policyv1.PodDisruptionBudgetSpec{MinAvailable: &all, Selector: spec.Selector}
		allowed = 0
	}
	pdb, err := client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: allowed,
		CurrentHealthy: podsPerDeployment, DesiredHealthy: podsPerDeployment - allowed, ExpectedPods: podsPerDeployment}
	if _, err := client.PolicyV1().PodDisruptionBudgets(ns).UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); count(err) != nil {
		return err
	}
	hpa, err := client.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    ptr.To(int32(2)), MaxReplicas: podsPerDeployment,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(int32(70))}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	utilization := int32(50)
	conditions := []autoscalingv2.HorizontalPodAutoscalerCondition{
		{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "ReadyForNewScale"},
		{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionTrue, Reason: "ValidMetricFound"},
		{Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionFalse, Reason: "DesiredWithinRange"},
	}
	switch i % 20 {
	case 4:
		utilization = 150
		conditions[2] = autoscalingv2.HorizontalPodAutoscalerCondition{Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionTrue, Reason: "TooManyReplicas"}
	case 5:
		conditions[1] = autoscalingv2.HorizontalPodAutoscalerCondition{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionFalse,
			Reason: "FailedGetResourceMetric", Message: "the HPA was unable to compute the replica count: failed to get cpu utilization: " +
				"unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"}
	}
	hpa.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: podsPerDeployment, DesiredReplicas: podsPerDeployment, Conditions: conditions,
		CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
			Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: &utilization}}}}}
	_, err = client.AutoscalingV2().HorizontalPodAutoscalers(ns).UpdateStatus(ctx, hpa, metav1.UpdateOptions{})
	return count(err)
}

// ingressEvery puts an Ingress in front of one Service in ten: 200 of 2,000.
const ingressEvery = 10

// endpointSlice is what the endpoint controller would write for Deployment i's Service: one
// endpoint per pod, ready as the pod is. The API server refuses loopback addresses here, so they
// are private ones; nothing dials them.
func endpointSlice(name string, i int, crashing, pullFailing bool) *discoveryv1.EndpointSlice {
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-x7k2p", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for p := range podsPerDeployment {
		n := i*podsPerDeployment + p
		ready := !crashing && !(pullFailing && p == 0)
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.2.%d.%d", n/250%250, n%250+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)},
		})
	}
	return slice
}

// ingress routes a host to Service name's port 80.
func ingress(name string) *networkingv1.Ingress {
	backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: 80}}}
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: name + ".example",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
				{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: backend}}}}}}},
	}
}

func updatePodStatus(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod) error {
	_, err := client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	return err
}

// podStatus is what a kubelet would report: running and ready, or crash looping after an OOM
// kill, or unable to pull its image. Pod IPs are loopback addresses, never dialled.
func podStatus(crashing, pullFailing bool, n int) corev1.PodStatus {
	ip := fmt.Sprintf("127.2.%d.%d", n/250%250, n%250+1)
	status := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "registry.example/app:1.4.2", Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}
	switch {
	case crashing:
		status.Conditions[0].Status = corev1.ConditionFalse
		status.ContainerStatuses[0] = corev1.ContainerStatus{Name: "app", Image: "registry.example/app:1.4.2", RestartCount: 7,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}
	case pullFailing:
		status.Phase = corev1.PodPending
		status.Conditions[0].Status = corev1.ConditionFalse
		status.ContainerStatuses[0] = corev1.ContainerStatus{Name: "app", Image: "registry.example/app:1.4.3",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "Back-off pulling image"}}}
	}
	return status
}

// policy i: every third is a namespace's default deny, the others admit the namespace's own pods
// or a monitoring namespace to one app.
func policy(i int) *networkingv1.NetworkPolicy {
	p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("policy-%04d", i)},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
	if i%3 == 0 {
		return p
	}
	p.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app-%05d", i)}}
	peer := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}}
	if i%3 == 2 {
		peer = networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}}}
	}
	p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{peer},
		Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(8080))}}}}
	return p
}

// access i is a Role and its binding: most read pods; one in ten reads Secrets, one in twenty
// may exec into pods, bound to users, groups and ServiceAccounts.
func access(i int) (*rbacv1.Role, *rbacv1.RoleBinding) {
	name := fmt.Sprintf("access-%04d", i)
	rules := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"get", "list", "watch"}}}
	switch {
	case i%20 == 0:
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create"}})
	case i%10 == 1:
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
	}
	subject := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("dev-%03d", i%300)}
	switch i % 3 {
	case 1:
		subject = rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("team-%02d", i%40)}
	case 2:
		subject = rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "default"}
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: []rbacv1.Subject{subject},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}
	return role, binding
}

// parallel runs fn for 0..n-1 on seedWorkers goroutines and returns the first error.
func parallel(ctx context.Context, n int, fn func(int) error) error {
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		mu    sync.Mutex
		first error
	)
	for range min(seedWorkers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
