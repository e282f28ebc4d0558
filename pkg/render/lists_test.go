package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// Every list of every document is [] when it holds nothing, in JSON and YAML, at the top and
// inside the items of other lists: a clean run's findings, a finding about no object (its
// objects), a grant's rule without API groups.
func TestEmptyListsAreNeverNull(t *testing.T) {
	emptyFinding := check.Finding{Check: "dns-not-found", Severity: check.High}
	documents := map[string]func() any{
		"Report":      func() any { return &report.Report{} },
		"Report item": func() any { return &report.Report{Findings: []check.Finding{emptyFinding}} },
		"FleetReport": func() any { return &report.FleetReport{} },
		"FleetReport item": func() any {
			return &report.FleetReport{Clusters: []report.ClusterRun{{Context: "a", Report: &report.Report{}}}}
		},
		"SubjectAccess":      func() any { return &report.SubjectAccess{} },
		"SubjectAccess item": func() any { return &report.SubjectAccess{Grants: []report.AccessGrant{{}}} },
		"WhoCan":             func() any { return &report.WhoCan{} },
		"WhoCan item":        func() any { return &report.WhoCan{Grants: []report.AccessGrant{{}}} },
		"PermissionReport":   func() any { return &report.PermissionReport{} },
		"PermissionReport item": func() any {
			return &report.PermissionReport{Identity: &report.PermissionIdentity{}, Accesses: []report.PermissionAccess{{}}}
		},
		"Catalog item": func() any { return &[]report.CatalogEntry{{}} },
	}
	for name, document := range documents {
		for _, f := range []Format{JSON, YAML} {
			var out bytes.Buffer
			if err := WriteData(&out, document(), f); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), "null") {
				t.Errorf("%s as %s has a null:\n%s", name, f, out.String())
			}
		}
	}
	// Through the report's own writer too, which every command uses.
	var out bytes.Buffer
	if err := Write(&out, &report.Report{}, JSON, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"findings": []`) || strings.Contains(out.String(), "null") {
		t.Errorf("an empty report:\n%s", out.String())
	}
	var catalog bytes.Buffer
	if err := WriteCatalog(&catalog, nil, JSON); err != nil || strings.TrimSpace(catalog.String()) != "[]" {
		t.Errorf("an empty catalog: %q, %v", catalog.String(), err)
	}
}
