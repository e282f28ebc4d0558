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
	} {
		cmd := exec.Command(bins.Kubectl, append([]string{cobra.ShellCompRequestCmd, "alertmend"}, tc.words...)...)
		cmd.Env = append(os.Environ(), "PATH="+path)
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
