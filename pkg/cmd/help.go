package cmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/alertmend/kubectl-alertmend/pkg/render"
)

// helpWidth is how wide help is written where the terminal's width is not known: the width
// the Long texts and examples are written to.
const helpWidth = 80

// setUsage makes every command's usage (the part of --help after the description) fit width
// columns: flag and command descriptions wrap under themselves, where cobra writes each on one
// line however long.
func setUsage(root *cobra.Command, width func() int) {
	root.SetUsageFunc(func(c *cobra.Command) error {
		return writeUsage(c.OutOrStderr(), c, width())
	})
}

// writeUsage writes what cobra's default usage holds, in its order, wrapped to width.
func writeUsage(w io.Writer, c *cobra.Command, width int) error {
	var b strings.Builder
	b.WriteString("Usage:")
	if c.Runnable() {
		// A long synopsis wraps under its arguments.
		path := c.CommandPath()
		b.WriteString("\n" + hanging("  "+path+" ", strings.TrimPrefix(c.UseLine(), path+" "), width))
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("\n  " + c.CommandPath() + " [command]")
	}
	if len(c.Aliases) > 0 {
		b.WriteString("\n\nAliases:\n  " + c.NameAndAliases())
	}
	if c.HasExample() {
		b.WriteString("\n\nExamples:\n" + c.Example)
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("\n\nAvailable Commands:")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				b.WriteString("\n" + hanging("  "+pad(sub.Name(), sub.NamePadding())+" ", sub.Short, width))
			}
		}
	}
	if c.HasAvailableLocalFlags() {
		b.WriteString("\n\nFlags:\n" + strings.TrimRight(c.LocalFlags().FlagUsagesWrapped(width), " \n"))
	}
	if c.HasAvailableInheritedFlags() {
		b.WriteString("\n\nGlobal Flags:\n" + strings.TrimRight(c.InheritedFlags().FlagUsagesWrapped(width), " \n"))
	}
	if c.HasHelpSubCommands() {
		b.WriteString("\n\nAdditional help topics:")
		for _, sub := range c.Commands() {
			if sub.IsAdditionalHelpTopicCommand() {
				b.WriteString("\n" + hanging("  "+pad(sub.CommandPath(), sub.CommandPathPadding())+" ", sub.Short, width))
			}
		}
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("\n\n" + hanging("", fmt.Sprintf("Use \"%s [command] --help\" for more information about a command.", c.CommandPath()), width))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func pad(s string, n int) string { return fmt.Sprintf("%-*s", n, s) }

// hanging is text after lead, wrapped at word boundaries to width, its further lines indented
// as far as lead is long.
func hanging(lead, text string, width int) string {
	return lead + strings.Join(render.Fill(text, max(width-len(lead), 20)), "\n"+strings.Repeat(" ", len(lead)))
}
