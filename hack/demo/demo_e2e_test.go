//go:build e2e

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// startDemo runs the demo in the background with its stderr piped to the test, and returns a
// function that reads that stderr up to the first line containing marker (failing the test if
// the demo ends first), and one that waits for the demo's exit code and the rest of stderr.
func startDemo(t *testing.T, ctx context.Context, opts options, stdout io.Writer) (func(marker string) string, func() (int, string)) {
	t.Helper()
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, opts, stdout, pw)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var seen strings.Builder
	readUntil := func(marker string) string {
		t.Helper()
		for lines.Scan() {
			seen.WriteString(lines.Text() + "\n")
			if strings.Contains(lines.Text(), marker) {
				return lines.Text()
			}
		}
		t.Fatalf("the demo ended before writing %q:\n%s", marker, seen.String())
		return ""
	}
	wait := func() (int, string) {
		rest, _ := io.ReadAll(pr)
		return <-code, seen.String() + string(rest)
	}
	// Until the test reads up to a marker, nobody drains the pipe; the demo's writes block there.
	return readUntil, wait
}

func buildBinary(t *testing.T) string {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "kubectl-alertmend")
	build := exec.Command("go", "build", "-o", binary, "./cmd/kubectl-alertmend")
	build.Dir = testcluster.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return binary
}

// standIn is a kubectl-alertmend that runs script instead.
func standIn(t *testing.T, script string) string {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "kubectl-alertmend")
	if err := os.WriteFile(binary, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return binary
}

// make demo KEEP=1: after the report the control plane stays up; the kubeconfig it prints
// reaches the scenario, the commands it suggests run, and Ctrl-C stops the API server and
// removes the cluster's directory.
func TestKeepLeavesTheClusterUpUntilInterrupted(t *testing.T) {
	binary := buildBinary(t)
	t.Setenv("TMPDIR", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var report bytes.Buffer
	readUntil, wait := startDemo(t, ctx, options{binary: binary, keep: true}, &report)

	readUntil("stays up until Ctrl-C")
	kubeconfig := strings.TrimPrefix(strings.TrimSpace(readUntil("export KUBECONFIG=")), "export KUBECONFIG=")
	path := strings.TrimPrefix(strings.TrimSpace(readUntil("export PATH=")), "export PATH=")
	if path != filepath.Dir(binary)+":$PATH" {
		t.Errorf("the PATH to export is %q, want the binary's directory %s first", path, filepath.Dir(binary))
	}
	if !strings.Contains(report.String(), "dns-unavailable") {
		t.Errorf("the report before the kubeconfig has no dns-unavailable:\n%s", report.String())
	}

	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("the printed kubeconfig %s: %v", kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.AppsV1().Deployments("shop").Get(ctx, "cart", metav1.GetOptions{}); err != nil {
		t.Fatalf("the scenario's deployment shop/cart through the printed kubeconfig: %v", err)
	}
	// One of the suggested commands, as the reader would type it.
	suggested := exec.Command(binary, "diagnose", "-n", "shop", "-o", "json")
	suggested.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	out, err := suggested.Output()
	if !strings.Contains(string(out), "shop/cart") {
		t.Errorf("diagnose -n shop with the printed kubeconfig: %v\n%s", err, out)
	}

	cancel() // Ctrl-C
	code, log := wait()
	if code != 0 {
		t.Errorf("exit %d after Ctrl-C in keep mode, want 0:\n%s", code, log)
	}
	server, err := url.Parse(config.Host)
	if err != nil {
		t.Fatal(err)
	}
	if conn, err := net.Dial("tcp", server.Host); err == nil {
		conn.Close()
		t.Errorf("something still listens on the API server's address %s after Ctrl-C", server.Host)
	}
	assertNoClusterLeft(t)
}

// Ctrl-C during the report: the report is ended, the control plane stopped, its directory
// removed, and the exit code says it was interrupted.
func TestInterruptedDuringTheReportStopsCleanly(t *testing.T) {
	// A stand-in for diagnose that runs until it is ended, so that the interrupt surely lands
	// while the report runs.
	binary := standIn(t, "exec tail -f /dev/null")
	t.Setenv("TMPDIR", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	readUntil, wait := startDemo(t, ctx, options{binary: binary}, io.Discard)
	readUntil("running: kubectl alertmend diagnose")
	cancel()
	code, log := wait()
	if code != interrupted || !strings.Contains(log, "demo: interrupted; stopping the local control plane") {
		t.Errorf("exit %d, want %d and the reason:\n%s", code, interrupted, log)
	}
	assertNoClusterLeft(t)
}

// assertNoClusterLeft checks that the test's TMPDIR holds no cluster directory: Stop removes
// it only after etcd and kube-apiserver have exited.
func assertNoClusterLeft(t *testing.T) {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(os.TempDir(), "alertmend-testcluster-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// Ctrl-C while the control plane starts: whatever was started is stopped and removed.
func TestInterruptedWhileStartingStopsCleanly(t *testing.T) {
	binary := standIn(t, "exit 0")
	t.Setenv("TMPDIR", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var log bytes.Buffer
	code := run(ctx, options{binary: binary}, io.Discard, &log)
	if code != interrupted || !strings.Contains(log.String(), "demo: interrupted; the local control plane is stopped") {
		t.Errorf("exit %d, want %d and the reason:\n%s", code, interrupted, log.String())
	}
	assertNoClusterLeft(t)
}

// make demo's first act: the watch, open on a living cluster, tells of the broken rollout as
// NEW and of its undo as RESOLVED, and ends cleanly on Ctrl-C.
func TestWatchActShowsTheBrokenRolloutAndItsUndo(t *testing.T) {
	binary := buildBinary(t)
	t.Setenv("TMPDIR", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	if err := watchAct(ctx, binary, &out, &log); err != nil {
		t.Fatalf("the watch act: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), log.String())
	}
	report := out.String()
	newAt, resolvedAt := strings.Index(report, "NEW"), strings.Index(report, "RESOLVED")
	if newAt < 0 || resolvedAt < newAt {
		t.Fatalf("want a NEW line, then a RESOLVED one:\n%s", report)
	}
	if !strings.Contains(report[newAt:], "shop/cart") {
		t.Errorf("the NEW line does not name the Deployment's objects:\n%s", report)
	}
	for _, said := range []string{"$ kubectl set image deployment/cart", "$ kubectl rollout undo deployment/cart"} {
		if !strings.Contains(log.String(), said) {
			t.Errorf("the demo did not show %q:\n%s", said, log.String())
		}
	}
	assertNoClusterLeft(t)
}
