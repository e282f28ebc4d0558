//go:build e2e

package cmd

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

func TestChecksCommandListsTheCatalog(t *testing.T) {
	r := run(t, testEnv{}, "checks")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "ID ") || !strings.Contains(r.stdout, "SEVERITY") {
		t.Errorf("no header:\n%s", r.stdout)
	}
	for _, c := range checks.All(checks.DefaultOptions()) {
		m := c.Meta()
		if !strings.Contains(r.stdout, m.ID) || !strings.Contains(r.stdout, m.Title) {
			t.Errorf("catalog lacks %s", m.ID)
		}
	}
	var entries []report.CatalogEntry
	if err := json.Unmarshal([]byte(run(t, testEnv{}, "checks", "-o", "json").stdout), &entries); err != nil || len(entries) != len(checks.All(checks.DefaultOptions())) {
		t.Errorf("checks -o json: %d entries, err %v", len(entries), err)
	}
}

func TestExplain(t *testing.T) {
	r := run(t, testEnv{}, "explain", "pod-crashloop")
	for _, section := range []string{"pod-crashloop: Containers are crash looping", "What it checks", "Why it matters", "How to fix", "References", "https://kubernetes.io/"} {
		if !strings.Contains(r.stdout, section) {
			t.Errorf("explain lacks %q:\n%s", section, r.stdout)
		}
	}
}

func TestVersion(t *testing.T) {
	r := run(t, testEnv{}, "version", "-o", "json")
	var info map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || info["version"] == "" || info["goVersion"] == "" {
		t.Errorf("version -o json: %q (%v)", r.stdout, err)
	}
}

// The real binary, as kubectl runs it: help reads "kubectl alertmend", exit codes reach the
// shell, and failures print one line without a stack trace.
func TestBinary(t *testing.T) {
	help, err := exec.Command(binary, "--help").Output()
	if err != nil || !strings.Contains(string(help), "kubectl alertmend [command]") || !strings.Contains(string(help), "Exit codes:") {
		t.Errorf("--help: %v\n%s", err, help)
	}
	cmd := exec.Command(binary, "diagnose", "--kubeconfig", cluster.Kubeconfig, "-o", "json")
	out, _ := cmd.Output()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), `"check": "deployment-unavailable"`) {
		t.Errorf("diagnose: exit %d\n%s", code, out)
	}
	cmd = exec.Command(binary, "diagnose", "--kubeconfig", "/nonexistent/kubeconfig")
	stderr, _ := cmd.CombinedOutput()
	assertCleanFailure(t, result{code: cmd.ProcessState.ExitCode(), stderr: string(stderr)}, "--kubeconfig /nonexistent/kubeconfig: no such file")
}

// kubectl itself finds the plugin on PATH, passes the arguments through, and returns its exit
// code.
func TestKubectlRunsThePlugin(t *testing.T) {
	bins, err := testcluster.EnsureBinaries(context.Background(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+cluster.Kubeconfig)
	list := exec.Command(bins.Kubectl, "plugin", "list", "--name-only")
	list.Env = env
	out, _ := list.Output()
	if !strings.Contains(string(out), "kubectl-alertmend") {
		t.Errorf("kubectl plugin list does not show the plugin:\n%s", out)
	}
	cmd := exec.Command(bins.Kubectl, "alertmend", "diagnose", "--checks", "pod-crashloop", "-o", "json")
	cmd.Env = env
	out, _ = cmd.Output()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), `"check": "pod-crashloop"`) {
		t.Errorf("kubectl alertmend diagnose: exit %d\n%s", code, out)
	}
}
