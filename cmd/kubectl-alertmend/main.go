// Command kubectl-alertmend is the kubectl plugin: on PATH, `kubectl alertmend ...` runs it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/alertmend/kubectl-alertmend/pkg/cmd"
)

func main() {
	tuneGC(os.Getenv, cgroupMemoryLimit())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first Ctrl-C the run winds down; a second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	code := cmd.Execute(ctx, cmd.NewRootCommand(streams, cmd.OSEnvironment()), os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}
