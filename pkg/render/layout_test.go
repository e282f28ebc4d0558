package render

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// ansiPattern matches the colour codes lipgloss writes.
var ansiPattern = regexp.MustCompile("\x1b\\[[0-9;]*m")

// demoReport is the report `make demo` prints, as JSON: a realistic incident with long
// messages, several folded findings, YAML fixes and not-evaluated reasons.
func demoReport(t *testing.T) *report.Report {
	t.Helper()
	data, err := os.ReadFile("testdata/demo.report.json")
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// The pretty report is laid out for the terminal's width: at 80 and 120 columns it matches
// its golden file, and at every width no line is wider than the terminal.
func TestPrettyFitsTheTerminal(t *testing.T) {
	for _, width := range []int{80, 120} {
		out := renderBytes(t, demoReport(t), Pretty, Options{Width: width})
		assertGolden(t, fmt.Sprintf("demo.pretty.%d.golden", width), out)
	}
	for _, width := range []int{80, 100, 120, 160} {
		for name, r := range map[string]*report.Report{"demo": demoReport(t), "sample": sampleReport()} {
			for i, line := range strings.Split(string(renderBytes(t, r, Pretty, Options{Width: width})), "\n") {
				if w := runewidth.StringWidth(line); w > width {
					t.Errorf("%s report at %d columns: line %d is %d wide: %q", name, width, i+1, w, line)
				}
			}
		}
	}
	// Colour changes nothing of the layout.
	plainOut := renderBytes(t, demoReport(t), Pretty, Options{Width: 80})
	coloured := renderBytes(t, demoReport(t), Pretty, Options{Width: 80, Color: true})
	if stripped := ansiPattern.ReplaceAllString(string(coloured), ""); stripped != string(plainOut) {
		t.Error("the coloured report is laid out differently from the plain one")
	}
}

// -o wide is one line a finding, with its age and the start of its first evidence line.
func TestWideIsOneLineAFinding(t *testing.T) {
	r := demoReport(t)
	began := r.Metadata.GeneratedAt.Add(-13 * time.Minute)
	r.Findings[0].Since = &began
	out := string(renderBytes(t, r, Wide, Options{}))
	lines := strings.Split(out, "\n")
	if fields := strings.Fields(lines[0]); !slices.Equal(fields, []string{"SEVERITY", "CATEGORY", "NAMESPACE", "CHECK", "OBJECT", "AGE", "MESSAGE", "EVIDENCE"}) {
		t.Errorf("header %q", lines[0])
	}
	for i, f := range r.Findings {
		row := lines[i+1]
		if !strings.Contains(row, f.Check) || !strings.Contains(row, oneLine(f.Message)) {
			t.Errorf("row %d %q is not finding %s on one line", i+1, row, f.Check)
		}
		if len(f.Evidence) > 0 && runewidth.StringWidth(f.Evidence[0]) > evidenceColumn && !strings.Contains(row, "…") {
			t.Errorf("row %d shows a long evidence line uncut: %q", i+1, row)
		}
	}
	if !strings.Contains(lines[1], " 13m ") {
		t.Errorf("first row has no age 13m: %q", lines[1])
	}
	assertGolden(t, "demo.wide.golden", []byte(out))
}

// A long report ends with its critical and high findings, one line each, so the last screen is
// the most urgent; a short one does not repeat itself.
func TestPrettyEndsWithTheMostUrgent(t *testing.T) {
	r := demoReport(t)
	out := string(renderBytes(t, r, Pretty, Options{Width: 80}))
	_, tail, ok := strings.Cut(out, "\nMOST URGENT")
	if !ok {
		t.Fatal("no MOST URGENT section")
	}
	lines := strings.Split(strings.TrimSpace(tail), "\n")
	urgent := 0
	for _, f := range r.Findings {
		if f.Severity.AtLeast(check.High) {
			urgent++
		}
	}
	shown := min(urgent, mostUrgentLines)
	for i, f := range r.Findings[:shown] {
		line := lines[1+i]
		if !strings.HasPrefix(line, "  "+string(f.Severity)) || !strings.Contains(line, truncate(f.Objects[0].String(), 20)[:10]) {
			t.Errorf("line %d %q is not %s %s", i, line, f.Severity, f.Objects[0])
		}
	}
	if urgent > mostUrgentLines && !strings.Contains(tail, fmt.Sprintf("and %d more above", urgent-mostUrgentLines)) {
		t.Error("the cut summary does not say how many more are above")
	}

	short := sampleReport()
	if out := string(renderBytes(t, short, Pretty, Options{})); strings.Contains(out, "MOST URGENT") {
		t.Errorf("a report of %d findings repeats them at its end", len(short.Findings))
	}
}

// --min-severity lists only the findings at or above it; the summary says how many it hid.
func TestMinSeverityHidesAndSays(t *testing.T) {
	r := demoReport(t)
	shown := r.AtOrAbove(check.High)
	for _, f := range shown.Findings {
		if !f.Severity.AtLeast(check.High) {
			t.Errorf("%s %s listed under --min-severity high", f.Check, f.Severity)
		}
	}
	hidden := len(r.Findings) - len(shown.Findings)
	if hidden == 0 || shown.Summary.NotShown != hidden || shown.Summary.Low != r.Summary.Low {
		t.Errorf("summary %+v: want every finding counted and %d not shown", shown.Summary, hidden)
	}
	for _, f := range []Format{Pretty, Table} {
		out := string(renderBytes(t, shown, f, Options{}))
		if want := fmt.Sprintf("%d below high not shown (--min-severity)", hidden); !strings.Contains(out, want) {
			t.Errorf("%s output does not say %q", f, want)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(renderBytes(t, shown, JSON, Options{}), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["metadata"].(map[string]any)["minSeverity"] != "high" || doc["summary"].(map[string]any)["notShown"] != float64(hidden) {
		t.Errorf("JSON does not record what was hidden: %v %v", doc["metadata"], doc["summary"])
	}
}

// A command too long for its line is broken only between words outside quotes, with a
// backslash, so that the lines paste as the same command.
func TestCommandLinesPasteAsTheCommand(t *testing.T) {
	commands := []string{
		`kubectl get events -A --field-selector involvedObject.kind=Node,involvedObject.name=node-b`,
		`kubectl patch deployment -n shop cart --type merge -p '{"spec": {"template": {"spec": {"containers": [{"name": "app"}]}}}}'`,
		`kubectl annotate pod -n shop cart-1 "alertmend.io/ignore=the reason given by the owner of the pod"`,
		`kubectl logs -n shop cart-1 -c app --previous`,
	}
	for _, command := range commands {
		for _, width := range []int{30, 50, 72} {
			lines := commandLines(command, width)
			joined := ""
			for i, line := range lines {
				if i < len(lines)-1 {
					if !strings.HasSuffix(line, " \\") {
						t.Errorf("%q at %d: line %q is broken without a continuation", command, width, line)
					}
					line = strings.TrimSuffix(line, " \\")
				}
				if i > 0 {
					line = " " + strings.TrimPrefix(line, "    ")
				}
				joined += line
			}
			if joined != command {
				t.Errorf("at %d the lines %q paste as %q, not %q", width, lines, joined, command)
			}
			if len(lines) > 1 && strings.Count(lines[0], "'")%2 == 1 {
				t.Errorf("%q broken inside quotes: %q", command, lines)
			}
		}
	}
	if lines := commandLines("# on the node: journalctl -u kubelet and look for the last errors of the day", 40); len(lines) < 2 ||
		!strings.HasPrefix(lines[1], "# ") {
		t.Errorf("a long comment is not filled as comment lines: %q", lines)
	}
}

// A command whose trailing comment makes it too long gets the comment on a line above, since a
// backslash cannot continue a comment.
func TestTrailingCommentMovesAbove(t *testing.T) {
	r := sampleReport()
	r.Findings[0].Fix = []string{"kubectl rollout undo -n shop deployment/cart # only if a recent rollout caused it, see the history first"}
	out := string(renderBytes(t, r, Pretty, Options{Width: 80}))
	want := "      # only if a recent rollout caused it, see the history first\n      $ kubectl rollout undo -n shop deployment/cart\n"
	if !strings.Contains(out, want) {
		t.Errorf("output does not put the comment above the command:\n%s", out)
	}
}

func TestFillNeverExceedsWidth(t *testing.T) {
	text := "a reason naming pods/http:node-exporter-x7k2p:9100/proxy/metrics/and/a/very/long/path/that/has/no/spaces at all"
	for _, width := range []int{10, 25, 40} {
		for _, line := range Fill(text, width) {
			if runewidth.StringWidth(line) > width {
				t.Errorf("fill at %d: %q", width, line)
			}
		}
	}
}

// The one-line summary says what scope left out, as well as what --min-severity hid.
func TestSummaryLineSaysWhatWasLeftOut(t *testing.T) {
	r := sampleReport()
	r.Summary.OutOfScope = 4
	shown := r.AtOrAbove(check.Critical)
	line := SummaryLine(shown)
	for _, want := range []string{"4 outside the run's scope", "2 below critical not shown (--min-severity)"} {
		if !strings.Contains(line, want) {
			t.Errorf("summary %q lacks %q", line, want)
		}
	}
}

// A namespace run's dozens of checks that do not apply for one reason are one table row; the
// checks that could not see stay a row each, since each makes the run incomplete.
func TestTableGroupsNotApplicableByReason(t *testing.T) {
	r := sampleReport()
	r.NotEvaluated = nil
	for _, id := range []string{"a", "b", "c", "d"} {
		r.NotEvaluated = append(r.NotEvaluated,
			report.NotEvaluated{Check: "scoped-" + id, Reason: "needs objects beyond namespace shop", Code: report.NotApplicable},
			report.NotEvaluated{Check: "blind-" + id, Reason: "forbidden", Code: report.CouldNotSee})
	}
	out := string(renderBytes(t, r, Table, Options{}))
	if !strings.Contains(out, "4 checks         needs objects beyond namespace shop") || strings.Contains(out, "scoped-a") {
		t.Errorf("not-applicable checks with one reason are not one row:\n%s", out)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		if !strings.Contains(out, "blind-"+id) {
			t.Errorf("could-not-see check blind-%s is not listed:\n%s", id, out)
		}
	}
}
