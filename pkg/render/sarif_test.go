package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// hostileMarkup is text a user who may create objects could put in a name, message or annotation:
// Markdown and HTML, a code fence, a table pipe and terminal escape sequences.
const hostileMarkup = "*bold* _em_ [link](https://evil.example) | `tick` ``` <script>alert(1)</script> \x1b[31mred\x1b[0m \x1b]0;title\x07"

// triageReport covers what the machine and ticket formats must map: objects defined in
// manifests (relative, absolute and needing escapes), a live object without a file, a finding
// about no object, a baselined finding, a suppressed one, checks not evaluated, a stale ignore
// rule, and hostile text.
func triageReport() *report.Report {
	cart := snapshot.RefTo(snapshot.KindDeployments, "shop", "cart")
	cartSvc := snapshot.RefTo(snapshot.KindServices, "shop", "cart")
	debug := snapshot.RefTo(snapshot.KindPods, "tools", "debug")
	evil := snapshot.RefTo(snapshot.KindConfigMaps, "shop", "evil`name|<b>")
	admin := snapshot.RefTo(snapshot.KindClusterRoleBindings, "", "ops-admin")
	return &report.Report{
		APIVersion: report.APIVersion,
		Kind:       report.Kind,
		Metadata: report.Metadata{Source: "manifests", Namespace: "shop",
			GeneratedAt: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)},
		Summary: report.Summary{Critical: 1, High: 1, Medium: 1, Low: 1, Info: 1, ChecksRun: 9, NotEvaluated: 2, Suppressed: 1, Baselined: 1},
		Findings: []check.Finding{
			{Check: "pod-crashloop", Category: check.CategoryWorkloads, Severity: check.Critical, Title: "Containers are crash looping",
				Message: "2 pods of deployment shop/cart are crash looping (container app)", Remediation: "Read the previous run's logs.",
				Fix:       []string{"kubectl logs -n shop deployment/cart -c app --previous"},
				Objects:   []snapshot.Ref{cart},
				Evidence:  []string{"last log line: " + hostileMarkup},
				Locations: []snapshot.Origin{{File: "deploy/shop.yaml", Line: 3}},
				Incident:  true, Scope: check.ScopeObject},
			{Check: "service-no-endpoints", Category: check.CategoryWorkloads, Severity: check.High, Title: "Services have no endpoints",
				Message: "service shop/cart selects no ready pod", Remediation: "Compare the selector with the pods' labels.",
				Fix:       []string{"kubectl get endpointslices -n shop -l kubernetes.io/service-name=cart"},
				Objects:   []snapshot.Ref{cartSvc, cart},
				Locations: []snapshot.Origin{{File: "deploy/my app.yaml", Line: 10}},
				Incident:  true, Scope: check.ScopeObject},
			{Check: "apiserver-latency", Category: check.CategoryAPIServer, Severity: check.Medium, Title: "The API server is slow",
				Message: "p99 latency of LIST is 4.2s", Remediation: "Find the clients that list the most.",
				Fix:   []string{},
				Scope: check.ScopeCluster},
			{Check: "no-memory-limit", Category: check.CategoryResources, Severity: check.Low, Title: "Containers have no memory limit",
				Message: "pod tools/debug has no memory limit", Remediation: "Set a limit.",
				Fix:       []string{"# in the pod spec:\nresources:\n  limits:\n    memory: 256Mi"},
				Objects:   []snapshot.Ref{debug},
				Locations: []snapshot.Origin{{File: "/srv/manifests/tools.yaml", Line: 7}},
				Scope:     check.ScopeObject, Baselined: true},
			{Check: "configmap-note", Category: check.CategoryWorkloads, Severity: check.Info, Title: "A note about " + hostileMarkup,
				Message: hostileMarkup, Remediation: "Rename it.",
				Fix:     []string{"kubectl describe configmap -n shop 'evil`name|<b>'", "cat <<'EOF'\n```\nEOF"},
				Objects: []snapshot.Ref{evil}, Scope: check.ScopeObject},
		},
		NotEvaluated: []report.NotEvaluated{
			{Check: "node-pressure", Reason: `cannot read nodes: forbidden: User "bob" cannot list resource "nodes"`},
			{Check: "dns-latency", Reason: "no CoreDNS metrics: " + hostileMarkup},
		},
		Suppressed: []report.Suppressed{{
			Finding: check.Finding{Check: "rbac-wildcard", Category: check.CategoryRBAC, Severity: check.High, Title: "Bindings grant every verb",
				Message: "clusterrolebinding ops-admin grants * on *", Remediation: "Grant only what is used.", Fix: []string{},
				Objects: []snapshot.Ref{admin}, Scope: check.ScopeCluster},
			By:     "annotation on clusterrolebinding ops-admin",
			Reason: "break-glass account <reviewed>",
		}},
		RuleNotices: []report.RuleNotice{{Rule: ".alertmend.yaml:12", Problem: "expired", Detail: "expired on 2026-10-01 | silenced " + hostileMarkup}},
	}
}

