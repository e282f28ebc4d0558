//go:build e2e

package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/changes"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// An application ConfigMap updated just before an incident is in its timeline on a run of the
// whole cluster, without -n: the image-pull incident's Deployment reads shop/cart-config, which
// kubectl apply updated a moment before its pod stopped being ready.
func TestIncidentTimelineTellsAppConfigMapsWithoutNamespace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := testcluster.Start(ctx, testcluster.Options{Log: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	checks := filepath.Join("..", "..", "..", "checks")
	manifests := fixture.Overlay(t, filepath.Join(checks, "dns", "testdata", "healthy.yaml"), filepath.Join(checks, "testdata", "incidents", "image-pull-rollout.yaml"))
	const template = `    spec: {containers: [{name: app, image: "cart:1.5"}]}` + "\n"
	if n := bytes.Count(manifests, []byte(template)); n != 1 {
		t.Fatalf("the fixture's Deployment template is not where the test expects it (%d matches)", n)
	}
	manifests = bytes.Replace(manifests, []byte(template),
		[]byte(`    spec: {containers: [{name: app, image: "cart:1.5", envFrom: [{configMapRef: {name: cart-config}}]}]}`+"\n"), 1)
	if err := testcluster.Apply(ctx, c.Config, withNamespaces(t, manifests)); err != nil {
		t.Fatal(err)
	}
	kube := c.Client
	cm, err := kube.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cart-config"},
		Data: map[string]string{"mode": "safe"}}, metav1.CreateOptions{FieldManager: "helm"})
	if err != nil {
		t.Fatal(err)
	}
	nextSecond := func(after time.Time) {
		for time.Now().Unix() <= after.Unix() {
			time.Sleep(50 * time.Millisecond)
		}
	}
	nextSecond(cm.CreationTimestamp.Time)
	cm.Data["mode"] = "fast"
	updated, err := kube.CoreV1().ConfigMaps("shop").Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-client-side-apply"})
	if err != nil {
		t.Fatal(err)
	}
	var updatedAt time.Time
	for _, e := range updated.ManagedFields {
		if e.Manager == "kubectl-client-side-apply" && e.Time != nil {
			updatedAt = e.Time.Time
		}
	}
	// The incident starts when the new pod stopped being ready: after the update.
	nextSecond(updatedAt)
	pod, err := kube.CoreV1().Pods("shop").Get(ctx, "cart-new15-ccccc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.Now()}}
	if _, err := kube.CoreV1().Pods("shop").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	res := run(t, testEnv{now: time.Now}, "diagnose", "-o", "json", "--kubeconfig", c.Kubeconfig)
	r := res.report(t)
	if len(r.Incidents) == 0 || r.Findings[0].Check != "pod-image-pull" {
		t.Fatalf("exit %d, incidents %+v: %s", res.code, r.Incidents, res.stderr)
	}
	cartConfig := snapshot.RefTo(snapshot.KindConfigMaps, "shop", "cart-config")
	want := changes.Change{Time: updatedAt, Object: cartConfig, Kind: changes.KindConfig, Summary: "updated by kubectl-client-side-apply",
		Manager: "kubectl-client-side-apply"}
	if !slices.ContainsFunc(r.Incidents[0].Changes, func(c changes.Change) bool { return c.Time.Equal(want.Time) && c == withTime(want, c.Time) }) {
		t.Errorf("the incident's changes lack %+v: %+v", want, r.Incidents[0].Changes)
	}

	pretty := run(t, testEnv{now: time.Now}, "diagnose", "--incidents", "-o", "pretty", "--kubeconfig", c.Kubeconfig)
	line := updatedAt.UTC().Format("15:04") + " configmap shop/cart-config: updated by kubectl-client-side-apply"
	if !strings.Contains(strings.Join(strings.Fields(pretty.stdout), " "), line) {
		t.Errorf("--incidents does not say %q:\n%s", line, pretty.stdout)
	}
}

// withTime is c at another instant of the same time: JSON's times lose the monotonic clock and
// the location, which == would compare.
func withTime(c changes.Change, at time.Time) changes.Change {
	c.Time = at
	return c
}
