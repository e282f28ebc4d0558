//go:build e2e

package cmd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// A Deployment whose ReplicaSet cannot create pods (a quota exceeded, as the ReplicaSet
// controller reports it) has no pod to show why: diagnose quotes the ReplicaSet's Warning
// event, created through the real API server. Normal events are never read (the server filters
// by type), except the scheduler's Preempted ones, nor events outside -n; and every request diagnose made for them is a read.
func TestDiagnoseQuotesWarningEvents(t *testing.T) {
	ctx := context.Background()
	c := cluster.Client
	const ns = "evidence"
	for _, name := range []string{ns, "evidence-other"} {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	labels := map[string]string{"app": "quota"}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/quota:1"}}}}
	d, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "quota"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What the deployment controller would report: no pod, none available.
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation}
	if _, err := c.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs, err := c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "quota-5f", Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) // the time the tests' runs read the cluster at (main_test.go)
	event := func(namespace, name, kind, object, typ, reason, message string, ago time.Duration, count int32) {
		t.Helper()
		e := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			InvolvedObject: corev1.ObjectReference{APIVersion: "apps/v1", Kind: kind, Namespace: namespace, Name: object},
			Type:           typ, Reason: reason, Message: message, Count: count, Source: corev1.EventSource{Component: "replicaset-controller"},
			FirstTimestamp: metav1.NewTime(now.Add(-time.Hour)), LastTimestamp: metav1.NewTime(now.Add(-ago))}
		if _, err := c.CoreV1().Events(namespace).Create(ctx, e, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	const refused = `Error creating: pods "quota-5f-x7k2p" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=8, limited: cpu=8`
	event(ns, "quota-5f.failed", "ReplicaSet", rs.Name, corev1.EventTypeWarning, "FailedCreate", refused, 3*time.Minute, 12)
	// Newer, and Normal: not evidence, and not read at all.
	event(ns, "quota-5f.normal", "ReplicaSet", rs.Name, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: normal-event-marker", time.Minute, 1)
	// The scheduler's Preempted event is Normal, yet read: it says where a pod went. Its pod,
	// named after the ReplicaSet, is gone.
	event(ns, "quota-5f-ab12c.preempted", "Pod", "quota-5f-ab12c", corev1.EventTypeNormal, "Preempted",
		"Preempted by pod 0b6c2a8e-1f3d-4c5b-9a7e-2d8f6e4c1a90 on node n1", 5*time.Minute, 1)
	// A Warning about an object of the same name in another namespace, which -n leaves out.
	event("evidence-other", "quota-5f.elsewhere", "ReplicaSet", rs.Name, corev1.EventTypeWarning, "FailedCreate", "other-namespace-marker", 0, 1)

	r := admin(t, "diagnose", "-n", ns, "-o", "json", "--checks", "deployment-unavailable")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstderr: %s", r.code, r.stderr)
	}
	rep := r.report(t)
	if len(rep.Findings) != 1 {
		t.Fatalf("findings %+v", rep.Findings)
	}
	f := rep.Findings[0]
	if f.Severity != check.Critical || !strings.Contains(f.Message, "has 0 of 2 replicas available; pods cannot be created: "+refused) {
		t.Errorf("%s: %q", f.Severity, f.Message)
	}
	if want := "event on replicaset quota-5f: FailedCreate, last: 3m ago, x12: " + refused; !slices.Contains(f.Evidence, want) {
		t.Errorf("no evidence line %q in %q", want, f.Evidence)
	}
	if want := "1 pod preempted in the last hour, the newest 5m ago: quota-5f-ab12c (Preempted by pod 0b6c2a8e-1f3d-4c5b-9a7e-2d8f6e4c1a90 on node n1)"; !slices.Contains(f.Evidence, want) {
		t.Errorf("no evidence line %q in %q", want, f.Evidence)
	}
	if strings.Contains(r.stdout, "marker") {
		t.Errorf("a Normal event or one outside -n was quoted:\n%s", r.stdout)
	}

	// The recorded snapshot shows what was read: not the Normal event, nor the other namespace's.
	file := filepath.Join(t.TempDir(), "s.gz")
	if r := admin(t, "snapshot", "-n", ns, "-o", file); r.code != 0 {
		t.Fatalf("snapshot: exit %d: %s", r.code, r.stderr)
	}
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	snap, _, err := snapshot.ReadFile(file, in)
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, e := range snap.Events {
		if e.InvolvedObject.Kind != "Node" {
			read = append(read, e.Namespace+"/"+e.Name)
			if (e.Type != corev1.EventTypeWarning && e.Reason != "Preempted") || e.Namespace != ns {
				t.Errorf("read %s/%s, a %s event", e.Namespace, e.Name, e.Type)
			}
		}
	}
	if !slices.Contains(read, ns+"/quota-5f.failed") || !slices.Contains(read, ns+"/quota-5f-ab12c.preempted") {
		t.Errorf("events read: %v", read)
	}

	// Every request for events was a read, and asked the server to filter.
	audited, err := cluster.AuditEvents("kubectl-alertmend/")
	if err != nil {
		t.Fatal(err)
	}
	lists := 0
	for _, e := range audited {
		if e.ObjectRef == nil || e.ObjectRef.Resource != "events" {
			continue
		}
		if e.Verb != "get" && e.Verb != "list" && e.Verb != "watch" {
			t.Errorf("%s %s: not a read", e.Verb, e.RequestURI)
		}
		if !strings.Contains(e.RequestURI, "fieldSelector=") {
			t.Errorf("%s %s: events listed unfiltered", e.Verb, e.RequestURI)
		}
		if strings.Contains(e.RequestURI, "/namespaces/"+ns+"/events") {
			lists++
		}
	}
	if lists == 0 {
		t.Error("the audit log shows no list of the namespace's events")
	}
}
