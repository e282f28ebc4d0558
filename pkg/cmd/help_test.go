package cmd

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Every command's --help fits an 80-column terminal: descriptions, examples, and flag and
// command descriptions wrapped under themselves.
func TestHelpFitsEightyColumns(t *testing.T) {
	var paths [][]string
	root := NewRootCommand(genericiooptions.NewTestIOStreamsDiscard(), Environment{})
	walkCommands(root, func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		path := strings.Fields(strings.TrimPrefix(c.CommandPath(), root.CommandPath()))
		paths = append(paths, path)
	})
	paths = append(paths, []string{"help"}) // cobra adds it when the command line runs
	if len(paths) < 10 {
		t.Fatalf("only %d commands found: %q", len(paths), paths)
	}
	for _, path := range paths {
		r := run(t, testEnv{}, append(path, "--help")...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%q --help: exit %d\n%s%s", path, r.code, r.stdout, r.stderr)
			continue
		}
		for i, line := range strings.Split(r.stdout, "\n") {
			line = strings.ReplaceAll(line, "\t", "        ") // a tab is up to 8 columns
			if width := utf8.RuneCountInString(line); width > helpWidth {
				t.Errorf("%q --help, line %d is %d columns:\n%s", path, i+1, width, line)
			}
		}
	}
}

// On a terminal, flag descriptions wrap to its width; the words are the same.
func TestHelpFollowsTheTerminalWidth(t *testing.T) {
	help := func(width int) string {
		var out strings.Builder
		streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}
		env := Environment{Getenv: func(string) string { return "" }, IsTerminal: func(io.Writer) bool { return true },
			TerminalWidth: func(io.Writer) int { return width }}
		if code := Execute(context.Background(), NewRootCommand(streams, env), []string{"diagnose", "--help"}, &out); code != 0 {
			t.Fatalf("exit %d\n%s", code, out.String())
		}
		_, flags, _ := strings.Cut(out.String(), "\nFlags:\n")
		return flags
	}
	wide, narrow := help(140), help(0) // 0: not known, 80
	widest := 0
	for _, line := range strings.Split(wide, "\n") {
		widest = max(widest, utf8.RuneCountInString(line))
	}
	if widest <= helpWidth || widest > 140 {
		t.Errorf("on a 140-column terminal the widest flag line is %d columns", widest)
	}
	if !slices.Equal(strings.Fields(wide), strings.Fields(narrow)) {
		t.Error("the flags' words differ between widths")
	}
}

func TestHanging(t *testing.T) {
	got := hanging("  diagnose  ", "Diagnose the current cluster, or manifests with -f, and print prioritized findings", 40)
	want := "  diagnose  Diagnose the current\n" +
		"            cluster, or manifests with\n" +
		"            -f, and print prioritized\n" +
		"            findings"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := hanging("", "short", 80); got != "short" {
		t.Errorf("%q", got)
	}
}

// Flags that take a file or a shaped value name it in the help, as pflag reads a back-quoted
// word of the usage.
func TestHelpNamesFlagArguments(t *testing.T) {
	diagnose := run(t, testEnv{}, "diagnose", "--help").stdout
	for _, want := range []string{"--snapshot FILE", "--config FILE", "--baseline FILE", "--write-baseline FILE", "--object TYPE/NAME"} {
		if !strings.Contains(diagnose, want) {
			t.Errorf("diagnose --help lacks %q", want)
		}
	}
	if !strings.Contains(run(t, testEnv{}, "snapshot", "--help").stdout, "-o, --output FILE") {
		t.Error("snapshot --help lacks -o, --output FILE")
	}
	if !strings.Contains(run(t, testEnv{}, "rbac-audit", "--help").stdout, "--subject KIND:NAME") {
		t.Error("rbac-audit --help lacks --subject KIND:NAME")
	}
}
