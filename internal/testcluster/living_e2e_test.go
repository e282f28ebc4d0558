//go:build e2e

package testcluster

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// settle is how long a living cluster gets to reach a state: generous, because the machine
// may be busy; a state reached sooner ends the wait at once.
const settle = 3 * time.Minute

// The living cluster's controllers, scheduler and kwok do what a real cluster's do, each
// subtest in a namespace of its own, on two nodes of 2 CPUs.
func TestLivingCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Living: true, Log: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	defer func() {
		if t.Failed() {
			c.dumpLogs(os.Stderr)
		}
	}()
	nodes, err := c.AddNodes(ctx, 2, NodeOptions{Zones: []string{"zone-a", "zone-b"}, Allocatable: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("20"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nodes, []string{"node-0", "node-1"}) {
		t.Fatalf("AddNodes named the nodes %v", nodes)
	}
	t.Run("nodes are on loopback, one zone each", func(t *testing.T) { testNodes(t, ctx, c, nodes) })
	t.Run("a Deployment becomes a ReplicaSet and ready pods on loopback", func(t *testing.T) { testDeploymentRuns(t, ctx, c, nodes) })
	t.Run("a Job's pod completes", func(t *testing.T) { testJobCompletes(t, ctx, c) })
	t.Run("the scheduler says why a pod fits no node", func(t *testing.T) { testUnschedulable(t, ctx, c) })
	t.Run("the disruption controller computes a PDB's status", func(t *testing.T) { testPDBStatus(t, ctx, c) })
	t.Run("the quota controller computes usage and refuses pods over it", func(t *testing.T) { testQuota(t, ctx, c) })
	t.Run("a rollout to an image that does not exist", func(t *testing.T) { testBadImageRollout(t, ctx, c) })
	t.Run("a crashing container", func(t *testing.T) { testCrash(t, ctx, c) })
	t.Run("a node that is not ready", func(t *testing.T) { testNodeNotReady(t, ctx, c) })
}

func testNodes(t *testing.T, ctx context.Context, c *Cluster, nodes []string) {
	nodeCIDR := netip.MustParsePrefix(NodeCIDR)
	var zones []string
	for _, name := range nodes {
		node, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range node.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && !nodeCIDR.Contains(netip.MustParseAddr(a.Address)) {
				t.Errorf("%s has InternalIP %s, outside %s", name, a.Address, NodeCIDR)
			}
		}
		if v := node.Status.NodeInfo.KubeletVersion; v != KubernetesVersion {
			t.Errorf("%s's kubelet reports %q, want %s", name, v, KubernetesVersion)
		}
		zones = append(zones, node.Labels["topology.kubernetes.io/zone"])
	}
	if !slices.Equal(zones, []string{"zone-a", "zone-b"}) {
		t.Errorf("zones %v, want one node in each", zones)
	}
}

func testDeploymentRuns(t *testing.T, ctx context.Context, c *Cluster, nodes []string) {
	ns := newNamespace(t, ctx, c, "run")
	deploy := deployment("web", 2, "registry.example/web:1")
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the Deployment available with 2 replicas", func() error {
		d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.AvailableReplicas != 2 || d.Status.ReadyReplicas != 2 {
			return fmt.Errorf("status %+v", d.Status)
		}
		return nil
	})
	rss, err := c.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 1 || len(rss.Items[0].OwnerReferences) != 1 || rss.Items[0].OwnerReferences[0].Name != "web" {
		t.Fatalf("ReplicaSets %v, want one owned by the Deployment", rss.Items)
	}
	pods := podsOf(t, ctx, c, ns, "app=web")
	if len(pods) != 2 {
		t.Fatalf("%d pods, want 2", len(pods))
	}
	podCIDR, nodeCIDR := netip.MustParsePrefix(PodCIDR), netip.MustParsePrefix(NodeCIDR)
	for _, p := range pods {
		if p.OwnerReferences[0].Name != rss.Items[0].Name {
			t.Errorf("%s is owned by %v, not the ReplicaSet", p.Name, p.OwnerReferences)
		}
		if p.Status.Phase != corev1.PodRunning || !podReady(&p) {
			t.Errorf("%s is %s, ready %v", p.Name, p.Status.Phase, podReady(&p))
		}
		if !slices.Contains(nodes, p.Spec.NodeName) {
			t.Errorf("%s runs on %q, not a kwok node", p.Name, p.Spec.NodeName)
		}
		if ip, err := netip.ParseAddr(p.Status.PodIP); err != nil || !podCIDR.Contains(ip) {
			t.Errorf("%s has pod IP %q, outside %s", p.Name, p.Status.PodIP, PodCIDR)
		}
		if ip, err := netip.ParseAddr(p.Status.HostIP); err != nil || !nodeCIDR.Contains(ip) {
			t.Errorf("%s has host IP %q, outside %s", p.Name, p.Status.HostIP, NodeCIDR)
		}
	}
	// The scheduler spreads a Deployment's pods over nodes by default.
	if pods[0].Spec.NodeName == pods[1].Spec.NodeName {
		t.Errorf("both pods on %s", pods[0].Spec.NodeName)
	}
}

