package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// WriteCatalog renders the list of checks: a table for people, the entries for machines.
func WriteCatalog(w io.Writer, entries []report.CatalogEntry, f Format) error {
	if f == JSON || f == YAML {
		if entries == nil {
			entries = []report.CatalogEntry{}
		}
		return WriteData(w, entries, f)
	}
	t := NewPlainTable(w, "ID", "CATEGORY", "SEVERITY", "TITLE")
	for _, e := range entries {
		if err := t.Append([]string{e.ID, string(e.Category), string(e.Severity), e.Title}); err != nil {
			return err
		}
	}
	return t.Render()
}

// ExplainCheck is `explain`'s page about one check: what it reads, checks, why, and the fix.
func ExplainCheck(m check.Meta) string {
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
		for _, line := range Fill(text, 76) {
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
