package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// watchMeasurement is a watch held on the seeded cluster while pods change.
type watchMeasurement struct {
	// peakRSS is the watch's highest resident set over its whole life, first list included;
	// steadyRSS is its resident set at the end of the hold, after the churn.
	peakRSS, steadyRSS int64
	// changes is how many pod updates the churn made; lines is how many the watch printed
	// after its first report (one per finding that appeared, changed or resolved).
	changes, lines int64
}

// churnInterval paces the churn: five pod updates a second, more than the debounce window
// collects into one evaluation, so the watch re-evaluates throughout the hold.
const churnInterval = 200 * time.Millisecond

// measureWatch runs `diagnose --watch -o json` for hold after its first report, while pods of
// the seeded cluster change (an annotation's value, so every change reaches the watch and none
// changes what the checks find), and reads its resident set before and after it ends.
func measureWatch(ctx context.Context, binary, kubeconfig string, client kubernetes.Interface, size Size, hold time.Duration, log io.Writer) (watchMeasurement, error) {
	var m watchMeasurement
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, "diagnose", "--watch", "-o", "json", "--fail-on", "none", "--kubeconfig", kubeconfig)
	cmd.Stderr = &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	out, err := cmd.StdoutPipe()
	if err != nil {
		return m, err
	}
	if err := cmd.Start(); err != nil {
		return m, err
	}
	// stop ends the watch on an error path, so that its stderr is whole before it is read.
	stop := func() string {
		cancel()
		_ = cmd.Wait()
		return stderr.String()
	}
	// The reader counts lines and stamps the last one: the first report is a burst of lines,
	// and two quiet seconds end it.
	var lines, lastLine atomic.Int64
	go func() {
		scanner := bufio.NewScanner(out)
		scanner.Buffer(make([]byte, 0, 1<<20), 64<<20)
		for scanner.Scan() {
			lastLine.Store(time.Now().UnixNano())
			lines.Add(1)
		}
	}()
	deadline := time.Now().Add(10 * time.Minute)
	for lines.Load() == 0 || time.Since(time.Unix(0, lastLine.Load())) < 2*time.Second {
		if time.Now().After(deadline) {
			return m, fmt.Errorf("the watch wrote no first report within 10 minutes:\n%s", stop())
		}
		select {
		case <-ctx.Done():
			stop()
			return m, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	firstReport := lines.Load()
	fmt.Fprintf(log, "bench: the watch's first report is written; holding it %s while pods change\n", hold)

	end := time.After(hold)
	tick := time.NewTicker(churnInterval)
	defer tick.Stop()
	for held := false; !held; {
		select {
		case <-end:
			held = true
		case <-ctx.Done():
			stop()
			return m, ctx.Err()
		case <-tick.C:
			n := m.changes
			ns, pod := churnTarget(size, int(n))
			patch := fmt.Sprintf(`{"metadata":{"annotations":{"bench.alertmend.io/churn":%q}}}`, strconv.FormatInt(n, 10))
			if _, err := client.CoreV1().Pods(ns).Patch(ctx, pod, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				stop()
				return m, fmt.Errorf("churn: patching pod %s/%s: %w", ns, pod, err)
			}
			m.changes++
		}
	}
	// Let the last changes be evaluated before the steady state is read.
	time.Sleep(5 * time.Second)
	if m.steadyRSS, err = residentKiB(cmd.Process.Pid); err != nil {
		stop()
		return m, err
	}
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		return m, fmt.Errorf("the watch did not end cleanly on Ctrl-C: %v\n%s", err, stderr.String())
	}
	m.peakRSS = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	if runtime.GOOS == "darwin" {
		m.peakRSS /= 1024
	}
	m.lines = lines.Load() - firstReport
	return m, nil
}

// churnTarget is the nth changed pod: seeded pods in turn, across namespaces.
func churnTarget(size Size, n int) (namespace, pod string) {
	deployments := max(size.Pods/podsPerDeployment, 1)
	deployment := (n * 7919) % deployments // a prime stride visits every Deployment before any twice
	return namespaceName(deployment % size.Namespaces), fmt.Sprintf("app-%05d-6d8f7b9c4-%05d", deployment, n%podsPerDeployment)
}

// residentKiB is a process's resident set now, from /proc (Linux only; 0 elsewhere).
func residentKiB(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if os.IsNotExist(err) && runtime.GOOS != "linux" {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "VmRSS:" {
			return strconv.ParseInt(fields[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
