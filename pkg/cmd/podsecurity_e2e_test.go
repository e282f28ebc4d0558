//go:build e2e

package cmd

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

// warnings keeps the warnings the API server sends with its answers.
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

// A pod sharing its node's processes and disk, admitted before its namespace enforced baseline, diagnosed on the real API
// server: the drift is one high finding on the pod (its template findings folded in), whose
// message is word for word the one the API server's PodSecurity admission refuses the same pod
// with, and which names the pod the API server warned about when the label was set.
func TestPodSecurityEnforceDriftOnALiveCluster(t *testing.T) {
	ctx := context.Background()
	const ns = "pss-drift"
	c := cluster.Client
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The test control plane runs no controller-manager to create the namespace's default account.
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "debug", Namespace: ns},
		// The test API server allows no privileged container (--allow-privileged is off); the node's
		// processes and disk are as much a way out.
		Spec: corev1.PodSpec{
			HostPID:    true,
			Containers: []corev1.Container{{Name: "shell", Image: "registry.example/toolbox:1", VolumeMounts: []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}}},
			Volumes:    []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
		},
	}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The pod is bound to no node, so it goes at once; the namespace, empty, stays (the test
	// control plane runs no namespace controller to finish deleting it).
	t.Cleanup(func() { _ = c.CoreV1().Pods(ns).Delete(context.Background(), pod.Name, metav1.DeleteOptions{}) })

	var warned warnings
	config := rest.CopyConfig(cluster.Config)
	config.WarningHandlerWithContext = &warned
	labeller, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	namespace, err := labeller.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	namespace.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
	if _, err := labeller.CoreV1().Namespaces().Update(ctx, namespace, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(warned.seen, "debug: host namespaces, hostPath volumes") {
		t.Errorf("the API server's warnings on labelling: %q", warned.seen)
	}

	rep := admin(t, "diagnose", "-n", ns, "--category", "security", "-o", "json").report(t)
	if got := findingKeys(rep); !slices.Equal(got, []string{"pod-security-enforce-drift pss-drift/pod/debug"}) {
		t.Fatalf("findings %q", got)
	}
	f := rep.Findings[0]
	if f.Severity != check.High || !strings.Contains(f.Message, "would be refused by namespace pss-drift's enforce level baseline:latest") {
		t.Errorf("drift finding %s: %s", f.Severity, f.Message)
	}
	for _, want := range []string{
		"Host Namespaces (baseline): spec.hostPID=true",
		"HostPath Volumes (baseline): spec.volumes[root].hostPath=/",
		"also reported by pod-security-baseline, pod-security-restricted; folded into this finding",
	} {
		if !slices.Contains(f.Evidence, want) {
			t.Errorf("evidence %q lacks %q", f.Evidence, want)
		}
	}
	// The evidence quotes the admission plugin: the API server refuses the same pod, created
	// again, with the same words.
	var ours string
	for _, e := range f.Evidence {
		if rest, ok := strings.CutPrefix(e, "pod debug: "); ok {
			ours = rest
		}
	}
	again := pod.DeepCopy()
	_, err = c.CoreV1().Pods(ns).Create(ctx, again, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if ours == "" || err == nil || !strings.HasSuffix(err.Error(), ours) {
		t.Errorf("the API server says %v; the finding says %q", err, ours)
	}
}
