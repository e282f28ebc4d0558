// Command demo shows the tool in two acts. First (-watch), `diagnose --watch` on a living
// cluster while a rollout breaks and is undone; then it starts the test control plane, loads a
// bundled incident scenario, runs `kubectl alertmend diagnose` against it, and stops. With -keep
// it leaves that control plane up for the reader to try other commands until Ctrl-C.
// `make demo` (KEEP=1) runs it.
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

//go:embed scenario.yaml
var scenario []byte

type options struct {
	binary string
	keep   bool
	// watch runs the watch act first, on a living cluster (see watchAct).
	watch bool
	args  []string // added to diagnose's
}

// interrupted is the exit code after Ctrl-C, as a shell reports a process ended by SIGINT.
const interrupted = 130

func main() {
	var opts options
	flag.StringVar(&opts.binary, "binary", "bin/kubectl-alertmend", "the kubectl-alertmend binary to run")
	flag.BoolVar(&opts.keep, "keep", false, "after the report, leave the control plane running, print its kubeconfig, and stop it on Ctrl-C")
	flag.BoolVar(&opts.watch, "watch", true, "first show diagnose --watch on a living cluster: a rollout of a bad image appears, and its undo resolves it")
	flag.Parse()
	opts.args = flag.Args()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, opts, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the demo until ctx ends (Ctrl-C) or, without keep, the report is written. Whichever
// way it returns, the control plane is stopped and its directory removed.
func run(ctx context.Context, opts options, stdout, stderr io.Writer) int {
	// Absolute, so that the commands printed for -keep work from any directory.
	binary, err := filepath.Abs(opts.binary)
	if err == nil {
		_, err = os.Stat(binary)
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo: -binary: %v (make build writes bin/kubectl-alertmend)\n", err)
		return 2
	}

	if opts.watch {
		if err := watchAct(ctx, binary, stdout, stderr); err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "\ndemo: interrupted; the local control plane is stopped")
				return interrupted
			}
			fmt.Fprintf(stderr, "demo: the watch: %v\n", err)
			return 2
		}
		fmt.Fprintln(stderr, "\ndemo: act 2, the report: what a single diagnose says about a cluster in trouble")
	}
	fmt.Fprintln(stderr, "demo: starting a local kube-apiserver and etcd on loopback ...")
	cluster, err := testcluster.Start(ctx, testcluster.Options{Log: stderr})
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "demo: interrupted; the local control plane is stopped")
			return interrupted
		}
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 2
	}
	defer cluster.Stop()
	if err := testcluster.Apply(ctx, cluster.Config, shiftTimes(scenario, time.Now())); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "demo: interrupted; stopping the local control plane")
			return interrupted
		}
		fmt.Fprintf(stderr, "demo: loading the scenario: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "demo: loaded the incident scenario; running: kubectl alertmend diagnose\n\n")

	cmd := exec.CommandContext(ctx, binary, append([]string{"diagnose", "--kubeconfig", cluster.Kubeconfig}, opts.args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "\ndemo: interrupted; stopping the local control plane")
		return interrupted
	}
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		fmt.Fprintf(stderr, "demo: running %s: %v\n", binary, err)
		return 2
	}
	if !opts.keep {
		fmt.Fprintf(stderr, "\ndemo: kubectl alertmend exited with %d; stopping the local control plane\n", code)
		return 0
	}

	fmt.Fprintf(stderr, `
demo: kubectl alertmend exited with %d. The local control plane stays up until Ctrl-C; in another terminal:

  export KUBECONFIG=%s
  export PATH=%s:$PATH
  kubectl-alertmend diagnose -o pretty
  kubectl-alertmend rbac-audit
  kubectl-alertmend diagnose -n shop

  (with kubectl installed, "kubectl alertmend ..." runs the same plugin)

`, code, cluster.Kubeconfig, filepath.Dir(binary))
	<-ctx.Done()
	fmt.Fprintf(stderr, "\ndemo: stopping the local control plane and removing %s\n", cluster.Dir)
	return 0
}

// scenarioTime is the moment the scenario describes: its restarts, conditions and events are
// minutes to hours before it. The end-to-end tests read it at that moment.
var scenarioTime = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

var timestamp = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\b`)

// shiftTimes moves every timestamp of the scenario by as long as now is after scenarioTime, so
// that the demo's ages read as in an incident happening now ("since 13m"), not weeks ago.
func shiftTimes(scenario []byte, now time.Time) []byte {
	shift := now.Sub(scenarioTime)
	return timestamp.ReplaceAllFunc(scenario, func(b []byte) []byte {
		t, err := time.Parse(time.RFC3339, string(b))
		if err != nil {
			return b
		}
		return []byte(t.Add(shift).UTC().Format(time.RFC3339))
	})
}
