package render

import (
	"fmt"
	"io"
	"strings"

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
	var b strings.Builder

	b.WriteString(p.title.Render("kubectl alertmend") + p.dim.Render(" · "+describeSource(r)) + "\n")

	for _, sev := range check.Severities() {
		var group []check.Finding
		for _, f := range r.Findings {
			if f.Severity == sev {
				group = append(group, f)
			}
		}
		if len(group) == 0 {
			continue
		}
		b.WriteString("\n" + p.severity[sev].Render(strings.ToUpper(string(sev))) + p.dim.Render(fmt.Sprintf("  %d", len(group))) + "\n")
		for _, f := range group {
			writePrettyFinding(&b, p, f)
		}
	}

	unseen, notApplicable := splitNotEvaluated(r.NotEvaluated)
	writePrettyNotEvaluated(&b, p, "NOT EVALUATED", unseen)
	writePrettyNotEvaluated(&b, p, "NOT APPLICABLE", notApplicable)

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
			b.WriteString("  ○ " + what + p.dim.Render(" · "+why) + "\n")
		}
	}

	b.WriteString("\n")
	switch {
	case len(r.Findings) == 0 && len(unseen) == 0:
		done := " by " + check.Plural(r.Summary.ChecksRun, "check", "checks")
		if len(notApplicable) > 0 {
			done += fmt.Sprintf("; %d not applicable here", len(notApplicable))
		}
		b.WriteString(p.ok.Render("✔ No problems found") + p.dim.Render(done) + "\n")
	case len(r.Findings) == 0:
		b.WriteString(p.title.Render("○ No problems found, but the diagnosis is incomplete") + p.dim.Render(": "+SummaryLine(r)) + "\n")
	default:
		worst := r.Findings[0].Severity
		b.WriteString(p.severity[worst].Render("✖ "+SummaryLine(r)) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writePrettyFinding(b *strings.Builder, p palette, f check.Finding) {
	marker := "●"
	if !f.Incident {
		marker = "◆"
	}
	known := ""
	if f.Baselined {
		known = " · in the baseline"
	}
	b.WriteString("\n  " + p.severity[f.Severity].Render(marker) + " " + p.title.Render(f.Title) + p.dim.Render("  "+f.Check+known) + "\n")
	b.WriteString("    " + f.Message + "\n")
	if len(f.Objects) > 1 {
		names := make([]string, 0, len(f.Objects))
		for _, o := range f.Objects {
			names = append(names, o.String())
		}
		b.WriteString("    " + p.label.Render("objects") + "  " + strings.Join(names, ", ") + "\n")
	}
	if len(f.Evidence) > 0 {
		b.WriteString("    " + p.label.Render("evidence") + "\n")
		for _, e := range f.Evidence {
			b.WriteString("      " + p.dim.Render("· ") + e + "\n")
		}
	}
	for i, line := range Wrap(f.Remediation, 92) {
		prefix := "    " + p.label.Render("fix") + "  "
		if i > 0 {
			prefix = "         "
		}
		b.WriteString(prefix + line + "\n")
	}
	for _, fix := range f.Fix {
		// A one-line fix is a command to run; a longer one is YAML or a script, shown as a block.
		if !strings.Contains(fix, "\n") {
			// A comment is advice to follow by hand, not a command to paste.
			prompt := "$ "
			if strings.HasPrefix(fix, "#") {
				prompt = ""
			}
			b.WriteString("      " + p.command.Render(prompt+fix) + "\n")
			continue
		}
		for _, line := range strings.Split(fix, "\n") {
			b.WriteString("        " + p.command.Render(line) + "\n")
		}
	}
}

// writePrettyNotEvaluated lists checks that did not judge under title. Checks with the same
// cause are one line: the cause is what the reader acts on.
func writePrettyNotEvaluated(b *strings.Builder, p palette, title string, list []report.NotEvaluated) {
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
		if len(checks) == 1 {
			b.WriteString("  ○ " + checks[0] + p.dim.Render(": "+reason) + "\n")
			continue
		}
		b.WriteString("  ○ " + fmt.Sprintf("%d checks", len(checks)) + p.dim.Render(": "+reason) + "\n")
		for _, line := range Wrap(strings.Join(checks, ", "), 88) {
			b.WriteString("      " + p.dim.Render(line) + "\n")
		}
	}
}

func describeSource(r *report.Report) string {
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
	parts = append(parts, check.Plural(r.Summary.ChecksRun+r.Summary.NotEvaluated, "check", "checks"))
	return strings.Join(parts, " · ")
}

// Wrap breaks text into lines of at most width columns at word boundaries.
func Wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
