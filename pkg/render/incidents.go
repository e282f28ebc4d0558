package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/alertmend/kubectl-alertmend/pkg/changes"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// incidentView is one incident with its findings at hand, for the people's formats.
type incidentView struct {
	number   int
	incident report.Incident
	root     check.Finding
	symptoms []check.Finding
}

// incidentViews resolves r's incidents to their findings, in order; incidents whose root r does
// not list are left out.
func incidentViews(r *report.Report) []incidentView {
	byID := make(map[string]check.Finding, len(r.Findings))
	for _, f := range r.Findings {
		byID[f.ID] = f
	}
	var views []incidentView
	for _, inc := range r.Incidents {
		root, ok := byID[inc.Root]
		if !ok {
			continue
		}
		v := incidentView{number: len(views) + 1, incident: inc, root: root}
		for _, id := range inc.Symptoms {
			if f, ok := byID[id]; ok {
				v.symptoms = append(v.symptoms, f)
			}
		}
		views = append(views, v)
	}
	return views
}

// inIncidents is the IDs of the findings views hold.
func inIncidents(views []incidentView) map[string]int {
	in := map[string]int{}
	for _, v := range views {
		in[v.root.ID] = v.number
		for _, f := range v.symptoms {
			in[f.ID] = v.number
		}
	}
	return in
}

// incidentSince reads "since 09:41 (12 min)": the clock time in UTC, with the day when it is
// not the report's, and how long before the report.
func incidentSince(started *time.Time, now time.Time) string {
	if started == nil || now.IsZero() {
		return ""
	}
	t := started.UTC()
	clock := t.Format("15:04")
	if y, m, d := t.Date(); y != now.UTC().Year() || m != now.UTC().Month() || d != now.UTC().Day() {
		clock = t.Format("Jan 2 15:04")
	}
	return fmt.Sprintf("since %s (%s)", clock, longAge(now.Sub(t)))
}

// longAge is a duration in words a person reads at a glance: 12 min, 3 h, 2 days.
func longAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "<1 min"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

// changeLine is one change before an incident, on one line: when, what, and by whom.
func changeLine(c changes.Change) string {
	line := c.Time.UTC().Format("15:04") + " " + c.Object.Describe() + ": " + c.Summary
	if c.Manager != "" {
		line += " (by " + c.Manager + ")"
	}
	return line
}

// symptomLine is a symptom folded under its incident's root: severity, check and message.
func symptomLine(f check.Finding) string {
	return fmt.Sprintf("%-8s  %s  %s", f.Severity, f.Check, oneLine(f.Message))
}

// writePrettyIncidents writes each incident: its heading, the root cause in full, its symptoms
// a line each, and what changed before it.
func writePrettyIncidents(b *strings.Builder, p palette, views []incidentView, width int, now time.Time) {
	for _, v := range views {
		heading := fmt.Sprintf("INCIDENT %d", v.number)
		worst := v.root.Severity
		for _, f := range v.symptoms {
			if f.Severity.Rank() < worst.Rank() {
				worst = f.Severity
			}
		}
		line := p.severity[worst].Render(heading) + "  " + p.title.Render(v.incident.Title)
		if when := incidentSince(v.incident.Started, now); when != "" {
			if lipgloss.Width(line)+2+len(when) <= width {
				line += "  " + p.dim.Render(when)
			} else {
				line += "\n  " + p.dim.Render(when)
			}
		}
		b.WriteString("\n" + line + "\n")
		writePrettyFinding(b, p, v.root, width, now)
		if len(v.symptoms) > 0 {
			b.WriteString("    " + p.label.Render("symptoms") + p.dim.Render(fmt.Sprintf("  %d", len(v.symptoms))) + "\n")
			for _, f := range v.symptoms {
				b.WriteString("      " + p.severity[f.Severity].Render("↳ ") + truncate(symptomLine(f), width-8) + "\n")
			}
		}
		for _, c := range v.incident.Changes {
			writeFilled(b, "    "+p.label.Render("changed before it:")+" ", "      ", changeLine(c), width, plain)
		}
	}
}
