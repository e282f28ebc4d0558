package render

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// palette holds the styles of the pretty report. With colour off every style is plain text, so
// the layout is identical either way.
type palette struct {
	severity map[check.Severity]lipgloss.Style
	title    lipgloss.Style
	dim      lipgloss.Style
	label    lipgloss.Style
	command  lipgloss.Style
	ok       lipgloss.Style
}

func newPalette(w io.Writer, color bool) palette {
	r := lipgloss.NewRenderer(w)
	// Never let lipgloss query the terminal: the answer is decided by the caller.
	r.SetHasDarkBackground(true)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	base := r.NewStyle()
	return palette{
		severity: map[check.Severity]lipgloss.Style{
			check.Critical: base.Bold(true).Foreground(lipgloss.Color("196")),
			check.High:     base.Bold(true).Foreground(lipgloss.Color("208")),
			check.Medium:   base.Bold(true).Foreground(lipgloss.Color("220")),
			check.Low:      base.Bold(true).Foreground(lipgloss.Color("39")),
			check.Info:     base.Bold(true).Foreground(lipgloss.Color("245")),
		},
		title:   base.Bold(true),
		dim:     base.Foreground(lipgloss.Color("245")),
		label:   base.Foreground(lipgloss.Color("245")).Italic(true),
		command: base.Foreground(lipgloss.Color("80")),
		ok:      base.Bold(true).Foreground(lipgloss.Color("42")),
	}
}

