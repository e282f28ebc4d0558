//go:build e2e

package cmd

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// The whole path a user's shell takes: kubectl's own completion finds the script on PATH, the
// script the plugin, and the plugin answers.
func TestCompletionThroughKubectl(t *testing.T) {
	bins, err := testcluster.EnsureBinaries(context.Background(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	scriptDir := filepath.Join(testcluster.RepoRoot(), "cmd", "kubectl_complete-alertmend")
	path := strings.Join([]string{filepath.Dir(binary), scriptDir, os.Getenv("PATH")}, string(os.PathListSeparator))
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"explain", "rbac-cluster-adm"}, "rbac-cluster-admin\t"},
		{[]string{"diagnose", "--fail-on", ""}, "none\t"},
		{[]string{"diagnose", "-n", "sho"}, "shop"}, // from the cluster of KUBECONFIG, as kubectl's own -n
	} {
		cmd := exec.Command(bins.Kubectl, append([]string{cobra.ShellCompRequestCmd, "alertmend"}, tc.words...)...)
		cmd.Env = append(os.Environ(), "PATH="+path, "KUBECONFIG="+cluster.Kubeconfig)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl __complete alertmend %q: %v", tc.words, err)
		}
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		offered := slices.ContainsFunc(lines, func(line string) bool { return strings.HasPrefix(line, tc.want) })
		if !offered || lines[len(lines)-1] != ":4" {
			t.Errorf("kubectl __complete alertmend %q:\n%s\nwant a line starting %q and directive :4", tc.words, out, tc.want)
		}
	}
}

// As kubectl does: -n completes the cluster's namespaces, --context the kubeconfig's contexts,
// and --object its types, then the names of that type in -n's namespace (or the context's).
func TestCompletionFromTheCluster(t *testing.T) {
	kc := []string{"--kubeconfig", cluster.Kubeconfig}
	ask := func(words ...string) completion {
		t.Helper()
		return complete(t, append(slices.Clone(kc), words...)...)
	}
	contains := func(t *testing.T, c completion, args []string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !slices.Contains(c.values, w) {
				t.Errorf("__complete %q = %q, want %q among them", args, c.values, w)
			}
		}
	}
	noFiles := cobra.ShellCompDirectiveNoFileComp

	for _, args := range [][]string{{"diagnose", "-n", ""}, {"rbac-audit", "--namespace", ""}, {"snapshot", "-n", ""}} {
		c := ask(args...)
		contains(t, c, args, "default", "kube-system", "shop", "data", "quiet")
		c.wantDirective(t, args, noFiles)
	}
	args := []string{"diagnose", "-n", "sh"}
	ask(args...).wantValues(t, args, []string{"shop"})

	args = []string{"diagnose", "--context", ""}
	c := ask(args...)
	c.wantValues(t, args, []string{testcluster.ContextName})
	c.wantDirective(t, args, noFiles)

	args = []string{"diagnose", "--object", ""}
	c = ask(args...)
	contains(t, c, args, "pod/", "deployment/", "node/", "namespace/", "statefulset/")
	c.wantDirective(t, args, noFiles|cobra.ShellCompDirectiveNoSpace)
	args = []string{"diagnose", "--object", "dep"}
	ask(args...).wantValues(t, args, []string{"deployment/"})

	args = []string{"diagnose", "-n", "shop", "--object", "pod/cart-"}
	c = ask(args...)
	contains(t, c, args, "pod/cart-6d8f7b9c4-x2k9p", "pod/cart-6d8f7b9c4-q7m4t")
	c.wantDirective(t, args, noFiles)
	for _, v := range c.values {
		if !strings.HasPrefix(v, "pod/cart-") {
			t.Errorf("__complete %q offers %q", args, v)
		}
	}
	// The type as typed, kubectl's short names included.
	args = []string{"diagnose", "-n", "shop", "--object", "deploy/"}
	contains(t, ask(args...), args, "deploy/cart", "deploy/checkout")
	// Cluster-wide kinds have no namespace.
	args = []string{"diagnose", "-n", "shop", "--object", "node/"}
	contains(t, ask(args...), args, "node/node-a", "node/node-b", "node/node-c")
	// Without -n, the context's namespace, as the run reads it: the scenario's pods are elsewhere.
	args = []string{"diagnose", "--object", "pod/cart"}
	ask(args...).wantValues(t, args, nil)
	args = []string{"diagnose", "-n", "data", "--object", "statefulset/"}
	contains(t, ask(args...), args, "statefulset/postgres")
	args = []string{"diagnose", "--object", "widget/"}
	ask(args...).wantValues(t, args, nil)

	// A cluster that cannot be asked completes nothing, and says nothing.
	refused := writeKubeconfig(t, t.TempDir(), "refused", "https://127.0.0.1:1")
	for _, args := range [][]string{{"diagnose", "-n", ""}, {"diagnose", "--object", "pod/"}} {
		r := run(t, testEnv{}, append([]string{cobra.ShellCompRequestCmd, "--kubeconfig", refused}, args...)...)
		if r.code != 0 || r.stdout != ":4\n" {
			t.Errorf("__complete %q against a refused server: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}
