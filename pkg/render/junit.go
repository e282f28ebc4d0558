package render

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// The JUnit elements, as CI systems (GitLab, Jenkins, GitHub test reporters) read them.
type junitTestSuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Suites   []junitTestSuite `xml:"testsuite"`
}

type junitTestSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

// junitText is the text of an element as CDATA, which keeps a multi-line body readable where
// character data would spell out every newline.
type junitText struct {
	Text string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// noObjectsCase names the test case of a finding about no object in particular.
const noObjectsCase = "cluster"

// writeJUnit renders r as JUnit XML: a suite per category, a test case per check and object.
// A finding fails its test cases when it is at or above the gate and not in the baseline, so
// the CI's verdict matches the exit code. Not-evaluated checks, and suppressed findings when
// shown, are skipped test cases. Cluster text is escaped as for a terminal: XML cannot hold
// most control characters, and CI pages show these reports to people.
func writeJUnit(w io.Writer, r *report.Report, opts Options) error {
	safe := terminalSafeReport(r)
	categoryOf := map[string]check.Category{}
	for _, m := range opts.Catalog {
		categoryOf[m.ID] = m.Category
	}

	suites := map[check.Category]*junitTestSuite{}
	suiteFor := func(c check.Category) *junitTestSuite {
		if c == "" {
			c = "other"
		}
		s, ok := suites[c]
		if !ok {
			s = &junitTestSuite{Name: string(c)}
			suites[c] = s
		}
		return s
	}

	for _, f := range safe.Findings {
		suite := suiteFor(f.Category)
		failing := opts.FailOn != "" && !f.Baselined && f.Severity.AtLeast(opts.FailOn)
		for _, name := range junitCaseNames(f) {
			tc := junitTestCase{ClassName: f.Check, Name: name}
			if failing {
				tc.Failure = &junitFailure{Message: f.Message, Type: string(f.Severity), Body: xmlChars(junitFailureBody(f))}
				suite.Failures++
			} else {
				tc.SystemOut = &junitText{xmlChars(junitPassOutput(f))}
			}
			suite.Cases = append(suite.Cases, tc)
		}
	}
	for _, s := range safe.Suppressed {
		suite := suiteFor(s.Finding.Category)
		message := "suppressed by " + s.By
		if s.Reason != "" {
			message += ": " + s.Reason
		}
		for _, name := range junitCaseNames(s.Finding) {
			suite.Cases = append(suite.Cases, junitTestCase{ClassName: s.Finding.Check, Name: name,
				Skipped: &junitSkipped{Message: message}, SystemOut: &junitText{xmlChars(junitPassOutput(s.Finding))}})
			suite.Skipped++
		}
	}
	for _, ne := range safe.NotEvaluated {
		suite := suiteFor(categoryOf[ne.Check])
		name := "not evaluated"
		if !ne.Incomplete() {
			name = "not applicable"
		}
		suite.Cases = append(suite.Cases, junitTestCase{ClassName: ne.Check, Name: name,
			Skipped: &junitSkipped{Message: ne.Reason}})
		suite.Skipped++
	}

	root := junitTestSuites{Name: toolName}
	properties := []junitProperty{{Name: "source", Value: describeSource(safe)}}
	if opts.ToolVersion != "" {
		properties = append(properties, junitProperty{Name: "version", Value: opts.ToolVersion})
	}
	for _, c := range junitSuiteOrder(suites) {
		s := suites[c]
		s.Tests = len(s.Cases)
		s.Properties = properties
		root.Tests += s.Tests
		root.Failures += s.Failures
		root.Skipped += s.Skipped
		root.Suites = append(root.Suites, *s)
	}

	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitCaseNames gives a finding one test case per object, so a CI history tracks each object.
func junitCaseNames(f check.Finding) []string {
	if len(f.Objects) == 0 {
		return []string{noObjectsCase}
	}
	names := make([]string, 0, len(f.Objects))
	for _, o := range f.Objects {
		names = append(names, o.String())
	}
	return names
}

// junitSuiteOrder lists categories in the catalog's order, any others after them by name.
func junitSuiteOrder(suites map[check.Category]*junitTestSuite) []check.Category {
	var order []check.Category
	for _, c := range check.Categories() {
		if _, ok := suites[c]; ok {
			order = append(order, c)
		}
	}
	var others []check.Category
	for c := range suites {
		if !slices.Contains(order, c) {
			others = append(others, c)
		}
	}
	slices.Sort(others)
	return append(order, others...)
}

func junitFailureBody(f check.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)\n%s\n", f.Title, f.Severity, f.Message)
	junitDetails(&b, f)
	return b.String()
}

func junitPassOutput(f check.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "severity: %s\n%s\n", f.Severity, f.Message)
	if f.Baselined {
		b.WriteString("baselined: recorded in the --baseline file, so it does not fail the gate\n")
	}
	junitDetails(&b, f)
	return b.String()
}

func junitDetails(b *strings.Builder, f check.Finding) {
	if len(f.Evidence) > 0 {
		b.WriteString("evidence:\n")
		for _, e := range f.Evidence {
			b.WriteString("  - " + e + "\n")
		}
	}
	for _, origin := range f.Locations {
		b.WriteString("defined in: " + TerminalSafe(origin.String()) + "\n")
	}
	if f.Remediation != "" {
		b.WriteString("remediation: " + f.Remediation + "\n")
	}
	if len(f.Fix) > 0 {
		b.WriteString("fix:\n")
		for _, fix := range f.Fix {
			for _, line := range strings.Split(fix, "\n") {
				b.WriteString("  " + line + "\n")
			}
		}
	}
}

// xmlChars replaces what XML 1.0 cannot hold with U+FFFD. The encoder does so for attributes
// and character data, but writes CDATA as it is.
func xmlChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t', r == '\n', r == '\r',
			r >= 0x20 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
			return r
		}
		return utf8.RuneError
	}, s)
}
