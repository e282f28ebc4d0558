//go:build e2e

package changes_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
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
	ctx, cluster, must := startShop(t)
	c := cluster.Client
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

// TestWholeClusterTimelineOnARealControlPlane reads the whole cluster, as diagnose without -n
// does: an application ConfigMap, whose data the run never reads, is told updated by its
// manager, and a StatefulSet's and a DaemonSet's newest revisions, written as their controllers
// write ControllerRevisions, are told with their template diffs and exact undos.
func TestWholeClusterTimelineOnARealControlPlane(t *testing.T) {
	ctx, cluster, must := startShop(t)
	c := cluster.Client
	must(c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
	cm, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cart-config"},
		Data: map[string]string{"secret-ish": "cm-value-never-read"}}, metav1.CreateOptions{FieldManager: "helm"})
	if err != nil {
		t.Fatal(err)
	}
	for time.Now().Unix() <= cm.CreationTimestamp.Unix() {
		time.Sleep(50 * time.Millisecond)
	}
	cm.Data["secret-ish"] = "cm-value-never-read-2"
	must(c.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-client-side-apply"}))

	labels := map[string]string{"app": "db"}
	podTemplate := func(image, password string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: image,
			Env:     []corev1.EnvVar{{Name: "PASSWORD", Value: password}},
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cart-config"}}}}}}}}
	}
	one := int32(1)
	sts, err := c.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: &one, ServiceName: "db", Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate("db:16", "value-of-two")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: podTemplate("agent:2", "value-of-two")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What the controllers store: a patch that replaces the owner's spec.template.
	revision := func(kind, owner string, uid types.UID, number int64, tmpl corev1.PodTemplateSpec) {
		t.Helper()
		raw, err := json.Marshal(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		var template map[string]any
		if err := json.Unmarshal(raw, &template); err != nil {
			t.Fatal(err)
		}
		template["$patch"] = "replace"
		data, err := json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
		if err != nil {
			t.Fatal(err)
		}
		controller := true
		must(c.AppsV1().ControllerRevisions(ns).Create(ctx, &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", owner, number),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: owner, UID: uid, Controller: &controller}}},
			Revision: number, Data: runtime.RawExtension{Raw: data}}, metav1.CreateOptions{}))
	}
	for n, image := range []string{"db:14", "db:15", "db:16"} {
		password := "value-of-one"
		if n == 2 {
			password = "value-of-two"
		}
		revision("StatefulSet", "db", sts.UID, int64(n+1), podTemplate(image, password))
	}
	revision("DaemonSet", "agent", ds.UID, 1, podTemplate("agent:1", "value-of-two"))
	revision("DaemonSet", "agent", ds.UID, 2, podTemplate("agent:2", "value-of-two"))

	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &cluster.Kubeconfig
	cacheDir := t.TempDir()
	flags.CacheDir = &cacheDir
	kinds := append([]snapshot.Kind{snapshot.KindNamespaces, snapshot.KindStatefulSets, snapshot.KindDaemonSets, snapshot.KindConfigMaps}, changes.Kinds()...)
	snap, err := source.Read(ctx, source.Config{Notes: io.Discard, Now: time.Now, ChunkSize: 2,
		Cluster: connect.Target{Flags: flags, Getenv: func(string) string { return "" }}}, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Unavailable) != 0 {
		t.Fatalf("unavailable: %v", snap.Unavailable)
	}
	for _, whole := range snap.ConfigMaps {
		if whole.Namespace != "kube-system" {
			t.Errorf("configmap %s/%s read whole on a whole-cluster run", whole.Namespace, whole.Name)
		}
	}
	var found bool
	for _, m := range snap.ConfigMapMetadata {
		if m.Namespace == ns && m.Name == "cart-config" {
			found = true
			for _, e := range m.Writes {
				if e.FieldsV1 != nil || e.Manager == "" || e.Time == nil {
					t.Errorf("configmap metadata keeps managedFields entry %+v, want only who and when", e)
				}
			}
		}
	}
	if !found {
		t.Fatalf("shop/cart-config not among the ConfigMaps' metadata: %+v", snap.ConfigMapMetadata)
	}
	if got := len(snap.ControllerRevisions); got != 4 {
		t.Errorf("%d ControllerRevisions kept, want each owner's newest two (4): %+v", got, snap.ControllerRevisions)
	}

	started := time.Now().Truncate(time.Second).Add(time.Second)
	objects := []snapshot.Ref{snapshot.RefTo(snapshot.KindStatefulSets, ns, "db"), snapshot.RefTo(snapshot.KindDaemonSets, ns, "agent")}
	want := []string{
		"config shop/configmap/cart-config: created by helm [helm]",
		"config shop/configmap/cart-config: updated by kubectl-client-side-apply [kubectl-client-side-apply]",
		"rollout shop/daemonset/agent: revision 1 -> 2: image agent:1 -> agent:2 | kubectl rollout undo daemonset/agent -n shop --to-revision=1",
		"rollout shop/statefulset/db: revision 2 -> 3: image db:15 -> db:16; env changed PASSWORD | kubectl rollout undo statefulset/db -n shop --to-revision=2",
	}
	check := func(t *testing.T, s *snapshot.Snapshot) {
		var got []string
		for _, c := range changes.Before(s, objects, started, time.Hour) {
			if strings.Contains(c.Summary, "value-of-") || strings.Contains(c.Summary, "cm-value") {
				t.Errorf("a value is shown: %s", c.Summary)
			}
			got = append(got, withoutTime(c))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	check(t, snap)

	t.Run("a recording holds no value and replays the same timeline", func(t *testing.T) {
		var buf bytes.Buffer
		if err := snapshot.Record(snap, kinds, nil, "test").Write(&buf); err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		for _, leaked := range []string{"value-of-", "cm-value"} {
			if bytes.Contains(plain, []byte(leaked)) {
				t.Errorf("the recording holds %q", leaked)
			}
		}
		replayed, _, err := snapshot.ReadFile("whole-cluster.gz", &buf)
		if err != nil {
			t.Fatal(err)
		}
		check(t, replayed)
	})
}

// startShop starts a control plane for one test, stopped when it ends, and returns a context
// bounding the test and must, which fails the test on a request's error.
func startShop(t *testing.T) (context.Context, *testcluster.Cluster, func(any, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	cluster, err := testcluster.Start(ctx, testcluster.Options{Log: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	return ctx, cluster, must
}

// ns is the namespace the tests' objects are in.
const ns = "shop"
