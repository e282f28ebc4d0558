//go:build e2e

package cmd

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// checkoutManifest is a Deployment without requests or limits: memory-limit-missing,
// memory-request-missing (medium), cpu-request-missing (low), plus the NetworkPolicy findings
// of its namespace.
const checkoutManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout
  namespace: shop
  labels: {team: payments}
  annotations:
    alertmend.io/ignore: memory-request-missing
    alertmend.io/ignore-reason: the VPA sets it
spec:
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec: {containers: [{name: app, image: checkout:1}]}
`

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func checksIn(r *report.Report) map[string]bool {
	set := map[string]bool{}
	for _, f := range r.Findings {
		set[f.Check] = true
	}
	return set
}

func TestSuppressionsOnManifests(t *testing.T) {
	dir := t.TempDir()
	manifest := writeFile(t, dir, "checkout.yaml", checkoutManifest)

	t.Run("an annotation silences its checks, counted and shown on request", func(t *testing.T) {
		r := run(t, testEnv{}, "diagnose", "-f", manifest, "-o", "json", "--fail-on", "medium")
		rep := r.report(t)
		if checksIn(rep)["memory-request-missing"] || !checksIn(rep)["memory-limit-missing"] || rep.Summary.Suppressed != 1 || rep.Suppressed != nil {
			t.Errorf("checks %v, summary %+v", checksIn(rep), rep.Summary)
		}
		if r.code != report.ExitGateFailed {
			t.Errorf("memory-limit-missing (medium) must still fail --fail-on medium: exit %d", r.code)
		}
		shown := run(t, testEnv{}, "diagnose", "-f", manifest, "-o", "json", "--show-suppressed").report(t)
		if len(shown.Suppressed) != 1 || shown.Suppressed[0].Finding.Check != "memory-request-missing" ||
			shown.Suppressed[0].Reason != "the VPA sets it" || !strings.Contains(shown.Suppressed[0].By, "deployment shop/checkout") {
			t.Errorf("--show-suppressed: %+v", shown.Suppressed)
		}
	})

	t.Run("the config file: failOn, severities, rules, expired and stale rules", func(t *testing.T) {
		cfg := writeFile(t, dir, "gate.yaml", `failOn: medium
severity:
  memory-limit-missing: low
ignore:
  - check: "netpol-*"
    namespace: shop
    reason: the mesh isolates shop
  - check: cpu-request-missing
    selector: team=payments
    reason: payments is burstable by design
    expires: 2026-01-01
  - check: memory-limit-missing
    name: "nothing-*"
    reason: matches nothing
