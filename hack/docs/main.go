// Command docs writes the README's table of checks from the catalog, between the markers
// <!-- checks:begin --> and <!-- checks:end -->, so the table lists exactly what ships.
// Run it as `make docs`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

const (
	beginMarker = "<!-- checks:begin -->"
	endMarker   = "<!-- checks:end -->"
)

func main() {
	readme := flag.String("readme", "README.md", "the file whose check table to rewrite")
	flag.Parse()
	if err := rewrite(*readme); err != nil {
		fmt.Fprintln(os.Stderr, "docs:", err)
		os.Exit(1)
	}
}

func rewrite(name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	updated, err := withCheckTable(string(data), checks.All(checks.DefaultOptions()))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if updated == string(data) {
		return nil
	}
	return os.WriteFile(name, []byte(updated), 0o644)
}

// withCheckTable is doc with the text between its markers replaced by the table of catalog.
func withCheckTable(doc string, catalog []check.Check) (string, error) {
	before, rest, found := strings.Cut(doc, beginMarker)
	if !found {
		return "", errors.New("no " + beginMarker + " marker")
	}
	_, after, found := strings.Cut(rest, endMarker)
	if !found {
		return "", errors.New("no " + endMarker + " after " + beginMarker)
	}
	return before + beginMarker + "\n" + checkTable(catalog) + endMarker + after, nil
}

// checkTable is one Markdown row per check, in catalog order, with its default severity.
func checkTable(catalog []check.Check) string {
	var b strings.Builder
	b.WriteString("| ID | category | severity | what |\n| --- | --- | --- | --- |\n")
	for _, c := range catalog {
		m := c.Meta()
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", m.ID, m.Category, m.Severity, strings.ReplaceAll(m.Title, "|", `\|`))
	}
	return b.String()
}
