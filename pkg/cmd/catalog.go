package cmd

import (
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/version"
)

func newChecksCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	var categories []string
	cmd := &cobra.Command{
		Use:   "checks",
		Short: "List every check: ID, category, default severity and title",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, c := range categories {
				if !check.Category(c).Valid() {
					return usageError(cmd, fmt.Errorf("unknown category %q in --category%s", c, check.UnknownCategoryHint(c)))
				}
			}
			format, err := outputFormat(cmd, output, false)
			if err != nil {
				return err
			}
			var entries []report.CatalogEntry
			for _, c := range checks.All(checks.DefaultOptions()) {
				m := c.Meta()
				if len(categories) > 0 && !slices.Contains(categories, string(m.Category)) {
					continue
				}
				entries = append(entries, report.CatalogEntry{ID: m.ID, Category: m.Category, Severity: m.Severity, Title: m.Title,
					LiveOnly: m.LiveOnly, Requires: m.Requires, Description: m.Description})
			}
			return render.WriteCatalog(streams.Out, entries, format)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: "+render.DocumentCatalog.FormatNames())
	cmd.Flags().StringSliceVar(&categories, "category", nil, "Only these categories")
	return cmd
}

func newExplainCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:     "explain CHECK-ID",
		Short:   "Explain a check: what it looks at, why it matters, how to fix it",
		Example: "  kubectl alertmend explain pod-crashloop",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(cmd, fmt.Errorf("explain takes exactly one check ID, got %d", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var ids []string
			for _, c := range checks.All(checks.DefaultOptions()) {
				if m := c.Meta(); m.ID == args[0] {
					_, err := io.WriteString(streams.Out, render.ExplainCheck(m))
					return err
				}
				ids = append(ids, c.Meta().ID)
			}
			return failed("unknown check %q%s", args[0], check.UnknownIDHint(args[0], ids))
		},
	}
}

func newVersionCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of kubectl alertmend",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := version.Get()
			if output == "" {
				line := "kubectl-alertmend " + info.Version
				if info.Commit != "" {
					line += " (commit " + info.Commit + ")"
				}
				_, err := fmt.Fprintf(streams.Out, "%s %s %s\n", line, info.GoVersion, info.Platform)
				return err
			}
			format, err := outputFormat(cmd, output, false)
			if err != nil {
				return err
			}
			return render.WriteData(streams.Out, info, format)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: "+render.DocumentVersion.FormatNames())
	return cmd
}
