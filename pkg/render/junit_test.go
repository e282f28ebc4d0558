package render

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// parseJUnit reads the output back as a CI would, and checks that every count on the suites and
// the root is what the test cases add up to.
func parseJUnit(t *testing.T, out []byte) junitTestSuites {
	t.Helper()
	var root junitTestSuites
	if err := xml.Unmarshal(out, &root); err != nil {
		t.Fatalf("output is not XML: %v\n%s", err, out)
	}
	var tests, failures, skipped int
	for _, s := range root.Suites {
		var f, sk int
		for _, tc := range s.Cases {
			if tc.Failure != nil {
				f++
			}
			if tc.Skipped != nil {
				sk++
			}
		}
		if s.Tests != len(s.Cases) || s.Failures != f || s.Skipped != sk {
			t.Errorf("suite %s says tests=%d failures=%d skipped=%d, has %d, %d, %d", s.Name, s.Tests, s.Failures, s.Skipped, len(s.Cases), f, sk)
		}
		tests, failures, skipped = tests+len(s.Cases), failures+f, skipped+sk
	}
	if root.Tests != tests || root.Failures != failures || root.Skipped != skipped {
		t.Errorf("root says tests=%d failures=%d skipped=%d, suites add up to %d, %d, %d", root.Tests, root.Failures, root.Skipped, tests, failures, skipped)
	}
	return root
}

func TestJUnitCounts(t *testing.T) {
	allBaselined := triageReport()
	for i := range allBaselined.Findings {
		allBaselined.Findings[i].Baselined = true
	}
	// triageReport has test cases for: pod-crashloop (critical, 1 object), service-no-endpoints
	// (high, 2 objects), apiserver-latency (medium, none), no-memory-limit (low, baselined),
	// configmap-note (info), rbac-wildcard (suppressed) and two checks not evaluated.
	cases := []struct {
		name                     string
		report                   *report.Report
		failOn                   check.Severity
		tests, failures, skipped int
	}{
		{"fail on high", triageReport(), check.High, 9, 3, 3},
		{"no gate", triageReport(), "", 9, 0, 3},
		{"fail on low, baselined low passes", triageReport(), check.Low, 9, 4, 3},
		{"fail on info", triageReport(), check.Info, 9, 5, 3},
		{"all baselined", allBaselined, check.Info, 9, 0, 3},
		{"sample", sampleReport(), check.High, 6, 3, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := triageOptions()
			opts.FailOn = c.failOn
			root := parseJUnit(t, renderBytes(t, c.report, JUnit, opts))
			if root.Tests != c.tests || root.Failures != c.failures || root.Skipped != c.skipped {
				t.Errorf("tests=%d failures=%d skipped=%d, want %d, %d, %d", root.Tests, root.Failures, root.Skipped, c.tests, c.failures, c.skipped)
			}
			// CI's verdict and the exit code must agree.
			if gateFailed := c.report.ExitCode(c.failOn) == report.ExitGateFailed; gateFailed != (root.Failures > 0) {
				t.Errorf("exit code %d but %d failures", c.report.ExitCode(c.failOn), root.Failures)
			}
		})
	}
}

func TestJUnitMapping(t *testing.T) {
	root := parseJUnit(t, renderBytes(t, triageReport(), JUnit, triageOptions()))
	if root.Name != "kubectl-alertmend" {
		t.Errorf("root name %q", root.Name)
	}
	var suites []string
	byName := map[string]junitTestCase{}
	for _, s := range root.Suites {
		suites = append(suites, s.Name)
		for _, tc := range s.Cases {
			byName[tc.ClassName+" "+tc.Name] = tc
		}
	}
	// Categories in the catalog's order; not-evaluated checks filed under their category.
	if got := strings.Join(suites, ","); got != "apiserver,resources,workloads,dns,rbac" {
		t.Errorf("suites %s", got)
	}

	crash, ok := byName["pod-crashloop shop/deployment/cart"]
	if !ok || crash.Failure == nil || crash.Failure.Type != "critical" ||
		crash.Failure.Message != "2 pods of deployment shop/cart are crash looping (container app)" {
		t.Fatalf("pod-crashloop: %+v", crash)
	}
	for _, want := range []string{"Containers are crash looping", "evidence:", "kubectl logs -n shop deployment/cart -c app --previous"} {
		if !strings.Contains(crash.Failure.Body, want) {
			t.Errorf("failure body lacks %q:\n%s", want, crash.Failure.Body)
		}
	}
	if strings.ContainsRune(crash.Failure.Body, 0x1b) || !strings.Contains(crash.Failure.Body, `\x1b[31m`) {
		t.Errorf("failure body does not escape control characters:\n%q", crash.Failure.Body)
	}

	if tc := byName["apiserver-latency cluster"]; tc.Failure != nil || tc.SystemOut == nil || !strings.Contains(tc.SystemOut.Text, "severity: medium") {
		t.Errorf("a finding below the gate about no object: %+v", tc)
	}
	if tc := byName["no-memory-limit tools/pod/debug"]; tc.Failure != nil || tc.SystemOut == nil ||
		!strings.Contains(tc.SystemOut.Text, "baselined") || !strings.Contains(tc.SystemOut.Text, "memory: 256Mi") {
		t.Errorf("baselined finding: %+v", tc)
	}
	if tc := byName["node-pressure not evaluated"]; tc.Skipped == nil || !strings.HasPrefix(tc.Skipped.Message, "cannot read nodes") {
		t.Errorf("not evaluated: %+v", tc)
	}
	if tc := byName["rbac-wildcard clusterrolebinding/ops-admin"]; tc.Skipped == nil ||
		tc.Skipped.Message != "suppressed by annotation on clusterrolebinding ops-admin: break-glass account <reviewed>" {
		t.Errorf("suppressed: %+v", tc)
	}
}

// Text XML 1.0 cannot carry (invalid UTF-8, U+FFFE, control characters) must not make the
// report unreadable for the CI.
func TestJUnitStaysWellFormed(t *testing.T) {
	r := triageReport()
	r.Findings[0].Message += " \xff\xfe \ufffe \x00 ]]> end"
	r.Findings[0].Evidence = append(r.Findings[0].Evidence, "\x01]]>\x02")
	r.Findings[4].Message += " ]]><x/>"
	parseJUnit(t, renderBytes(t, r, JUnit, triageOptions()))
	opts := triageOptions()
	opts.FailOn = ""
	parseJUnit(t, renderBytes(t, r, JUnit, opts))
}
