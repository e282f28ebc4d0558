// Package cmd holds the cobra commands. Each follows kubectl's Options pattern: flags fill an
// Options struct, Complete derives the rest, Validate rejects bad input, Run does the work.
package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/alertmend/kubectl-alertmend/pkg/connect"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/suggest"
)

// Environment is what the commands read from the process besides flags, passed in so tests
// can set it.
type Environment struct {
	Getenv     func(string) string
	IsTerminal func(io.Writer) bool
	// TerminalWidth is the width in columns of the terminal w writes to, 0 when unknown; nil
	// means unknown. Help is wrapped to it, else to 80.
	TerminalWidth func(w io.Writer) int
	Now           func() time.Time
	// InClusterConfig is the pod's own API server address and service-account credentials,
	// used when no kubeconfig is given and KUBERNETES_SERVICE_HOST is set; nil means
	// rest.InClusterConfig.
	InClusterConfig func() (*rest.Config, error)
}

// target is the cluster kubectl's connection flags name, read in this environment.
func (e Environment) target(flags *genericclioptions.ConfigFlags) connect.Target {
	return connect.Target{Flags: flags, Getenv: e.Getenv, InClusterConfig: e.InClusterConfig}
}

// OSEnvironment reads the real process environment.
func OSEnvironment() Environment {
	return Environment{
		Getenv: os.Getenv,
		IsTerminal: func(w io.Writer) bool {
			f, ok := w.(*os.File)
			return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
		},
		TerminalWidth: func(w io.Writer) int {
			f, ok := w.(*os.File)
			if !ok {
				return 0
			}
			width, _, err := term.GetSize(int(f.Fd()))
			if err != nil {
				return 0
			}
			return width
		},
		Now:             time.Now,
		InClusterConfig: rest.InClusterConfig,
	}
}

// width is how wide people's output to w is laid out: the terminal's width, else COLUMNS (as
// less and most shells' tools honour it), else 0 for the renderer's default.
func (e Environment) width(w io.Writer) int {
	if e.TerminalWidth != nil {
		if width := e.TerminalWidth(w); width > 0 {
			return width
		}
	}
	if columns, err := strconv.Atoi(e.Getenv("COLUMNS")); err == nil && columns > 0 {
		return columns
	}
	return 0
}

const exitCodesHelp = `Exit codes:
  0    no finding at or above --fail-on
  1    at least one finding at or above --fail-on (the gate failed)
  2    the tool could not do its job: bad flags, unreadable input, a cluster
       that cannot be reached or is not a Kubernetes API server
  3    nothing at or above --fail-on, but some selected checks could not see
       what they judge (forbidden, timed out); checks that do not apply to
       the cluster do not count
  130  interrupted by Ctrl-C before the report was written (143 for SIGTERM)
With --contexts or --all-contexts, the worst cluster's: 2 if any could not be
diagnosed, else 1, else 3, else 0.`

// NewRootCommand builds `kubectl alertmend` and its subcommands.
func NewRootCommand(streams genericiooptions.IOStreams, env Environment) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   "kubectl-alertmend",
		Short: "Incident triage for Kubernetes: what is wrong or dangerous, with evidence and the fix",
		Long: `kubectl alertmend diagnoses a cluster (or manifests, before they are
deployed) and prints a prioritized list of what is wrong or dangerous, each with
the observed evidence and the exact fix. It only reads: it never changes the
cluster and never reads Secrets.

` + exitCodesHelp,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl alertmend"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	configFlags.AddFlags(root.PersistentFlags())
	addVerbosityFlag(root.PersistentFlags())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(c, withFlagHint(c, err))
	})
	root.AddCommand(
		newDiagnoseCommand(configFlags, streams, env),
		newRBACAuditCommand(configFlags, streams, env),
		newSnapshotCommand(configFlags, streams, env),
		newChecksCommand(streams),
		newExplainCommand(streams),
		newVersionCommand(streams),
	)
	registerCompletions(root, env.target(configFlags))
	setUsage(root, func() int {
		if env.TerminalWidth != nil {
			if width := env.TerminalWidth(streams.Out); width > 0 {
				return width
			}
		}
		return helpWidth
	})
	return root
}

// Execute runs the command line and returns the process exit code, printing any error as one
// line on stderr.
func Execute(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// Ctrl-C: whatever failed after it failed because of it. Nothing was written to stdout,
		// since reports are written whole, at the end.
		fmt.Fprintln(stderr, "error: interrupted")
		return report.ExitInterrupted
	}
	var exit *ExitError
	if !errors.As(err, &exit) {
		// Errors cobra raises itself (unknown command, wrong number of arguments) are usage errors.
		exit = &ExitError{Code: report.ExitError, Err: err}
	}
	if exit.Err != nil {
		fmt.Fprintf(stderr, "error: %v\n", exit.Err)
	}
	return exit.Code
}

// addVerbosityFlag adds kubectl's -v/--v: client-go logs through klog, whose verbosity is
// process-wide by its design, so the flag sets klog's own setting. At 6 and above client-go
// logs each request, at 9 and above the headers (bearer tokens masked) and response bodies.
func addVerbosityFlag(flags *pflag.FlagSet) {
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	verbosity := pflag.PFlagFromGoFlag(klogFlags.Lookup("v"))
	verbosity.Value = levelValue{verbosity.Value}
	verbosity.Usage = "Log level of the Kubernetes client on stderr, as kubectl's -v (6: each request, 8 and above: bodies)"
	flags.AddFlag(verbosity)
}

// levelValue is klog's level, refusing what is not one in words rather than strconv's.
type levelValue struct{ pflag.Value }

func (v levelValue) Set(s string) error {
	if _, err := strconv.ParseUint(s, 10, 31); err != nil {
		return errors.New("must be a whole number, such as 6")
	}
	return v.Value.Set(s)
}

// ExitError carries an exit code; a nil Err means the report already said everything.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// failed wraps an error as exit code 2: the tool could not do its job.
func failed(format string, args ...any) error {
	return &ExitError{Code: report.ExitError, Err: fmt.Errorf(format, args...)}
}

// withFlagHint adds the close names to pflag's "unknown flag: --chekcs".
func withFlagHint(c *cobra.Command, err error) error {
	typed, unknown := strings.CutPrefix(err.Error(), "unknown flag: ")
	if !unknown || !strings.HasPrefix(typed, "--") {
		return err
	}
	var names []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, "--"+f.Name)
		}
	})
	return fmt.Errorf("%w%s", err, suggest.DidYouMean(typed, names))
}

func usageError(c *cobra.Command, err error) error {
	return &ExitError{Code: report.ExitError, Err: fmt.Errorf("%v\nSee '%s --help' for usage", err, c.CommandPath())}
}
