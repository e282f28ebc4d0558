// Command demo starts the test control plane, loads a bundled incident scenario, runs
// `kubectl alertmend diagnose` against it, and stops. `make demo` runs it.
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

//go:embed scenario.yaml
var scenario []byte

func main() {
	binary := flag.String("binary", "bin/kubectl-alertmend", "the kubectl-alertmend binary to run")
	flag.Parse()
	os.Exit(run(*binary, flag.Args()))
}

func run(binary string, extraArgs []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintln(os.Stderr, "demo: starting a local kube-apiserver and etcd on loopback ...")
	cluster, err := testcluster.Start(ctx, testcluster.Options{Log: os.Stderr})
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		return 2
	}
	defer cluster.Stop()
	if err := testcluster.Apply(ctx, cluster.Config, scenario); err != nil {
		fmt.Fprintf(os.Stderr, "demo: loading the scenario: %v\n", err)
		return 2
	}
	fmt.Fprintf(os.Stderr, "demo: loaded the incident scenario; running: kubectl alertmend diagnose\n\n")

	cmd := exec.CommandContext(ctx, binary, append([]string{"diagnose", "--kubeconfig", cluster.Kubeconfig}, extraArgs...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		fmt.Fprintf(os.Stderr, "demo: running %s: %v\n", binary, err)
		return 2
	}
	fmt.Fprintf(os.Stderr, "\ndemo: kubectl alertmend exited with %d; stopping the local control plane\n", code)
	return 0
}