// triageCatalog describes the checks of triageReport but configmap-note, whose rule must come
// from its finding, and adds one check that found nothing.
func triageCatalog() []check.Meta {
	meta := func(id, title string, c check.Category, s check.Severity) check.Meta {
		return check.Meta{ID: id, Title: title, Category: c, Severity: s, Description: "Looks at " + id + ".",
			Why: "Because " + id + " hurts.", Remediation: "Fix " + id + "."}
	}
	crashloop := meta("pod-crashloop", "Containers are crash looping", check.CategoryWorkloads, check.Critical)
	crashloop.References = []string{"https://kubernetes.io/docs/tasks/debug/debug-application/debug-pods/"}
	return []check.Meta{
		crashloop,
		meta("service-no-endpoints", "Services have no endpoints", check.CategoryWorkloads, check.High),
		meta("apiserver-latency", "The API server is slow", check.CategoryAPIServer, check.Medium),
		meta("no-memory-limit", "Containers have no memory limit", check.CategoryResources, check.Low),
		meta("rbac-wildcard", "Bindings grant every verb", check.CategoryRBAC, check.High),
		meta("node-pressure", "Nodes are under pressure", check.CategoryResources, check.High),
		meta("dns-latency", "DNS is slow", check.CategoryDNS, check.Medium),
		meta("conntrack-full", "The conntrack table is nearly full", check.CategoryConntrack, check.High),
	}
}

func triageOptions() Options {
	return Options{FailOn: check.High, Catalog: triageCatalog(), Baseline: true, ToolVersion: "v1.2.3"}
}

// assertGolden compares out with testdata/name, rewriting it with -update.
func assertGolden(t *testing.T, name string, out []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/render -update)", err)
	}
	if string(out) != string(want) {
		t.Errorf("output differs from %s:\n%s", golden, out)
	}
}

func renderBytes(t *testing.T, r *report.Report, f Format, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, r, f, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTriageGolden(t *testing.T) {
	for _, f := range []Format{Sarif, JUnit, Markdown} {
		t.Run(string(f), func(t *testing.T) {
			opts := triageOptions()
			opts.Color = true // must change nothing: none of these formats is coloured
			out := renderBytes(t, triageReport(), f, opts)
			assertGolden(t, "triage."+string(f)+".golden", out)
			if bytes.ContainsRune(out, 0x1b) {
				t.Errorf("%s output carries an escape character", f)
			}
		})
	}
}

// decodeSarif reads out into the library's types and proves that nothing was lost on the way:
// the library validates its Go value, so only a faithful decoding makes that a validation of
// the bytes written.
func decodeSarif(out []byte) (*sarif.Report, error) {
	var doc sarif.Report
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, err
	}
	again, err := json.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	var written, decoded map[string]any
	if err := json.Unmarshal(out, &written); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(again, &decoded); err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(written, decoded) {
		return nil, fmt.Errorf("the SARIF types do not round-trip the output:\n%s\nvs\n%s", out, again)
	}
	return &doc, nil
}

// validateSarif checks the bytes against the SARIF 2.1.0 schema.
func validateSarif(t *testing.T, out []byte) *sarif.Report {
	t.Helper()
	doc, err := decodeSarif(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(); err != nil {
		t.Fatalf("output is not valid SARIF 2.1.0: %v\n%s", err, out)
	}
	return doc
}

func TestSarifValidatesAgainstSchema(t *testing.T) {
	cases := map[string]struct {
		report *report.Report
		opts   Options
	}{
		"triage":             {triageReport(), triageOptions()},
		"triage, no catalog": {triageReport(), Options{}},
		"sample":             {sampleReport(), Options{ToolVersion: "dev"}},
		"empty":              {&report.Report{APIVersion: report.APIVersion, Kind: report.Kind, Findings: []check.Finding{}, NotEvaluated: []report.NotEvaluated{}}, Options{}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			validateSarif(t, renderBytes(t, c.report, Sarif, c.opts))
		})
	}
}

