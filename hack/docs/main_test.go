package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/checks"
)

// The README's table of checks is what the catalog holds.
func TestReadmeCheckTableIsCurrent(t *testing.T) {
	name := filepath.Join("..", "..", "README.md")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	want, err := withCheckTable(string(data), checks.All(checks.DefaultOptions()))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != want {
		t.Errorf("README.md's table of checks differs from the catalog: run `make docs` and commit README.md")
	}
}

func TestCheckTableListsEveryCheckOnce(t *testing.T) {
	catalog := checks.All(checks.DefaultOptions())
	table := checkTable(catalog)
	if rows := strings.Count(table, "\n") - 2; rows != len(catalog) {
		t.Errorf("%d rows for %d checks", rows, len(catalog))
	}
	for _, c := range catalog {
		if strings.Count(table, "| `"+c.Meta().ID+"` |") != 1 {
			t.Errorf("%s is not listed exactly once", c.Meta().ID)
		}
	}
}

func TestMarkersAreRequired(t *testing.T) {
	catalog := checks.All(checks.DefaultOptions())
	for _, doc := range []string{"no markers", beginMarker + " no end", endMarker + " end before " + beginMarker} {
		if _, err := withCheckTable(doc, catalog); err == nil {
			t.Errorf("%q: no error", doc)
		}
	}
	got, err := withCheckTable("a\n"+beginMarker+"\nold\n"+endMarker+"\nb\n", catalog[:1])
	if err != nil || got != "a\n"+beginMarker+"\n"+checkTable(catalog[:1])+endMarker+"\nb\n" {
		t.Errorf("replaced: %q, %v", got, err)
	}
}
