//go:build e2e

package cmd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// A single replica on a moving tag, behind a Service without a readiness probe and under a
// budget that allows no eviction, and a pod whose liveness asks what its readiness asks,
// diagnosed on the real API server: each flaw is one reliability finding on its object.
func TestHygieneOnALiveCluster(t *testing.T) {
	ctx := context.Background()
	const ns = "hygiene"
	c := cluster.Client
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The test control plane runs no controller-manager to create the namespace's default account.
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	web := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/web:latest", ImagePullPolicy: corev1.PullIfNotPresent,
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				}}},
			},
		},
	}
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}},
	}
	if _, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
	if _, err := c.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	health := corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(9090)}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "tool", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "tool", Image: "registry.example/tool:2.0.1",
			LivenessProbe: &corev1.Probe{ProbeHandler: health}, ReadinessProbe: &corev1.Probe{ProbeHandler: health},
		}}},
	}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bg := context.Background()
		_ = c.CoreV1().Pods(ns).Delete(bg, pod.Name, metav1.DeleteOptions{})
		_ = c.AppsV1().Deployments(ns).Delete(bg, web.Name, metav1.DeleteOptions{})
		_ = c.CoreV1().Services(ns).Delete(bg, svc.Name, metav1.DeleteOptions{})
		_ = c.PolicyV1().PodDisruptionBudgets(ns).Delete(bg, pdb.Name, metav1.DeleteOptions{})
	})

	rep := admin(t, "diagnose", "-n", ns, "--category", "reliability", "-o", "json").report(t)
	got := findingKeys(rep)
	slices.Sort(got)
	want := []string{
		"image-tag-mutable hygiene/deployment/web",
		"liveness-probe-same-as-readiness hygiene/pod/tool",
		"pdb-blocks-eviction hygiene/deployment/web",
		"readiness-probe-missing hygiene/deployment/web",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("findings\n got  %q\n want %q", got, want)
	}
	for _, f := range rep.Findings {
		if f.Check == "readiness-probe-missing" && !slices.Equal(f.Evidence, []string{"service web port 80 reaches container app port 8080, which has no readinessProbe"}) {
			t.Errorf("readiness evidence %q", f.Evidence)
		}
		if f.Check == "pdb-blocks-eviction" && (len(f.Fix) != 1 || f.Fix[0] != "kubectl scale -n hygiene deployment/web --replicas=2") {
			t.Errorf("budget fix %q", f.Fix)
		}
	}
}

// What container-spec-invalid and controller-selector-invalid say the API server refuses, it
// refuses, in the words their findings quote; and diagnose -f reports both.
func TestHygieneRefusalsAreTheAPIServers(t *testing.T) {
	ctx := context.Background()
	const ns = "hygiene-refused"
	c := cluster.Client
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "api"}
	unselected := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/api:3.1.0"}}},
		}},
	}
	twice := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "app", Image: "registry.example/migrate:1.0.0"}},
					Containers:     []corev1.Container{{Name: "app", Image: "registry.example/web:1.4.2"}},
				},
			},
		},
	}
	var docs []string
	for _, d := range []*appsv1.Deployment{unselected, twice} {
		data, err := yaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(data))
	}
	file := filepath.Join(t.TempDir(), "deploy.yaml")
	if err := os.WriteFile(file, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := run(t, testEnv{}, "diagnose", "-f", file, "--category", "reliability", "-o", "json").report(t)
	quotes := map[string]string{}
	for _, f := range rep.Findings {
		if f.Check == "controller-selector-invalid" || f.Check == "container-spec-invalid" {
			quotes[f.Objects[0].Name] = f.Evidence[0]
			if f.Check == "controller-selector-invalid" {
				// Its message holds the quote; the evidence shows the template's labels.
				_, q, _ := strings.Cut(f.Message, ": ")
				quotes[f.Objects[0].Name], _, _ = strings.Cut(q, ";")
			}
		}
	}
	for _, d := range []*appsv1.Deployment{unselected, twice} {
		_, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if quotes[d.Name] == "" || err == nil || !strings.Contains(err.Error(), quotes[d.Name]) {
			t.Errorf("deployment %s: the API server says %v; the finding says %q", d.Name, err, quotes[d.Name])
		}
	}
}