// The checks above are worth something only if they can fail: a field the types drop must be
// noticed, and an invalid value must be rejected by the schema.
func TestSarifRoundTripCatchesALostField(t *testing.T) {
	out := renderBytes(t, triageReport(), Sarif, triageOptions())
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	doc["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)["notASarifField"] = true
	tampered, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeSarif(tampered); err == nil {
		t.Fatal("a field the SARIF types drop went unnoticed")
	}
}

func TestSarifValidationCatchesAnInvalidDocument(t *testing.T) {
	doc := validateSarif(t, renderBytes(t, triageReport(), Sarif, triageOptions()))
	doc.Runs[0].Results[0].Level = "severe"
	err := doc.Validate()
	if err == nil || !strings.Contains(err.Error(), "level") {
		t.Fatalf("a result with level %q validated: err = %v", "severe", err)
	}
}

func TestSarifMapping(t *testing.T) {
	r := triageReport()
	doc := validateSarif(t, renderBytes(t, r, Sarif, triageOptions()))
	if len(doc.Runs) != 1 {
		t.Fatalf("%d runs", len(doc.Runs))
	}
	run := doc.Runs[0]
	driver := run.Tool.Driver
	if *driver.Name != "kubectl-alertmend" || *driver.Version != "v1.2.3" || *driver.InformationURI != "https://github.com/alertmend/kubectl-alertmend" {
		t.Errorf("driver %s %s %s", *driver.Name, *driver.Version, *driver.InformationURI)
	}

	var ids []string
	for _, rule := range driver.Rules {
		ids = append(ids, *rule.ID)
	}
	// Every catalog check, plus configmap-note known only from its finding, sorted.
	wantIDs := []string{"apiserver-latency", "configmap-note", "conntrack-full", "dns-latency", "no-memory-limit",
		"node-pressure", "pod-crashloop", "rbac-wildcard", "service-no-endpoints"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("rules %v, want %v", ids, wantIDs)
	}
	crashloop := driver.Rules[slices.Index(ids, "pod-crashloop")]
	if *crashloop.Name != "PodCrashloop" || *crashloop.ShortDescription.Text != "Containers are crash looping" ||
		*crashloop.FullDescription.Text != "Looks at pod-crashloop." || crashloop.DefaultConfiguration.Level != "error" ||
		!strings.Contains(*crashloop.Help.Text, "Because pod-crashloop hurts.") || !strings.Contains(*crashloop.Help.Text, "Fix pod-crashloop.") {
		t.Errorf("pod-crashloop rule: %+v", crashloop)
	}
	if got := crashloop.Properties.Properties["security-severity"]; got != "9.5" {
		t.Errorf("security-severity %v", got)
	}
	if !slices.Equal(crashloop.Properties.Tags, []string{"workloads"}) {
		t.Errorf("tags %v", crashloop.Properties.Tags)
	}

	if len(run.Results) != len(r.Findings)+len(r.Suppressed) {
		t.Fatalf("%d results", len(run.Results))
	}
	wantLevels := []string{"error", "error", "warning", "note", "note", "error"}
	wantStates := []string{"new", "new", "new", "unchanged", "new", "new"}
	for i, res := range run.Results {
		if *driver.Rules[res.RuleIndex].ID != *res.RuleID {
			t.Errorf("result %d: ruleIndex %d names %s, not %s", i, res.RuleIndex, *driver.Rules[res.RuleIndex].ID, *res.RuleID)
		}
		if res.Level != wantLevels[i] || *res.BaselineState != wantStates[i] {
			t.Errorf("result %d (%s): level %s, baselineState %s", i, *res.RuleID, res.Level, *res.BaselineState)
		}
		if len(res.PartialFingerprints["alertmendFinding/v1"]) != 64 {
			t.Errorf("result %d: fingerprint %v", i, res.PartialFingerprints)
		}
	}

	// Manifests: a relative path is relative to the source root, forward slashes, escaped.
	loc := run.Results[0].Locations[0]
	if *loc.PhysicalLocation.ArtifactLocation.URI != "deploy/shop.yaml" || *loc.PhysicalLocation.ArtifactLocation.URIBaseID != "%SRCROOT%" ||
		*loc.PhysicalLocation.Region.StartLine != 3 || *loc.LogicalLocations[0].FullyQualifiedName != "shop/deployment/cart" {
		t.Errorf("location of a manifest object: %+v", loc)
	}
	// Two objects, one file: the file, then each object as a logical location.
	locs := run.Results[1].Locations
	if len(locs) != 3 || *locs[0].PhysicalLocation.ArtifactLocation.URI != "deploy/my%20app.yaml" ||
		*locs[1].LogicalLocations[0].FullyQualifiedName != "shop/service/cart" || *locs[1].LogicalLocations[0].Kind != "object" ||
		locs[1].PhysicalLocation != nil {
		t.Errorf("locations of objects partly without a file: %+v", locs)
	}
	if len(run.Results[2].Locations) != 0 {
		t.Errorf("a finding about no object has locations: %+v", run.Results[2].Locations)
	}
	abs := run.Results[3].Locations[0].PhysicalLocation.ArtifactLocation
	if *abs.URI != "file:///srv/manifests/tools.yaml" || abs.URIBaseID != nil {
		t.Errorf("absolute path: uri %s, base %v", *abs.URI, abs.URIBaseID)
	}

	suppressed := run.Results[5]
	if len(suppressed.Suppressions) != 1 || *suppressed.Suppressions[0].Kind != "external" || *suppressed.Suppressions[0].Status != "accepted" ||
		*suppressed.Suppressions[0].Justification != "break-glass account <reviewed>" ||
		suppressed.Properties.Properties["suppressedBy"] != "annotation on clusterrolebinding ops-admin" {
		t.Errorf("suppressed result: %+v", suppressed)
	}
	for i, res := range run.Results[:5] {
		if len(res.Suppressions) != 0 {
			t.Errorf("result %d is suppressed", i)
		}
	}

	inv := run.Invocations
	if len(inv) != 1 || !*inv[0].ExecutionSuccessful || len(inv[0].ToolExecutionNotifications) != 2 {
		t.Fatalf("invocations %+v", inv)
	}
	n := inv[0].ToolExecutionNotifications[0]
	if *n.Descriptor.ID != "node-pressure" || n.Level != "warning" || !strings.HasPrefix(*n.Message.Text, "cannot read nodes") {
		t.Errorf("notification %+v", n)
	}
}

func TestSarifWithoutBaselineHasNoBaselineState(t *testing.T) {
	doc := validateSarif(t, renderBytes(t, triageReport(), Sarif, Options{}))
	for _, res := range doc.Runs[0].Results {
		if res.BaselineState != nil {
			t.Errorf("%s: baselineState %s without --baseline", *res.RuleID, *res.BaselineState)
		}
	}
}

// Code-scanning dashboards match findings across runs by fingerprint: it must not move with the
// message, the evidence or the order of objects, and must tell checks and objects apart.
func TestSarifFingerprintIsStable(t *testing.T) {
	f := triageReport().Findings[1]
	reworded := f
	reworded.Message, reworded.Evidence = "reworded", []string{"new evidence"}
	reworded.Objects = []snapshot.Ref{f.Objects[1], f.Objects[0]}
	if findingFingerprint(f) != findingFingerprint(reworded) {
		t.Error("fingerprint depends on the message, evidence or object order")
	}
	other := f
	other.Check = "another-check"
	fewer := f
	fewer.Objects = f.Objects[:1]
	if findingFingerprint(f) == findingFingerprint(other) || findingFingerprint(f) == findingFingerprint(fewer) {
		t.Error("fingerprint does not tell findings apart")
	}
}

func TestSarifIsDeterministic(t *testing.T) {
	first := renderBytes(t, triageReport(), Sarif, triageOptions())
	for range 5 {
		if again := renderBytes(t, triageReport(), Sarif, triageOptions()); !bytes.Equal(first, again) {
			t.Fatal("two renderings of the same report differ")
		}
	}
}
