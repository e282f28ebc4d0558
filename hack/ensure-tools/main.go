// Command ensure-tools builds (once per machine) the programs the tests and the demo run, so
// `make test` pays for the build before any test's timeout starts. By default it builds what
// the tests need; -for demo builds only the control plane, and -only names the tools.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// sets are the named selections of -for.
func sets() map[string][]string {
	return map[string][]string{
		"demo": testcluster.DemoTools(),
		"test": testcluster.TestTools(),
		"all":  testcluster.ToolNames(),
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("ensure-tools", flag.ContinueOnError)
	flags.SetOutput(stderr)
	only := flags.String("only", "", "comma-separated tools to build instead of a set; known: "+strings.Join(testcluster.ToolNames(), ", "))
	set := flags.String("for", "test", "the set to build: demo ("+strings.Join(sets()["demo"], ", ")+"), test ("+
		strings.Join(sets()["test"], ", ")+") or all")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	var forGiven bool
	flags.Visit(func(f *flag.Flag) { forGiven = forGiven || f.Name == "for" })
	names, err := selectTools(*only, *set, forGiven, flags.Args())
	if err != nil {
		fmt.Fprintln(stderr, "ensure-tools:", err)
		return 2
	}
	paths, err := testcluster.Ensure(ctx, stderr, names...)
	if err != nil {
		fmt.Fprintln(stderr, "ensure-tools:", err)
		return 1
	}
	for _, name := range names {
		fmt.Fprintf(stdout, "%-23s %s\n", name+":", paths[name])
	}
	return 0
}

// selectTools is the tools the flags ask for, in the catalog's order, each once; a name or set
// that does not exist is an error naming the flag.
func selectTools(only, set string, setGiven bool, extra []string) ([]string, error) {
	if len(extra) > 0 {
		return nil, fmt.Errorf("unexpected argument %q (name tools with -only)", extra[0])
	}
	if only == "" {
		names, ok := sets()[set]
		if !ok {
			return nil, fmt.Errorf("-for: unknown set %q (known: demo, test, all)", set)
		}
		return names, nil
	}
	if setGiven {
		return nil, fmt.Errorf("-only and -for cannot be used together")
	}
	known := testcluster.ToolNames()
	var asked []string
	for _, field := range strings.Split(only, ",") {
		name := strings.TrimSpace(field)
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("-only: unknown tool %q (known: %s)", name, strings.Join(known, ", "))
		}
		asked = append(asked, name)
	}
	return slices.DeleteFunc(known, func(name string) bool { return !slices.Contains(asked, name) }), nil
}
