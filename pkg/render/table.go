package render

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// NewPlainTable is a kubectl-style table: no borders, left-aligned, upper-case headers.
func NewPlainTable(w io.Writer, header ...string) *tablewriter.Table {
	t := tablewriter.NewTable(&trimWriter{w: w},
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenRows: tw.Off, BetweenColumns: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithConfig(tablewriter.Config{
			Header: tw.CellConfig{
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
				Formatting: tw.CellFormatting{AutoFormat: tw.Off},
				Padding:    tw.CellPadding{Global: tw.Padding{Left: "", Right: "   "}},
			},
			Row: tw.CellConfig{
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
				Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone},
				Padding:    tw.CellPadding{Global: tw.Padding{Left: "", Right: "   "}},
			},
		}),
	)
	t.Header(toAny(header)...)
	return t
}

func toAny(values []string) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}

// evidenceColumn is how much of a finding's first evidence line -o wide shows: enough to
// recognise it; -o pretty has it whole.
const evidenceColumn = 60

func writeTable(w io.Writer, r *report.Report, wide bool) error {
	if len(r.Findings) > 0 {
		header := []string{"SEVERITY", "CHECK", "OBJECT", "MESSAGE"}
		if wide {
			// One line a finding: evidence and fixes are -o pretty's.
			header = []string{"SEVERITY", "CATEGORY", "NAMESPACE", "CHECK", "OBJECT", "AGE", "MESSAGE", "EVIDENCE"}
		}
		// With incidents, a first column groups each root cause with its symptoms.
		inIncident := inIncidents(incidentViews(r))
		if len(inIncident) > 0 {
			header = append([]string{"INCIDENT"}, header...)
		}
		t := NewPlainTable(w, header...)
		now := reportTime(r)
		roots := map[string]bool{}
		for _, inc := range r.Incidents {
			roots[inc.Root] = true
		}
		for _, f := range r.Findings {
			severity := string(f.Severity)
			if f.Baselined {
				severity += " (baseline)"
			}
			row := []string{severity, f.Check, objectSummary(f), f.Message}
			if wide {
				namespace, object := "", ""
				if len(f.Objects) > 0 {
					first := f.Objects[0]
					namespace = first.Namespace
					first.Namespace = ""
					object = first.String()
					if len(f.Objects) > 1 {
						object += fmt.Sprintf(" (+%d)", len(f.Objects)-1)
					}
				}
				age, evidence := since(f, now), ""
				if age == "" {
					age = "-"
				}
				if len(f.Evidence) > 0 {
					evidence = truncate(strings.Join(strings.Fields(f.Evidence[0]), " "), evidenceColumn)
				}
				row = []string{severity, string(f.Category), orDash(namespace), f.Check, object, age, oneLine(f.Message), evidence}
			}
			if len(inIncident) > 0 {
				row = append([]string{incidentCell(inIncident, roots, f)}, row...)
			}
			if err := t.Append(row); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	unseen, notApplicable := splitNotEvaluated(r.NotEvaluated)
	for _, part := range []struct {
		header string
		rows   [][]string
	}{{"NOT EVALUATED", notEvaluatedRows(unseen, false)}, {"NOT APPLICABLE", notEvaluatedRows(notApplicable, true)}} {
		if len(part.rows) == 0 {
			continue
		}
		fmt.Fprintln(w)
		t := NewPlainTable(w, part.header, "REASON")
		for _, row := range part.rows {
			if err := t.Append(row); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(r.Suppressed) > 0 {
		fmt.Fprintln(w)
		t := NewPlainTable(w, "SUPPRESSED", "OBJECT", "BY", "REASON")
		for _, s := range r.Suppressed {
			object := ""
			if len(s.Finding.Objects) > 0 {
				object = s.Finding.Objects[0].String()
			}
			if err := t.Append([]string{s.Finding.Check, object, s.By, s.Reason}); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(r.Findings) > 0 || len(r.NotEvaluated) > 0 || len(r.Suppressed) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, SummaryLine(r))
	return nil
}

// SummaryLine is the one-line result: counts per severity, what was not evaluated, checks run.
func SummaryLine(r *report.Report) string {
	s := r.Summary
	line := severityCounts(s.Critical, s.High, s.Medium, s.Low, s.Info) + " from " + check.Plural(s.ChecksRun, "check", "checks")
	if unseen := s.NotEvaluated - s.NotApplicable; unseen > 0 {
		line += fmt.Sprintf("; %d not evaluated", unseen)
	}
	if s.NotApplicable > 0 {
		line += fmt.Sprintf("; %d not applicable", s.NotApplicable)
	}
	if s.Baselined > 0 {
		line += fmt.Sprintf("; %d in the baseline", s.Baselined)
	}
	if s.Suppressed > 0 {
		line += fmt.Sprintf("; %d suppressed", s.Suppressed)
	}
	if s.OutOfScope > 0 {
		line += fmt.Sprintf("; %d outside the run's scope (-n, -l, --object)", s.OutOfScope)
	}
	if s.NotShown > 0 {
		line += fmt.Sprintf("; %d below %s not shown (--min-severity)", s.NotShown, r.Metadata.MinSeverity)
	}
	if s.NotInIncidents > 0 {
		line += fmt.Sprintf("; %d in no incident not shown (--incidents)", s.NotInIncidents)
	}
	return line
}

// severityCounts reads "1 critical, 0 high, 2 medium, 0 low, 0 info".
func severityCounts(critical, high, medium, low, info int) string {
	return fmt.Sprintf("%d critical, %d high, %d medium, %d low, %d info", critical, high, medium, low, info)
}

// trimWriter drops the padding tablewriter leaves at the end of each line.
type trimWriter struct {
	w       io.Writer
	pending []byte
}

func (t *trimWriter) Write(p []byte) (int, error) {
	t.pending = append(t.pending, p...)
	for {
		i := bytes.IndexByte(t.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := bytes.TrimRight(t.pending[:i], " ")
		if _, err := t.w.Write(append(line, '\n')); err != nil {
			return 0, err
		}
		t.pending = t.pending[i+1:]
	}
}

// splitNotEvaluated separates the checks that could not see from those that do not apply here.
func splitNotEvaluated(all []report.NotEvaluated) (unseen, notApplicable []report.NotEvaluated) {
	for _, ne := range all {
		if ne.Incomplete() {
			unseen = append(unseen, ne)
		} else {
			notApplicable = append(notApplicable, ne)
		}
	}
	return unseen, notApplicable
}

// orDash fills an empty cell the way kubectl does, so columns stay readable.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine joins a text's lines, for a cell that must stay one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// groupedAbove is how many checks with one reason make one row of their own in a table of
// checks that do not apply: a namespace run has dozens with the same reason, and the reader
// needs the reason once (-o json lists every check).
const groupedAbove = 3

// notEvaluatedRows is a table's rows of checks that did not judge. Those that could not see
// are a row each, since each makes the run incomplete; with grouped, checks that share a reason
// beyond groupedAbove are one row.
func notEvaluatedRows(list []report.NotEvaluated, grouped bool) [][]string {
	byReason := map[string]int{}
	for _, ne := range list {
		byReason[ne.Reason]++
	}
	var rows [][]string
	done := map[string]bool{}
	for _, ne := range list {
		n := byReason[ne.Reason]
		switch {
		case !grouped || n <= groupedAbove:
			rows = append(rows, []string{ne.Check, ne.Reason})
		case !done[ne.Reason]:
			done[ne.Reason] = true
			rows = append(rows, []string{fmt.Sprintf("%d checks", n), ne.Reason})
		}
	}
	return rows
}

// incidentCell is a finding's INCIDENT column: its incident's number, marked on the root
// cause; "-" for a finding in none.
func incidentCell(in map[string]int, roots map[string]bool, f check.Finding) string {
	n, ok := in[f.ID]
	switch {
	case !ok:
		return "-"
	case roots[f.ID]:
		return fmt.Sprintf("%d cause", n)
	}
	return fmt.Sprint(n)
}