`)
		r := run(t, testEnv{}, "diagnose", "-f", manifest, "-o", "json", "--config", cfg)
		rep := r.report(t)
		got := checksIn(rep)
		if got["netpol-no-default-deny"] || got["netpol-ingress-unisolated"] || !got["cpu-request-missing"] || !got["memory-limit-missing"] {
			t.Errorf("checks after the rules: %v", got)
		}
		if rep.Summary.Medium != 0 || r.code != report.ExitOK {
			t.Errorf("memory-limit-missing lowered to low, gate at medium from the file: exit %d, summary %+v", r.code, rep.Summary)
		}
		if len(rep.RuleNotices) != 2 || rep.RuleNotices[0].Problem != "expired" || rep.RuleNotices[1].Problem != "stale" ||
			rep.RuleNotices[0].Rule != cfg+":8" || rep.RuleNotices[1].Rule != cfg+":12" {
			t.Errorf("notices %+v", rep.RuleNotices)
		}
		if !strings.Contains(r.stderr, "warning: "+cfg+":8: ignore rule expired") {
			t.Errorf("stderr does not warn of the expired rule: %s", r.stderr)
		}
		// --fail-on on the command line wins over the file.
		if r := run(t, testEnv{}, "diagnose", "-f", manifest, "--config", cfg, "--fail-on", "low"); r.code != report.ExitGateFailed {
			t.Errorf("--fail-on low: exit %d", r.code)
		}
	})

	t.Run(".alertmend.yaml in the working directory is read without --config", func(t *testing.T) {
		work := t.TempDir()
		writeFile(t, work, ".alertmend.yaml", "failOn: low\n")
		t.Chdir(work)
		if r := run(t, testEnv{}, "diagnose", "-f", manifest); r.code != report.ExitGateFailed {
			t.Errorf("failOn low from .alertmend.yaml: exit %d (%s)", r.code, r.stderr)
		}
		writeFile(t, work, ".alertmend.yaml", "failOn: low\nignore:\n  - check: nope\n    reason: x\n")
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "-f", manifest), `.alertmend.yaml:3: check: "nope" matches no check`)
	})

	t.Run("a broken config is exit 2 naming the file and line", func(t *testing.T) {
		bad := writeFile(t, dir, "bad.yaml", "failOn: high\nignore:\n  - check: cpu-request-missing\n    reson: typo\n")
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "-f", manifest, "--config", bad), bad+`:4: unknown field "reson"`)
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "-f", manifest, "--config", filepath.Join(dir, "absent.yaml")), "absent.yaml: cannot read the config file")
	})
}

// TestBaselineGatesOnlyNewFindings records the scenario cluster's findings and gates on them.
func TestBaselineGatesOnlyNewFindings(t *testing.T) {
	dir := t.TempDir()
	baseline := filepath.Join(dir, "baseline.yaml")
	// The scenario has critical findings and checks that cannot be evaluated here.
	if r := admin(t, "diagnose", "-o", "json"); r.code != report.ExitGateFailed {
		t.Fatalf("the scenario should fail the gate: exit %d", r.code)
	}
	written := admin(t, "diagnose", "-o", "json", "--write-baseline", baseline)
	rep := written.report(t)
	if written.code != report.ExitIncomplete || rep.Summary.Baselined != len(rep.Findings) {
		t.Errorf("--write-baseline: exit %d, summary %+v", written.code, rep.Summary)
	}
	gated := admin(t, "diagnose", "-o", "json", "--baseline", baseline)
	if gated.code != report.ExitIncomplete || gated.report(t).Summary.Baselined != len(rep.Findings) {
		t.Errorf("nothing new: exit %d, want 3 (nothing new, some checks not evaluated)", gated.code)
	}
	// Forget the most urgent finding: it is new again and fails the gate.
	b, err := report.ReadBaseline(baseline)
	if err != nil {
		t.Fatal(err)
	}
	first := rep.Findings[0]
	for i, e := range b.Findings {
		if e.Check == first.Check {
			b.Findings = append(b.Findings[:i], b.Findings[i+1:]...)
			break
		}
	}
	shorter := filepath.Join(dir, "shorter.yaml")
	if err := report.WriteBaseline(shorter, b); err != nil {
		t.Fatal(err)
	}
	r := admin(t, "diagnose", "-o", "json", "--baseline", shorter)
	newOnes := 0
	for _, f := range r.report(t).Findings {
		if !f.Baselined {
			newOnes++
		}
	}
	if r.code != report.ExitGateFailed || newOnes == 0 {
		t.Errorf("a finding missing from the baseline: exit %d, %d new", r.code, newOnes)
	}
	assertCleanFailure(t, admin(t, "diagnose", "--baseline", filepath.Join(dir, "absent.yaml")), "cannot read the baseline")
}

func TestObjectFocus(t *testing.T) {
	r := admin(t, "diagnose", "-o", "json", "--fail-on", "none", "-n", "shop", "--object", "pod/cart-6d8f7b9c4-x2k9p")
	rep := r.report(t)
	if len(rep.Findings) == 0 {
		t.Fatalf("no findings about the crash-looping cart pod: %s", r.stderr)
	}
	for _, f := range rep.Findings {
		related := false
		for _, o := range f.Objects {
			if (o.Kind == "Deployment" && o.Name == "cart") || (o.Kind == "Pod" && o.Name == "cart-6d8f7b9c4-x2k9p") || o.Kind == "Node" {
				related = true
			}
		}
		if !related {
			t.Errorf("finding %s about %v is not about the pod, its owner or its node", f.Check, f.Objects)
		}
	}
	// The pod's crash loop is a finding of its own, in the incident of its Deployment's outage.
	linked := false
	for _, inc := range rep.Incidents {
		var checks []string
		for _, id := range inc.Members() {
			for _, f := range rep.Findings {
				if f.ID == id {
					checks = append(checks, f.Check)
				}
			}
		}
		linked = linked || (slices.Contains(checks, "pod-crashloop") && slices.Contains(checks, "deployment-unavailable"))
	}
	if !linked {
		t.Errorf("the cart deployment's outage and its pods' crash loop are not one incident: %v %+v", checksIn(rep), rep.Incidents)
	}
	assertCleanFailure(t, admin(t, "diagnose", "--object", "widget/x"), `unknown type "widget" (e.g. pod, deployment,`)
	assertCleanFailure(t, admin(t, "diagnose", "--object", "deploymnt/cart"), `invalid --object "deploymnt/cart": unknown type "deploymnt" (did you mean "deployment"?)`)
	assertCleanFailure(t, admin(t, "diagnose", "--object", "cart"), "want TYPE/NAME")
}

// TestGateFormatsOnTheCluster runs the gate in every machine format against the scenario: the
// exit code does not depend on the format, SARIF passes its schema, JUnit has a failure per
// failing object, and the Markdown checklist an item per finding.
func TestGateFormatsOnTheCluster(t *testing.T) {
	reference := admin(t, "diagnose", "-o", "json").report(t)
	failing := 0
	for _, f := range reference.Findings {
		if f.Severity.AtLeast(check.High) {
			failing += max(1, len(f.Objects))
		}
	}

	sarifRun := admin(t, "diagnose", "-o", "sarif")
	if sarifRun.code != report.ExitGateFailed {
		t.Errorf("-o sarif: exit %d", sarifRun.code)
	}
	doc, err := sarif.FromString(sarifRun.stdout)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(); err != nil {
		t.Errorf("SARIF output fails the 2.1.0 schema: %v", err)
	}
	if len(doc.Runs) != 1 || len(doc.Runs[0].Results) != len(reference.Findings) {
		t.Errorf("SARIF results: %d, want %d", len(doc.Runs[0].Results), len(reference.Findings))
	}

	junitRun := admin(t, "diagnose", "-o", "junit")
	var suites struct {
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
	}
	if err := xml.Unmarshal([]byte(junitRun.stdout), &suites); err != nil {
		t.Fatalf("-o junit is not XML: %v", err)
	}
	if junitRun.code != report.ExitGateFailed || suites.Failures != failing || suites.Skipped != len(reference.NotEvaluated) {
		t.Errorf("-o junit: exit %d, %d failures (want %d), %d skipped (want %d)", junitRun.code, suites.Failures, failing,
			suites.Skipped, len(reference.NotEvaluated))
	}
	if r := admin(t, "diagnose", "-o", "junit", "--fail-on", "none"); r.code != report.ExitIncomplete || strings.Contains(r.stdout, "<failure") {
		t.Errorf("-o junit --fail-on none: exit %d, failures present: %v", r.code, strings.Contains(r.stdout, "<failure"))
	}

	metrics := admin(t, "diagnose", "-o", "prometheus")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(metrics.stdout))
	if err != nil || metrics.code != report.ExitGateFailed {
		t.Fatalf("-o prometheus: exit %d, %v", metrics.code, err)
	}
	bySeverity := map[string]float64{}
	for _, m := range families["alertmend_findings_by_severity"].GetMetric() {
		bySeverity[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	summary := reference.Summary
	if bySeverity["critical"] != float64(summary.Critical) || bySeverity["high"] != float64(summary.High) || bySeverity["low"] != float64(summary.Low) ||
		len(families["alertmend_check_not_evaluated"].GetMetric()) != summary.NotEvaluated-summary.NotApplicable ||
		len(families["alertmend_check_not_applicable"].GetMetric()) != summary.NotApplicable {
		t.Errorf("-o prometheus: by severity %v, %d not evaluated; the report says %+v", bySeverity,
			len(families["alertmend_check_not_evaluated"].GetMetric()), summary)
	}

	md := admin(t, "diagnose", "-o", "markdown")
	if md.code != report.ExitGateFailed || strings.Count(md.stdout, "\n- [ ] ") != len(reference.Findings) || strings.Contains(md.stdout, "\x1b") {
		t.Errorf("-o markdown: exit %d, %d items, want %d", md.code, strings.Count(md.stdout, "\n- [ ] "), len(reference.Findings))
	}
}

// Every machine format gives every exit code, and stdout holds a whole document of that format,
// or nothing when the tool could not do its job.
func TestEveryMachineFormatExitCode(t *testing.T) {
	dir := t.TempDir()
	manifest := writeFile(t, dir, "checkout.yaml", checkoutManifest)
	cases := []struct {
		code int
		args []string
	}{
		// memory-limit-missing is medium.
		{report.ExitOK, []string{"-f", manifest, "--checks", "memory-limit-missing", "--fail-on", "high"}},
		{report.ExitGateFailed, []string{"-f", manifest, "--checks", "memory-limit-missing", "--fail-on", "medium"}},
		{report.ExitError, []string{"-f", filepath.Join(dir, "absent.yaml")}},
		// pod-crashloop judges live status: not evaluated on manifests.
		{report.ExitIncomplete, []string{"-f", manifest, "--checks", "memory-limit-missing,pod-crashloop", "--fail-on", "high"}},
	}
	wellFormed := map[string]func(string) error{
		"json": func(out string) error {
			var r report.Report
			return json.Unmarshal([]byte(out), &r)
		},
		"yaml": func(out string) error {
			var r report.Report
			return sigsyaml.UnmarshalStrict([]byte(out), &r)
		},
		"sarif": func(out string) error {
			doc, err := sarif.FromString(out)
			if err != nil {
				return err
			}
			return doc.Validate()
		},
		"junit": func(out string) error {
			var suites struct{}
			return xml.Unmarshal([]byte(out), &suites)
		},
		"prometheus": func(out string) error {
			parser := expfmt.NewTextParser(model.UTF8Validation)
			families, err := parser.TextToMetricFamilies(strings.NewReader(out))
			if err == nil && families["alertmend_checks_run"] == nil {
				err = fmt.Errorf("no alertmend_checks_run in %.200q", out)
			}
			return err
		},
		"markdown": func(out string) error {
			if !strings.HasPrefix(out, "#") {
				return fmt.Errorf("no heading: %.80q", out)
			}
			return nil
		},
	}
	for _, format := range slices.Sorted(maps.Keys(wellFormed)) {
		for _, tc := range cases {
			r := run(t, testEnv{}, append([]string{"diagnose", "-o", format}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("-o %s %v: exit %d, want %d (stderr %s)", format, tc.args, r.code, tc.code, r.stderr)
				continue
			}
			if tc.code == report.ExitError {
				if r.stdout != "" {
					t.Errorf("-o %s: exit 2 with something on stdout: %.200q", format, r.stdout)
				}
				continue
			}
			if err := wellFormed[format](r.stdout); err != nil {
				t.Errorf("-o %s %v: not a whole document: %v", format, tc.args, err)
			}
			if strings.Contains(r.stdout, "\x1b") {
				t.Errorf("-o %s: colour codes in a machine format", format)
			}
		}
	}
}

// For manifests, SARIF results and the JSON report point at the file and line of each object.
func TestManifestFindingsPointAtFileAndLine(t *testing.T) {
	dir := t.TempDir()
	service := "apiVersion: v1\nkind: Service\nmetadata: {name: checkout, namespace: shop}\nspec:\n  selector: {app: checkout}\n  ports: [{port: 80}]\n---\n"
	manifest := writeFile(t, dir, "shop.yaml", service+checkoutManifest)
	deploymentLine := strings.Count(service, "\n") + 1

	r := run(t, testEnv{}, "diagnose", "-f", manifest, "--checks", "memory-limit-missing", "-o", "sarif")
	doc, err := sarif.FromString(r.stdout)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 1 || len(doc.Runs[0].Results) != 1 {
		t.Fatalf("want one result, got %s", r.stdout)
	}
	var located []string
	for _, l := range doc.Runs[0].Results[0].Locations {
		if p := l.PhysicalLocation; p != nil && p.ArtifactLocation != nil && p.ArtifactLocation.URI != nil && p.Region != nil && p.Region.StartLine != nil {
			located = append(located, fmt.Sprintf("%s:%d", *p.ArtifactLocation.URI, *p.Region.StartLine))
		}
	}
	if want := fmt.Sprintf("file://%s:%d", filepath.ToSlash(manifest), deploymentLine); !slices.Equal(located, []string{want}) {
		t.Errorf("SARIF locations %q, want %q", located, want)
	}

	rep := run(t, testEnv{}, "diagnose", "-f", manifest, "--checks", "memory-limit-missing", "-o", "json").report(t)
	if len(rep.Findings) != 1 || len(rep.Findings[0].Locations) != 1 ||
		rep.Findings[0].Locations[0].File != manifest || rep.Findings[0].Locations[0].Line != deploymentLine {
		t.Errorf("JSON locations: %+v", rep.Findings)
	}
}