func writePretty(w io.Writer, r *report.Report, opts Options) error {
	p := newPalette(w, opts.Color)
	width := layoutWidth(opts)
	now := reportTime(r)
	var b strings.Builder

	// The heading breaks between its parts, never inside one.
	line := p.title.Render("kubectl alertmend")
	for _, part := range describeSourceParts(r) {
		if lipgloss.Width(line)+3+lipgloss.Width(part) > width {
			b.WriteString(line + "\n")
			line = " " + p.dim.Render(part)
			continue
		}
		line += p.dim.Render(" · " + part)
	}
	b.WriteString(line + "\n")
	for _, note := range r.Metadata.Notes {
		writeFilled(&b, p.dim.Render(" ○ "), "   ", note, width, p.dim.Render)
	}

	views := incidentViews(r)
	writePrettyIncidents(&b, p, views, width, now)
	inIncident := inIncidents(views)
	for _, sev := range check.Severities() {
		var group []check.Finding
		for _, f := range r.Findings {
			if _, ok := inIncident[f.ID]; !ok && f.Severity == sev {
				group = append(group, f)
			}
		}
		if len(group) == 0 {
			continue
		}
		b.WriteString("\n" + p.severity[sev].Render(strings.ToUpper(string(sev))) + p.dim.Render(fmt.Sprintf("  %d", len(group))) + "\n")
		for _, f := range group {
			writePrettyFinding(&b, p, f, width, now)
		}
	}

	unseen, notApplicable := splitNotEvaluated(r.NotEvaluated)
	writePrettyNotEvaluated(&b, p, "NOT EVALUATED", unseen, width)
	writePrettyNotEvaluated(&b, p, "NOT APPLICABLE", notApplicable, width)

	if len(r.Suppressed) > 0 {
		b.WriteString("\n" + p.title.Render("SUPPRESSED") + p.dim.Render(fmt.Sprintf("  %d", len(r.Suppressed))) + "\n")
		for _, s := range r.Suppressed {
			what := s.Finding.Check
			if len(s.Finding.Objects) > 0 {
				what += " " + s.Finding.Objects[0].String()
			}
			why := s.By
			if s.Reason != "" {
				why += ": " + s.Reason
			}
			writeFilled(&b, "  ○ ", "    ", what+" · "+why, width, p.dim.Render)
		}
	}

	writeMostUrgent(&b, p, r.Findings, width)

	b.WriteString("\n")
	summary := SummaryLine(r)
	hidden := r.Summary.NotShown + r.Summary.NotInIncidents
	switch {
	case len(r.Findings) == 0 && len(unseen) == 0 && hidden == 0:
		done := "by " + check.Plural(r.Summary.ChecksRun, "check", "checks")
		if len(notApplicable) > 0 {
			done += fmt.Sprintf("; %d not applicable here", len(notApplicable))
		}
		writeFilled(&b, p.ok.Render("✔ "), "  ", "No problems found "+done, width, p.ok.Render)
	case len(r.Findings) == 0 && hidden == 0:
		writeFilled(&b, p.title.Render("○ "), "  ", "No problems found, but the diagnosis is incomplete: "+summary, width, p.title.Render)
	default:
		worst := check.Info
		if len(r.Findings) > 0 {
			worst = r.Findings[0].Severity
		}
		writeFilled(&b, p.severity[worst].Render("✖ "), "  ", summary, width, p.severity[worst].Render)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mostUrgentAfter is how many findings a report lists before its critical and high ones are
// repeated at the end: past it they may have scrolled off the screen the reader is left with.
const mostUrgentAfter = 3

// mostUrgentLines caps the closing summary, so that it fits on the last screen itself.
const mostUrgentLines = 10

// writeMostUrgent ends a long report with its critical and high findings, a line each, so the
// last screen is the most urgent one.
func writeMostUrgent(b *strings.Builder, p palette, findings []check.Finding, width int) {
	var urgent []check.Finding
	for _, f := range findings {
		if f.Severity.Rank() <= check.High.Rank() {
			urgent = append(urgent, f)
		}
	}
	if len(urgent) == 0 || len(findings) <= mostUrgentAfter {
		return
	}
	b.WriteString("\n" + p.title.Render("MOST URGENT") + p.dim.Render(fmt.Sprintf("  %d, in detail above", len(urgent))) + "\n")
	shown := urgent[:min(len(urgent), mostUrgentLines)]
	// Two columns, title and object; the object is what the reader acts on, so the title gives
	// way first, and an object takes at most half the line.
	const severityColumn = 12 // "  critical  "
	room := width - severityColumn
	objectColumn := 0
	for _, f := range shown {
		objectColumn = max(objectColumn, min(lipgloss.Width(objectSummary(f)), room/2))
	}
	titleColumn := 0
	for _, f := range shown {
		titleColumn = max(titleColumn, lipgloss.Width(f.Title))
	}
	titleColumn = min(titleColumn, room-objectColumn-2)
	for _, f := range shown {
		severity := fmt.Sprintf("  %-8s  ", f.Severity)
		title := truncate(f.Title, titleColumn)
		title += strings.Repeat(" ", titleColumn-lipgloss.Width(title)+2)
		b.WriteString(p.severity[f.Severity].Render(severity) + p.title.Render(title) + truncate(objectSummary(f), objectColumn) + "\n")
	}
	if more := len(urgent) - len(shown); more > 0 {
		b.WriteString(p.dim.Render(fmt.Sprintf("  … and %d more above", more)) + "\n")
	}
}

// objectSummary is a finding's first object, and how many more it concerns.
func objectSummary(f check.Finding) string {
	if len(f.Objects) == 0 {
		return ""
	}
	object := f.Objects[0].String()
	if len(f.Objects) > 1 {
		object += fmt.Sprintf(" (+%d)", len(f.Objects)-1)
	}
	return object
}

// objectsShown caps a finding's list of objects in the pretty report; the machine formats list
// them all.
const objectsShown = 8

func writePrettyFinding(b *strings.Builder, p palette, f check.Finding, width int, now time.Time) {
	marker := "●"
	if !f.Incident {
		marker = "◆"
	}
	about := f.Check
	if f.Baselined {
		about += " · in the baseline"
	}
	if age := since(f, now); age != "" {
		about += " · since " + age
	}
	heading := "  " + p.severity[f.Severity].Render(marker) + " "
	if lipgloss.Width(heading)+lipgloss.Width(f.Title)+2+lipgloss.Width(about) <= width {
		b.WriteString("\n" + heading + p.title.Render(f.Title) + p.dim.Render("  "+about) + "\n")
	} else {
		b.WriteString("\n")
		writeFilled(b, heading, "    ", f.Title, width, p.title.Render)
		writeFilled(b, "    ", "    ", about, width, p.dim.Render)
	}
	writeFilled(b, "    ", "    ", f.Message, width, plain)
	if len(f.Objects) > 1 {
		names := make([]string, 0, objectsShown)
		for _, o := range f.Objects[:min(len(f.Objects), objectsShown)] {
			names = append(names, o.String())
		}
		list := strings.Join(names, ", ")
		if more := len(f.Objects) - objectsShown; more > 0 {
			list += fmt.Sprintf(" and %d more (-o json lists all)", more)
		}
		writeFilled(b, "    "+p.label.Render("objects")+"  ", strings.Repeat(" ", 13), list, width, plain)
	}
	if len(f.Evidence) > 0 {
		b.WriteString("    " + p.label.Render("evidence") + "\n")
		for _, e := range f.Evidence {
			writeFilled(b, "      "+p.dim.Render("· "), "        ", e, width, plain)
		}
	}
	writeFilled(b, "    "+p.label.Render("fix")+"  ", "         ", f.Remediation, width, plain)
	for _, fix := range f.Fix {
		// A one-line fix is a command to run; a longer one is YAML or a script, shown as a block
		// as it is: its indentation is its meaning.
		if strings.Contains(fix, "\n") {
			for _, line := range blockLines(fix, width-8) {
				b.WriteString("        " + p.command.Render(line) + "\n")
			}
			continue
		}
		writeCommand(b, p, fix, width)
	}
}

// writeCommand writes one fix line: a command behind a prompt, or a comment (advice to follow
// by hand, not to paste) without one. A command too long for a line is broken where the shell
// reads the lines as one; its trailing comment goes on a line of its own above it, because a
// comment cannot be continued.
func writeCommand(b *strings.Builder, p palette, fix string, width int) {
	const indent = "      "
	if strings.HasPrefix(fix, "#") {
		for _, line := range commandLines(fix, width-len(indent)) {
			b.WriteString(indent + p.command.Render(line) + "\n")
		}
		return
	}
	const prompt = "$ "
	command := fix
	if lipgloss.Width(indent+prompt+fix) > width {
		var comment string
		if command, comment = check.SplitComment(fix); comment != "" {
			for _, line := range commandLines(comment, width-len(indent)) {
				b.WriteString(indent + p.command.Render(line) + "\n")
			}
		}
	}
	for i, line := range commandLines(command, width-len(indent)-len(prompt)) {
		lead := indent + prompt
		if i > 0 {
			lead = indent + "  "
		}
		b.WriteString(lead + p.command.Render(line) + "\n")
	}
}

// writePrettyNotEvaluated lists checks that did not judge under title. Checks with the same
// cause are one line: the cause is what the reader acts on.
func writePrettyNotEvaluated(b *strings.Builder, p palette, title string, list []report.NotEvaluated, width int) {
	if len(list) == 0 {
		return
	}
	b.WriteString("\n" + p.title.Render(title) + p.dim.Render(fmt.Sprintf("  %d", len(list))) + "\n")
	var reasons []string
	byReason := map[string][]string{}
	for _, ne := range list {
		if _, seen := byReason[ne.Reason]; !seen {
			reasons = append(reasons, ne.Reason)
		}
		byReason[ne.Reason] = append(byReason[ne.Reason], ne.Check)
	}
	for _, reason := range reasons {
		checks := byReason[reason]
		what := checks[0]
		if len(checks) > 1 {
			what = fmt.Sprintf("%d checks", len(checks))
		}
		// The check's name leads, plain; the reason follows, dim.
		for i, line := range Fill(what+": "+reason, width-4) {
			if i == 0 {
				rest, _ := strings.CutPrefix(line, what)
				b.WriteString("  ○ " + what + p.dim.Render(rest) + "\n")
				continue
			}
			b.WriteString("    " + p.dim.Render(line) + "\n")
		}
		if len(checks) > 1 {
			writeFilled(b, "      ", "      ", strings.Join(checks, ", "), width, p.dim.Render)
		}
	}
}

// plain leaves text as it is, where a style is asked for.
func plain(s ...string) string { return strings.Join(s, " ") }

// reportTime is the moment the report describes: when its snapshot was recorded, for a replay,
// else when it was made. Ages are relative to it, so a replay reads as it did then.
func reportTime(r *report.Report) time.Time {
	if r.Metadata.CollectedAt != nil {
		return *r.Metadata.CollectedAt
	}
	return r.Metadata.GeneratedAt
}

// since is how long ago the finding's problem began, kubectl's way (45s, 13m, 2h, 3d); empty
// when it is not known.
func since(f check.Finding, now time.Time) string {
	if f.Since == nil || now.IsZero() {
		return ""
	}
	return check.Age(*f.Since, now)
}

// describeSourceParts is what the report is about: its source, namespace and checks.
func describeSourceParts(r *report.Report) []string {
	m := r.Metadata
	parts := []string{}
	switch m.Source {
	case "manifests":
		parts = append(parts, "manifests")
	default:
		if m.Context != "" {
			parts = append(parts, "context "+m.Context)
		}
		if m.Server != "" {
			parts = append(parts, m.Server)
		}
	}
	if m.Namespace != "" {
		parts = append(parts, "namespace "+m.Namespace)
	}
	return append(parts, check.Plural(r.Summary.ChecksRun+r.Summary.NotEvaluated, "check", "checks"))
}

// describeSource is describeSourceParts on one line.
func describeSource(r *report.Report) string {
	return strings.Join(describeSourceParts(r), " · ")
}
