package cmd

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	"github.com/alertmend/kubectl-alertmend/pkg/version"
)

// CatalogEntry is one check as `checks -o json|yaml` prints it.
type CatalogEntry struct {
	ID          string          `json:"id"`
	Category    check.Category  `json:"category"`
	Severity    check.Severity  `json:"severity"`
	Title       string          `json:"title"`
	LiveOnly    bool            `json:"liveOnly"`
	Requires    []snapshot.Kind `json:"requires"`
	Description string          `json:"description"`
}

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
					return usageError(cmd, fmt.Errorf("unknown category %q in --category", c))
				}
			}
			var entries []CatalogEntry
			for _, c := range checks.All(checks.DefaultOptions()) {
				m := c.Meta()
				if len(categories) > 0 && !slices.Contains(categories, string(m.Category)) {
					continue
				}
				entries = append(entries, CatalogEntry{ID: m.ID, Category: m.Category, Severity: m.Severity, Title: m.Title,
					LiveOnly: m.LiveOnly, Requires: m.Requires, Description: m.Description})
			}
			switch output {
			case "", "table", "wide":
				return writeCatalogTable(streams.Out, entries)
			case "json", "yaml":
				return render.WriteData(streams.Out, entries, render.Format(output))
			}
			return usageError(cmd, fmt.Errorf("invalid --output %q (want table, json or yaml)", output))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: table, json, yaml")
	cmd.Flags().StringSliceVar(&categories, "category", nil, "Only these categories")
	return cmd
}

func writeCatalogTable(w io.Writer, entries []CatalogEntry) error {
	t := render.NewPlainTable(w, "ID", "CATEGORY", "SEVERITY", "TITLE")
	for _, e := range entries {
		if err := t.Append([]string{e.ID, string(e.Category), string(e.Severity), e.Title}); err != nil {
			return err
		}
	}
	return t.Render()
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
			for _, c := range checks.All(checks.DefaultOptions()) {
				if m := c.Meta(); m.ID == args[0] {
					_, err := io.WriteString(streams.Out, explainText(m))
					return err
				}
			}
			return failed("unknown check %q (run `kubectl alertmend checks` for the list)", args[0])
		},
	}
}

func explainText(m check.Meta) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n\n", m.ID, m.Title)
	fmt.Fprintf(&b, "  Category:  %s\n  Severity:  %s (default)\n  Reads:     %s", m.Category, m.Severity, joinKinds(m.Requires))
	if len(m.Optional) > 0 {
		fmt.Fprintf(&b, " (and, if readable, %s)", joinKinds(m.Optional))
	}
	b.WriteString("\n")
	if m.LiveOnly {
		b.WriteString("  Source:    live cluster only (manifests carry no status)\n")
	} else {
		b.WriteString("  Source:    live cluster and manifests\n")
	}
	section := func(title, text string) {
		b.WriteString("\n" + title + "\n")
		for _, line := range render.Wrap(text, 76) {
			b.WriteString("  " + line + "\n")
		}
	}
	section("What it checks", m.Description)
	section("Why it matters", m.Why)
	section("How to fix", m.Remediation)
	if len(m.References) > 0 {
		b.WriteString("\nReferences\n")
		for _, r := range m.References {
			b.WriteString("  - " + r + "\n")
		}
	}
	return b.String()
}

func joinKinds(kinds []snapshot.Kind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func newVersionCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of kubectl alertmend",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := version.Get()
			switch output {
			case "":
				line := "kubectl-alertmend " + info.Version
				if info.Commit != "" {
					line += " (commit " + info.Commit + ")"
				}
				_, err := fmt.Fprintf(streams.Out, "%s %s %s\n", line, info.GoVersion, info.Platform)
				return err
			case "json", "yaml":
				return render.WriteData(streams.Out, info, render.Format(output))
			}
			return usageError(cmd, fmt.Errorf("invalid --output %q (want json or yaml)", output))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml")
	return cmd
}
