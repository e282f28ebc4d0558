//go:build e2e

package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// The benchmark, end to end at a small size: a control plane is seeded, the floor, diagnose,
// rbac-audit and the manifests gate are measured, and every row of the table has figures.
func TestBenchmarkRunsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	binary := filepath.Join(t.TempDir(), "kubectl-alertmend")
	build := exec.Command("go", "build", "-o", binary, "./cmd/kubectl-alertmend")
	build.Dir = testcluster.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out, log bytes.Buffer
	opts := options{binary: binary, sizes: []int{100}, runs: 1, watchHold: 5 * time.Second}
	if err := run(context.Background(), opts, &out, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	table := out.String()
	cluster := regexp.MustCompile(`(?m)^\| 100 \| (\d+) \| [\d.]+ s \| [\d.]+ s \| [\d.]+ \| \d+ MiB \| (\d+) \| [\d.]+ s \| [\d.]+ \| \d+ MiB \| (\d+) \|$`)
	m := cluster.FindStringSubmatch(table)
	if m == nil {
		t.Fatalf("no cluster row:\n%s", table)
	}
	if m[1] == "0" || m[2] == "0" || m[3] == "0" {
		t.Errorf("objects %s, diagnose requests %s, rbac-audit requests %s: none may be zero\n%s", m[1], m[2], m[3], table)
	}
	if !regexp.MustCompile(`(?m)^\| 100 \| \d+ objects, [\d.]+ MB \| [\d.]+ s \| \d+ MiB \| not run \|`).MatchString(table) {
		t.Errorf("no manifests row:\n%s", table)
	}
	watch := regexp.MustCompile(`(?m)^\| 100 \| \d+ MiB \| (\d+) MiB \| (\d+) MiB \| [\d.]+ \| (\d+) \| \d+ \|$`).FindStringSubmatch(table)
	if watch == nil {
		t.Fatalf("no watch row:\n%s", table)
	}
	if watch[1] == "0" || watch[2] == "0" || watch[3] == "0" {
		t.Errorf("watch peak RSS %s MiB, at the end %s MiB, pod updates %s: none may be zero\n%s", watch[1], watch[2], watch[3], table)
	}
	if !strings.Contains(table, "cores") {
		t.Errorf("the machine is not described:\n%s", table)
	}
}