func testJobCompletes(t *testing.T, ctx context.Context, c *Cluster) {
	ns := newNamespace(t, ctx, c, "job")
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "once"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "work", Image: "registry.example/work:1"}},
		}}},
	}
	if _, err := c.Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the Job complete", func() error {
		j, err := c.Client.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue && j.Status.Succeeded == 1 {
				return nil
			}
		}
		return fmt.Errorf("status %+v", j.Status)
	})
}

func testUnschedulable(t *testing.T, ctx context.Context, c *Cluster) {
	ns := newNamespace(t, ctx, c, "unschedulable")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "huge"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64")}}}}},
	}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var cond corev1.PodCondition
	eventually(t, ctx, "PodScheduled=False", func() error {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, "huge", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond = range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", p.Status.Conditions)
	})
	if cond.Reason != corev1.PodReasonUnschedulable || !strings.Contains(cond.Message, "0/2 nodes are available") ||
		!strings.Contains(cond.Message, "Insufficient cpu") {
		t.Errorf("PodScheduled=False %s: %q, want Unschedulable, 0/2 nodes, Insufficient cpu", cond.Reason, cond.Message)
	}
	p, err := c.Client.CoreV1().Pods(ns).Get(ctx, "huge", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" || p.Status.Phase != corev1.PodPending {
		t.Errorf("the pod is %s on %q", p.Status.Phase, p.Spec.NodeName)
	}
}

func testPDBStatus(t *testing.T, ctx context.Context, c *Cluster) {
	ns := newNamespace(t, ctx, c, "pdb")
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, deployment("api", 3, "registry.example/api:1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	minAvailable := intstr.FromInt32(2)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}},
	}
	if _, err := c.Client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the PDB allowing 1 disruption of 3 healthy pods", func() error {
		p, err := c.Client.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			return err
		}
		s := p.Status
		if s.ObservedGeneration != p.Generation || s.ExpectedPods != 3 || s.CurrentHealthy != 3 || s.DesiredHealthy != 2 || s.DisruptionsAllowed != 1 {
			return fmt.Errorf("status %+v", s)
		}
		return nil
	})
}

func testQuota(t *testing.T, ctx context.Context, c *Cluster) {
	ns := newNamespace(t, ctx, c, "quota")
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "small"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("2")}},
	}
	if _, err := c.Client.CoreV1().ResourceQuotas(ns).Create(ctx, quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the quota's usage computed", func() error {
		q, err := c.Client.CoreV1().ResourceQuotas(ns).Get(ctx, "small", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if used, ok := q.Status.Used[corev1.ResourcePods]; !ok || !used.IsZero() {
			return fmt.Errorf("status %+v", q.Status)
		}
		return nil
	})
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, deployment("big", 3, "registry.example/big:1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var message string
	eventually(t, ctx, "the ReplicaSet's FailedCreate event", func() error {
		events, err := c.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Kind == "ReplicaSet" && e.Reason == "FailedCreate" && e.Type == corev1.EventTypeWarning {
				message = e.Message
				return nil
			}
		}
		return fmt.Errorf("%d events, none FailedCreate", len(events.Items))
	})
	if !strings.Contains(message, "exceeded quota: small") {
		t.Errorf("FailedCreate says %q, want the quota exceeded", message)
	}
	eventually(t, ctx, "the quota's usage at its limit", func() error {
		q, err := c.Client.CoreV1().ResourceQuotas(ns).Get(ctx, "small", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if used := q.Status.Used[corev1.ResourcePods]; used.Value() != 2 {
			return fmt.Errorf("used %v", q.Status.Used)
		}
		return nil
	})
}

