package cmd

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

const rbacManifests = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: shop}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jane-reads-pods, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}
`

// Every command checks -o against the formats of the document it would write, whatever mode
// its flags choose, and refuses the rest with exit 2, naming what it can write; before this,
// rbac-audit's answers printed a table for -o sarif and exited 0.
func TestEveryDocumentRefusesFormatsItCannotWrite(t *testing.T) {
	manifests := writeManifest(t, "rbac.yaml", rbacManifests)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rbac-audit", "-f", manifests, "--who-can", "get", "pods", "-n", "shop", "-o", "sarif"},
			"a WhoCan cannot be written as sarif (want one of pretty, table, wide, json, yaml)"},
		{[]string{"rbac-audit", "-f", manifests, "--subject", "user:jane", "-o", "junit"},
			"a SubjectAccess cannot be written as junit (want one of pretty, table, wide, json, yaml)"},
		{[]string{"rbac-audit", "-f", manifests, "--subject", "user:jane", "-o", "prometheus"},
			"a SubjectAccess cannot be written as prometheus"},
		{[]string{"diagnose", "--explain-permissions", "-o", "markdown"},
			"a PermissionReport cannot be written as markdown"},
		{[]string{"rbac-audit", "--explain-permissions", "-o", "sarif"},
			"a PermissionReport cannot be written as sarif"},
		{[]string{"checks", "-o", "sarif"}, "a Catalog cannot be written as sarif (want one of table, wide, json, yaml)"},
		{[]string{"version", "-o", "table"}, "a Version cannot be written as table (want one of json, yaml)"},
		{[]string{"diagnose", "-o", "xml"}, `unknown output format "xml" (want one of pretty, table, wide, json, yaml, sarif, junit, markdown, prometheus)`},
		// The answers validate the reading flags like every other mode.
		{[]string{"rbac-audit", "-f", manifests, "--who-can", "get", "pods", "--timeout", "-5s"}, "invalid --timeout -5s"},
		{[]string{"rbac-audit", "-f", manifests, "--subject", "user:jane", "--chunk-size", "-3"}, "invalid --chunk-size -3"},
	} {
		r := run(t, testEnv{}, tc.args...)
		if r.code != report.ExitError || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 saying %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
}

// What the document does support is written.
func TestAnswersWriteTheirFormats(t *testing.T) {
	manifests := writeManifest(t, "rbac.yaml", rbacManifests)
	r := run(t, testEnv{}, "rbac-audit", "-f", manifests, "--who-can", "list", "pods", "-n", "shop", "-o", "json")
	var answer report.WhoCan
	if err := json.Unmarshal([]byte(r.stdout), &answer); r.code != 0 || err != nil {
		t.Fatalf("exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if answer.Kind != report.KindWhoCan || len(answer.Grants) != 1 || answer.Grants[0].Subject.Name != "jane" {
		t.Errorf("answer %+v", answer)
	}
	// -n names the question's namespace, not where the manifests go: objects of other
	// namespaces are read, not refused as kubectl apply -n would.
	other := writeManifest(t, "other.yaml", strings.ReplaceAll(rbacManifests, "namespace: shop", "namespace: billing"))
	r = run(t, testEnv{}, "rbac-audit", "-f", manifests, "-f", other, "--who-can", "list", "pods", "-n", "billing", "-o", "json")
	answer = report.WhoCan{}
	if err := json.Unmarshal([]byte(r.stdout), &answer); r.code != 0 || err != nil || len(answer.Grants) != 1 ||
		answer.Grants[0].Namespace != "billing" {
		t.Errorf("who can list pods in billing, from manifests of two namespaces: exit %d, %v, %+v\n%s", r.code, err, answer.Grants, r.stderr)
	}
	r = run(t, testEnv{terminal: true}, "rbac-audit", "-f", manifests, "--subject", "user:jane")
	if r.code != 0 || !strings.Contains(r.stdout, "VERBS") || !strings.Contains(r.stdout, "jane-reads-pods") {
		t.Errorf("on a terminal, the subject's table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, testEnv{}, "checks", "-o", "json", "--category", "rbac")
	var entries []report.CatalogEntry
	if err := json.Unmarshal([]byte(r.stdout), &entries); r.code != 0 || err != nil || len(entries) == 0 {
		t.Errorf("checks -o json: exit %d, %v, %d entries", r.code, err, len(entries))
	}
}

// --min-severity shortens the list, never the gate: a hidden finding still fails --fail-on,
// and the summary says how many were left out.
func TestMinSeverityListsLessButGatesAll(t *testing.T) {
	manifests := writeManifest(t, "install.yaml", installManifest)
	r := run(t, testEnv{}, "diagnose", "-f", manifests, "--min-severity", "critical", "--fail-on", "low", "-o", "json")
	var rep report.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.stderr)
	}
	if r.code != report.ExitGateFailed {
		t.Errorf("exit %d, want 1: the hidden medium and low findings still fail --fail-on low", r.code)
	}
	if len(rep.Findings) == 0 || rep.Summary.NotShown == 0 || rep.Summary.Medium == 0 {
		t.Fatalf("findings %d, summary %+v: want the critical ones listed and the rest counted", len(rep.Findings), rep.Summary)
	}
	for _, f := range rep.Findings {
		if f.Severity != "critical" {
			t.Errorf("%s (%s) listed under --min-severity critical", f.Check, f.Severity)
		}
	}
	table := run(t, testEnv{}, "diagnose", "-f", manifests, "--min-severity", "medium", "-o", "table")
	if !strings.Contains(table.stdout, "below medium not shown (--min-severity)") || strings.Contains(table.stdout, "netpol-egress-unisolated") {
		t.Errorf("table under --min-severity medium:\n%s", table.stdout)
	}
	if bad := run(t, testEnv{}, "diagnose", "-f", manifests, "--min-severity", "urgent"); bad.code != report.ExitError ||
		!strings.Contains(bad.stderr, "invalid --min-severity") {
		t.Errorf("--min-severity urgent: exit %d, stderr %q", bad.code, bad.stderr)
	}
}

// Piped pretty output is laid out for COLUMNS when set, else for 80 columns.
func TestPrettyWidthFollowsColumns(t *testing.T) {
	manifests := writeManifest(t, "install.yaml", installManifest)
	widest := func(out string) int {
		w := 0
		for _, line := range strings.Split(out, "\n") {
			w = max(w, len([]rune(line)))
		}
		return w
	}
	if w := widest(run(t, testEnv{}, "diagnose", "-f", manifests, "-o", "pretty").stdout); w > 80 || w < 70 {
		t.Errorf("without COLUMNS the widest line is %d, want the 80-column layout", w)
	}
	wide := run(t, testEnv{vars: map[string]string{"COLUMNS": "140"}}, "diagnose", "-f", manifests, "-o", "pretty").stdout
	if w := widest(wide); w > 140 || w <= 80 {
		t.Errorf("with COLUMNS=140 the widest line is %d, want a layout wider than 80 and within 140", w)
	}
}
