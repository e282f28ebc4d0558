//go:build e2e

package cmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// One control plane serves every end-to-end test of this package; it carries the demo's incident
// scenario, so the demo's output is what these tests prove.
var (
	cluster *testcluster.Cluster
	binary  string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var err error
	cluster, err = testcluster.Start(ctx, testcluster.Options{Log: os.Stderr, Audit: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test control plane:", err)
		return 1
	}
	defer cluster.Stop()
	scenario, err := os.ReadFile(filepath.Join(testcluster.RepoRoot(), "hack", "demo", "scenario.yaml"))
	if err == nil {
		err = testcluster.Apply(ctx, cluster.Config, scenario)
	}
	if err == nil {
		err = setUpIdentities(ctx)
	}
	if err == nil {
		binary, err = buildBinary()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "setting up the e2e cluster:", err)
		return 1
	}
	defer os.RemoveAll(filepath.Dir(binary))
	return m.Run()
}

// setUpIdentities binds read-only roles for the least-privilege tests: shop-viewer may read
// namespace shop, quiet-viewer the empty namespace quiet, and nobody nothing at all. The
// built-in "view" role is aggregated by the controller-manager, which the test control plane
// does not run, so the tests bring their own reader role.
func setUpIdentities(ctx context.Context) error {
	c := cluster.Client
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "quiet"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	reader := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "test-namespace-reader"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "namespaces", "limitranges", "resourcequotas"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: []string{"get", "list", "watch"}},
		},
	}
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, reader, metav1.CreateOptions{}); err != nil {
		return err
	}
	for ns, user := range map[string]string{"shop": "shop-viewer", "quiet": "quiet-viewer"} {
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: reader.Name},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
		}
		if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func buildBinary() (string, error) {
	dir, err := os.MkdirTemp("", "alertmend-bin-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubectl-alertmend")
	build := exec.Command("go", "build", "-o", path, "./cmd/kubectl-alertmend")
	build.Dir = testcluster.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return path, nil
}

// admin runs a command against the test cluster as the administrator.
func admin(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, testEnv{}, append(args, "--kubeconfig", cluster.Kubeconfig)...)
}

// as runs a command as a user with the given groups.
func as(t *testing.T, user string, args ...string) result {
	t.Helper()
	kubeconfig, err := cluster.UserKubeconfig(user)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, testEnv{}, append(args, "--kubeconfig", kubeconfig)...)
}