// A rollout to an image that cannot be pulled leaves the old pods running and a new one in
// ImagePullBackOff; rolling back replaces it.
func testBadImageRollout(t *testing.T, ctx context.Context, c *Cluster) {
	ns := newNamespace(t, ctx, c, "rollout")
	deploy := deployment("shop", 2, "registry.example/shop:1")
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	available := func(what string) {
		eventually(t, ctx, what, func() error {
			d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
			if err != nil {
				return err
			}
			s := d.Status
			if s.ObservedGeneration != d.Generation || s.UpdatedReplicas != 2 || s.AvailableReplicas != 2 || s.Replicas != 2 {
				return fmt.Errorf("status %+v", s)
			}
			return nil
		})
	}
	available("the first version available")
	setImage := func(image string) {
		patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image)
		if _, err := c.Client.AppsV1().Deployments(ns).Patch(ctx, "shop", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bad := "registry.example/shop:" + BadImageMarker
	setImage(bad)
	var stuck corev1.Pod
	eventually(t, ctx, "a pod of the new version in ImagePullBackOff", func() error {
		for _, p := range podsOf(t, ctx, c, ns, "app=shop") {
			if w := waiting(&p); p.Spec.Containers[0].Image == bad && w != nil && w.Reason == "ImagePullBackOff" {
				stuck = p
				return nil
			}
		}
		return fmt.Errorf("no pod of %s backing off", bad)
	})
	if w := waiting(&stuck); !strings.Contains(w.Message, bad) || podReady(&stuck) || stuck.Status.Phase != corev1.PodPending {
		t.Errorf("the stuck pod is %s, ready %v, waiting %+v", stuck.Status.Phase, podReady(&stuck), w)
	}
	var reasons []string
	eventually(t, ctx, "the kubelet's events for the stuck pod", func() error {
		events, err := c.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + stuck.Name})
		if err != nil {
			return err
		}
		reasons = nil
		for _, e := range events.Items {
			reasons = append(reasons, e.Reason+": "+e.Message)
		}
		if !slices.Contains(reasons, "Failed: Error: ImagePullBackOff") {
			return fmt.Errorf("events %v", reasons)
		}
		return nil
	})
	if !slices.Contains(reasons, "Failed: Error: ErrImagePull") {
		t.Errorf("events %v, want ErrImagePull's too", reasons)
	}
	ready := 0
	for _, p := range podsOf(t, ctx, c, ns, "app=shop") {
		if p.Spec.Containers[0].Image == "registry.example/shop:1" && podReady(&p) {
			ready++
		}
	}
	if ready != 2 {
		t.Errorf("%d pods of the old version ready during the stuck rollout, want 2", ready)
	}

	setImage("registry.example/shop:1")
	available("the old version available again")
	eventually(t, ctx, "the stuck pod gone", func() error {
		for _, p := range podsOf(t, ctx, c, ns, "app=shop") {
			if p.Spec.Containers[0].Image == bad {
				return fmt.Errorf("%s still there", p.Name)
			}
		}
		return nil
	})
}

// A container crashes by its image's name or by the fault annotation, and keeps crashing.
func testCrash(t *testing.T, ctx context.Context, c *Cluster) {
	ns := newNamespace(t, ctx, c, "crash")
	byImage := pod("by-image", "registry.example/worker:"+CrashImageMarker)
	byAnnotation := pod("by-annotation", "registry.example/worker:1")
	byAnnotation.Annotations = map[string]string{FaultAnnotation: FaultCrash}
	for _, p := range []*corev1.Pod{byImage, byAnnotation} {
		if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"by-image", "by-annotation"} {
		eventually(t, ctx, name+" restarted twice in CrashLoopBackOff", func() error {
			p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(p.Status.ContainerStatuses) != 1 {
				return fmt.Errorf("container statuses %v", p.Status.ContainerStatuses)
			}
			s := p.Status.ContainerStatuses[0]
			if s.State.Waiting == nil || s.State.Waiting.Reason != "CrashLoopBackOff" || s.RestartCount < 2 {
				return fmt.Errorf("container status %+v", s)
			}
			if s.LastTerminationState.Terminated == nil || s.LastTerminationState.Terminated.ExitCode != 1 || p.Status.Phase != corev1.PodRunning || podReady(p) {
				return fmt.Errorf("last state %+v, phase %s, ready %v", s.LastTerminationState, p.Status.Phase, podReady(p))
			}
			return nil
		})
	}
}

