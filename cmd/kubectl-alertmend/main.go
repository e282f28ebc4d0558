// Command kubectl-alertmend is the kubectl plugin: on PATH, `kubectl alertmend ...` runs it.
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/alertmend/kubectl-alertmend/pkg/cmd"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

func main() {
	tuneGC(os.Getenv, cgroupMemoryLimit())
	ctx, interrupt := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		// The run winds down; a second signal ends the process at once, as if none were caught.
		signal.Stop(signals)
		interrupt(interruptedBy{sig})
	}()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	code := cmd.Execute(ctx, cmd.NewRootCommand(streams, cmd.OSEnvironment()), os.Args[1:], os.Stderr)
	os.Exit(exitCode(code, context.Cause(ctx)))
}

// interruptedBy is why the run was cancelled: the signal the process received.
type interruptedBy struct{ signal os.Signal }

func (i interruptedBy) Error() string { return "interrupted by " + i.signal.String() }

// exitCode follows the shell's convention for a process a signal ended, 128 + the signal's
// number: 130 for Ctrl-C (SIGINT), 143 for SIGTERM.
func exitCode(code int, cause error) int {
	var by interruptedBy
	if code != report.ExitInterrupted || !errors.As(cause, &by) {
		return code
	}
	if sig, ok := by.signal.(syscall.Signal); ok {
		return 128 + int(sig)
	}
	return code
}
