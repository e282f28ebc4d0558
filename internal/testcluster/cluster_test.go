//go:build e2e

package testcluster

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStartServesTheAPIAndMintsIdentities(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Log: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	v, err := c.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != KubernetesVersion {
		t.Errorf("server reports %s, want %s", v.GitVersion, KubernetesVersion)
	}
	if _, err := c.Client.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
		t.Fatalf("admin cannot read kube-system: %v", err)
	}
	// The API server creates its own Service shortly after it is ready.
	var svc *corev1.Service
	err = poll(ctx, 20*time.Second, "the kubernetes Service", func() (err error) {
		svc, err = c.Client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err
	})
	if err != nil {
		c.dumpLogs(os.Stderr)
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP[:4] != "127." {
		t.Errorf("the kubernetes Service got %s, outside loopback", svc.Spec.ClusterIP)
	}

	// A user with no bindings is authenticated but may read nothing.
	cfg, err := c.UserConfig("nobody")
	if err != nil {
		t.Fatal(err)
	}
	nobody := mustClient(t, cfg)
	_, err = nobody.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err == nil || !isForbidden(err) {
		t.Fatalf("an unbound user listed nodes: err=%v", err)
	}
}
