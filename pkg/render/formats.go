package render

import (
	"fmt"
	"slices"
	"strings"
)

// Document is a kind of document a command writes. Each declares the formats it can be written
// in, here and only here: -o is validated against it, completion offers exactly it, and the
// error for anything else names it.
type Document string

const (
	// DocumentReport is diagnose's and rbac-audit's findings about one cluster or one set of manifests.
	DocumentReport Document = "Report"
	// DocumentFleetReport is the findings of several clusters at once (--contexts, --all-contexts).
	DocumentFleetReport Document = "FleetReport"
	// DocumentSubjectAccess is rbac-audit --subject's answer.
	DocumentSubjectAccess Document = "SubjectAccess"
	// DocumentWhoCan is rbac-audit --who-can's answer.
	DocumentWhoCan Document = "WhoCan"
	// DocumentPermissionReport is --explain-permissions' answer.
	DocumentPermissionReport Document = "PermissionReport"
	// DocumentCatalog is the list of checks.
	DocumentCatalog Document = "Catalog"
	// DocumentVersion is the build's version.
	DocumentVersion Document = "Version"
)

// Formats lists the formats d can be written in, people's first.
func (d Document) Formats() []Format {
	switch d {
	case DocumentReport:
		return []Format{Pretty, Table, Wide, JSON, YAML, Sarif, JUnit, Markdown, Prometheus}
	case DocumentFleetReport:
		// SARIF and JUnit describe one run over one source; a fleet has many.
		return []Format{Pretty, Table, Wide, JSON, YAML, Markdown, Prometheus}
	case DocumentSubjectAccess, DocumentWhoCan, DocumentPermissionReport:
		// Answers to a question: a table for people (pretty is the table, on a terminal), the
		// document for machines; no findings to gate on or scan.
		return []Format{Pretty, Table, Wide, JSON, YAML}
	case DocumentCatalog:
		return []Format{Table, Wide, JSON, YAML}
	case DocumentVersion:
		return []Format{JSON, YAML}
	}
	return nil
}

// Supports tells whether d can be written as f.
func (d Document) Supports(f Format) bool { return slices.Contains(d.Formats(), f) }

// FormatNames joins d's formats for help and messages.
func (d Document) FormatNames() string {
	names := make([]string, 0, len(d.Formats()))
	for _, f := range d.Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// ParseFormat validates an -o value for a document of kind d.
func (d Document) ParseFormat(v string) (Format, error) {
	if f := Format(v); d.Supports(f) {
		return f, nil
	}
	if slices.Contains(Formats(), Format(v)) {
		return "", fmt.Errorf("a %s cannot be written as %s (want one of %s)", d, v, d.FormatNames())
	}
	return "", fmt.Errorf("unknown output format %q (want one of %s)", v, d.FormatNames())
}
