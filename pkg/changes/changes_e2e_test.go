//go:build e2e

package changes_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/changes"
	"github.com/alertmend/kubectl-alertmend/pkg/connect"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	"github.com/alertmend/kubectl-alertmend/pkg/source"
)

// TestBeforeOnARealControlPlane writes what the Deployment controller would (two ReplicaSets of
// a Deployment, a pod of the newest), updates a ConfigMap its pods read under another field
// manager, adds a NetworkPolicy and a Warning event, reads the namespace as diagnose does, and
// finds each change in the timeline, with the API server's own managedFields; a recording of the
// same snapshot replays the same timeline.
func TestBeforeOnARealControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cluster, err := testcluster.Start(ctx, testcluster.Options{Log: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	c := cluster.Client
	const ns = "shop"
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	as := func(manager string) metav1.CreateOptions { return metav1.CreateOptions{FieldManager: manager} }

	must(c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
	must(c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}))
	cm, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-config"},
		Data: map[string]string{"mode": "safe"}}, as("e2e-kubectl"))
	if err != nil {
		t.Fatal(err)
	}
	// managedFields times are whole seconds: the update must come in a later one than the
	// creation to be told from it.
	for time.Now().Unix() <= cm.CreationTimestamp.Unix() {
		time.Sleep(50 * time.Millisecond)
	}
	cm.Data["mode"] = "fast"
	must(c.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "e2e-helm"}))

	container := func(image string, env ...string) corev1.Container {
		out := corev1.Container{Name: "app", Image: image,
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}}}}}
		for _, name := range env {
			out.Env = append(out.Env, corev1.EnvVar{Name: name, Value: "value-of-" + name})
		}
		return out
	}
	podTemplate := func(hash string, c corev1.Container) corev1.PodTemplateSpec {
		labels := map[string]string{"app": "web"}
		if hash != "" {
			labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
		}
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
	}
	one := int32(1)
	deployment, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: podTemplate("", container("app:2", "NEW_FLAG"))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	controller := true
	owner := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: deployment.UID, Controller: &controller}}
	for _, rs := range []struct {
		hash, revision string
		c              corev1.Container
	}{{"h1", "1", container("app:1", "OLD_FLAG")}, {"h2", "2", container("app:2", "NEW_FLAG")}} {
		tmpl := podTemplate(rs.hash, rs.c)
		must(c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "web-" + rs.hash, OwnerReferences: owner, Annotations: map[string]string{changes.RevisionAnnotation: rs.revision}},
			Spec:       appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels}, Template: tmpl}}, metav1.CreateOptions{}))
	}
	newest, err := c.AppsV1().ReplicaSets(ns).Get(ctx, "web-h2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := podTemplate("h2", container("app:2", "NEW_FLAG"))
	must(c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-h2-a", Labels: tmpl.Labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-h2", UID: newest.UID, Controller: &controller}}},
		Spec: tmpl.Spec}, metav1.CreateOptions{}))
	must(c.NetworkingV1().NetworkPolicies(ns).Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "deny-egress"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}}, as("e2e-kubectl")))
	now := metav1.Now()
	must(c.CoreV1().Events(ns).Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web-h2-a.pull"}, Type: corev1.EventTypeWarning,
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "web-h2-a"}, Reason: "Failed",
		Message: `Failed to pull image "app:2": not found`, FirstTimestamp: now, LastTimestamp: now, Count: 1,
		Source: corev1.EventSource{Component: "kubelet"}}, metav1.CreateOptions{}))

	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &cluster.Kubeconfig
	cacheDir := t.TempDir()
	flags.CacheDir = &cacheDir
	kinds := []snapshot.Kind{snapshot.KindNamespaces, snapshot.KindNodes, snapshot.KindPods, snapshot.KindDeployments, snapshot.KindReplicaSets,
		snapshot.KindConfigMaps, snapshot.KindNetworkPolicies, snapshot.KindEvents,
		snapshot.KindValidatingWebhookConfigurations, snapshot.KindMutatingWebhookConfigurations}
	snap, err := source.Read(ctx, source.Config{Namespace: ns, Notes: io.Discard, Now: time.Now, ChunkSize: 500,
		Cluster: connect.Target{Flags: flags, Getenv: func(string) string { return "" }}}, kinds)
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range snap.ConfigMaps {
		for _, e := range cm.ManagedFields {
			if e.FieldsV1 != nil || e.Manager == "" || e.Time == nil {
				t.Errorf("configmap %s keeps managedFields entry %+v, want only who and when", cm.Name, e)
			}
		}
	}
	for _, p := range snap.Pods {
		if p.ManagedFields != nil {
			t.Errorf("pod %s keeps managedFields", p.Name)
		}
	}

	// The incident started with the newest write, whole seconds as the API server keeps them.
	started := time.Now().Truncate(time.Second).Add(time.Second)
	objects := []snapshot.Ref{snapshot.RefTo(snapshot.KindPods, ns, "web-h2-a")}
	want := []string{
		"config shop/configmap/web-config: created by e2e-kubectl [e2e-kubectl]",
		"config shop/configmap/web-config: updated by e2e-helm [e2e-helm]",
		"event shop/pod/web-h2-a: Failed: Failed to pull image \"app:2\": not found",
		"policy shop/networkpolicy/deny-egress: created by e2e-kubectl [e2e-kubectl]",
		"rollout shop/deployment/web: revision 1 -> 2: image app:1 -> app:2; env added NEW_FLAG, removed OLD_FLAG | " +
			"kubectl rollout undo deployment/web -n shop --to-revision=1",
	}
	check := func(t *testing.T, s *snapshot.Snapshot) []changes.Change {
		found := changes.Before(s, objects, started, time.Hour)
		var got []string
		for i, c := range found {
			if i > 0 && c.Time.Before(found[i-1].Time) {
				t.Errorf("not oldest first: %v", found)
			}
			if c.Time.Before(started.Add(-time.Minute)) || c.Time.After(started) {
				t.Errorf("%s: at %s, not in the minute before %s", withoutTime(c), c.Time, started)
			}
			if strings.Contains(c.Summary, "value-of-") {
				t.Errorf("a value is shown: %s", c.Summary)
			}
			got = append(got, withoutTime(c))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return found
	}
	live := check(t, snap)
	if undo, ok := changes.RolloutUndo(snap, snapshot.RefTo(snapshot.KindDeployments, ns, "web")); !ok || undo != "kubectl rollout undo deployment/web -n shop --to-revision=1" {
		t.Errorf("RolloutUndo = %q, %v", undo, ok)
	}

	t.Run("a recording replays the same timeline", func(t *testing.T) {
		var buf bytes.Buffer
		if err := snapshot.Record(snap, kinds, nil, "test").Write(&buf); err != nil {
			t.Fatal(err)
		}
		replayed, _, err := snapshot.ReadFile("changes.gz", &buf)
		if err != nil {
			t.Fatal(err)
		}
		// The recording drops environment values: the rollout's diff names variables alone.
		again := check(t, replayed)
		same := len(again) == len(live)
		for i := range again {
			same = same && again[i].Time.Equal(live[i].Time) && withoutTime(again[i]) == withoutTime(live[i])
		}
		if !same {
			t.Errorf("replayed\n%v\nlive\n%v", again, live)
		}
	})
}

func withoutTime(c changes.Change) string {
	out := fmt.Sprintf("%s %s: %s", c.Kind, c.Object, c.Summary)
	if c.Manager != "" {
		out += " [" + c.Manager + "]"
	}
	if c.Undo != "" {
		out += " | " + c.Undo
	}
	return out
}