// kwok reports the node not ready; the controller-manager taints it, so the scheduler keeps new
// pods off; when it is ready again, the taints go and the pod is placed.
func testNodeNotReady(t *testing.T, ctx context.Context, c *Cluster) {
	names, err := c.AddNodes(ctx, 1, NodeOptions{NamePrefix: "flaky", Labels: map[string]string{"pool": "flaky"}, Zones: []string{"zone-a"}})
	if err != nil {
		t.Fatal(err)
	}
	node := names[0]
	ns := newNamespace(t, ctx, c, "notready")
	p := pod("pinned", "registry.example/app:1")
	p.Spec.NodeSelector = map[string]string{"pool": "flaky"}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the pinned pod ready", func() error {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, "pinned", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Spec.NodeName != node || !podReady(p) {
			return fmt.Errorf("on %q, ready %v", p.Spec.NodeName, podReady(p))
		}
		return nil
	})

	if err := c.SetNodeReady(ctx, node, false); err != nil {
		t.Fatal(err)
	}
	notReadyTaint := func(n *corev1.Node, effect corev1.TaintEffect) bool {
		return slices.ContainsFunc(n.Spec.Taints, func(taint corev1.Taint) bool {
			return taint.Key == corev1.TaintNodeNotReady && taint.Effect == effect
		})
	}
	eventually(t, ctx, "the node tainted not-ready, NoSchedule and NoExecute", func() error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !notReadyTaint(n, corev1.TaintEffectNoExecute) || !notReadyTaint(n, corev1.TaintEffectNoSchedule) {
			return fmt.Errorf("taints %v", n.Spec.Taints)
		}
		return nil
	})
	// The pod tolerates not-ready:NoExecute for 300 s (the API server's default toleration), so
	// it stays meanwhile; the controller marks it not ready when it next sees it change.
	p2 := pod("late", "registry.example/app:1")
	p2.Spec.NodeSelector = map[string]string{"pool": "flaky"}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, p2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the scheduler keeping a new pod off the tainted node", func() error {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, "late", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && strings.Contains(cond.Message, "1 node(s) had untolerated taint") {
				return nil
			}
		}
		return fmt.Errorf("on %q, conditions %v", p.Spec.NodeName, p.Status.Conditions)
	})

	if err := c.SetNodeReady(ctx, node, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the taints removed and the new pod running there", func() error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if notReadyTaint(n, corev1.TaintEffectNoExecute) || notReadyTaint(n, corev1.TaintEffectNoSchedule) {
			return fmt.Errorf("taints %v", n.Spec.Taints)
		}
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, "late", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Spec.NodeName != node || !podReady(p) {
			return fmt.Errorf("the new pod on %q, ready %v", p.Spec.NodeName, podReady(p))
		}
		return nil
	})
}

// eventually waits up to settle for check to pass, failing the test with its last error.
func eventually(t *testing.T, ctx context.Context, what string, check func() error) {
	t.Helper()
	if err := poll(ctx, settle, what, check); err != nil {
		t.Fatal(err)
	}
}

// newNamespace creates a namespace and waits for its default ServiceAccount, without which no
// pod is admitted.
func newNamespace(t *testing.T, ctx context.Context, c *Cluster, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the default ServiceAccount of "+name, func() error {
		_, err := c.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	return name
}

func deployment(name string, replicas int32, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image,
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
			},
		},
	}
}

func pod(name, image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
}

func podsOf(t *testing.T, ctx context.Context, c *Cluster, ns, selector string) []corev1.Pod {
	t.Helper()
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

func podReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waiting(p *corev1.Pod) *corev1.ContainerStateWaiting {
	if len(p.Status.ContainerStatuses) == 0 {
		return nil
	}
	return p.Status.ContainerStatuses[0].State.Waiting
}
