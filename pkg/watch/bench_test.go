package watch

import (
	"fmt"
	"io"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// storedCluster is what a watch's informers hold of a cluster of deployments*podsPer pods on
// nodes nodes, one Deployment in ten crash-looping: one source per kind, listed.
func storedCluster(tb testing.TB, deployments, podsPer, nodes int) []*source {
	stores := map[snapshot.Kind]cache.Store{}
	add := func(kind snapshot.Kind, obj any) {
		if stores[kind] == nil {
			stores[kind] = cache.NewStore(cache.MetaNamespaceKeyFunc)
		}
		if err := stores[kind].Add(obj); err != nil {
			tb.Fatal(err)
		}
	}
	for n := range nodes {
		add(snapshot.KindNodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%03d", n)},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}})
	}
	for d := range deployments {
		ns, name := fmt.Sprintf("ns-%03d", d%200), fmt.Sprintf("app-%04d", d)
		labels := map[string]string{"app": name}
		spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}
		available := int32(podsPer)
		if d%10 == 0 {
			available = 0
		}
		add(snapshot.KindDeployments, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:   appsv1.DeploymentSpec{Replicas: ptr.To(int32(podsPer)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{Spec: spec}},
			Status: appsv1.DeploymentStatus{AvailableReplicas: available}})
		rs := name + "-5d4f"
		add(snapshot.KindReplicaSets, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: rs, Namespace: ns,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, Controller: ptr.To(true)}}}})
		add(snapshot.KindServices, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}}})
		for p := range podsPer {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", rs, p), Namespace: ns, Labels: labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs, Controller: ptr.To(true)}}},
				Spec: *spec.DeepCopy(), Status: corev1.PodStatus{Phase: corev1.PodRunning}}
			pod.Spec.NodeName = fmt.Sprintf("node-%03d", (d*podsPer+p)%nodes)
			if d%10 == 0 {
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: 7,
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
			}
			add(snapshot.KindPods, pod)
		}
	}
	var sources []*source
	for kind, store := range stores {
		sources = append(sources, &source{kind: kind, name: string(kind), store: store, listed: true})
	}
	return sources
}

// BenchmarkReevaluate is what a watch does after a change at 10,000 pods: build the snapshot from
// the informers' stores (no list: "snapshot" measures that alone), run every check, and tell
// what changed ("evaluate": all of it, the checks most of it).
func BenchmarkReevaluate(b *testing.B) {
	plan, err := engine.Select(checks.All(checks.DefaultOptions()), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	w := &watcher{Config: Config{
		Now: func() time.Time { return now },
		Evaluate: func(snap *snapshot.Snapshot, _ bool) (*report.Report, error) {
			return engine.Diagnose(snap, plan, engine.Policy{Now: now}), nil
		},
		Output: Output{W: io.Discard},
		Notes:  io.Discard,
	}, sources: storedCluster(b, 2000, 5, 100)}
	ctx := b.Context()
	b.Run("snapshot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			snap, err := w.snapshot(ctx)
			if err != nil || len(snap.Pods) != 10000 {
				b.Fatalf("%v; %d pods", err, len(snap.Pods))
			}
		}
	})
	b.Run("evaluate", func(b *testing.B) {
		if err := w.evaluate(ctx, false); err != nil {
			b.Fatal(err)
		}
		if len(w.differ.known) == 0 {
			b.Fatal("the stored cluster has crash-looping Deployments, yet no finding")
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := w.evaluate(ctx, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
