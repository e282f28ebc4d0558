package render

import (
	"fmt"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Names, messages and subjects come from the cluster, where anyone who may create an object or a
// binding chooses them. Printed for people, their control characters are shown escaped, so that
// a crafted annotation cannot move the cursor, rewrite lines, set the window title or hide text
// (escape sequences, carriage returns, C1 controls, bidirectional overrides).

// unsafeRune reports runes a terminal acts on instead of showing; keepNewlines lets through the
// newlines of the tool's own multi-line fixes.
func unsafeRune(r rune, keepNewlines bool) bool {
	switch {
	case r == '\t', r == '\n' && keepNewlines:
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

func escapeControls(s string, keepNewlines bool) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return unsafeRune(r, keepNewlines) }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !unsafeRune(r, keepNewlines):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// TerminalSafe shows s's control characters escaped: for any text from the cluster printed for
// people.
func TerminalSafe(s string) string { return escapeControls(s, false) }

func safeAll(values []string, keepNewlines bool) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = escapeControls(v, keepNewlines)
	}
	return out
}

func safeRef(r snapshot.Ref) snapshot.Ref {
	return snapshot.Ref{APIVersion: TerminalSafe(r.APIVersion), Kind: TerminalSafe(r.Kind), Namespace: TerminalSafe(r.Namespace), Name: TerminalSafe(r.Name)}
}

// terminalSafeReport is a copy of r fit to print for people: every text escaped, but for the
// newlines of the fixes, which are the tool's own multi-line commands.
func terminalSafeReport(r *report.Report) *report.Report {
	c := *r
	c.Metadata.Context, c.Metadata.Server, c.Metadata.Namespace =
		TerminalSafe(r.Metadata.Context), TerminalSafe(r.Metadata.Server), TerminalSafe(r.Metadata.Namespace)
	c.Findings = make([]check.Finding, len(r.Findings))
	for i, f := range r.Findings {
		c.Findings[i] = safeFinding(f)
	}
	c.Suppressed = make([]report.Suppressed, len(r.Suppressed))
	for i, sup := range r.Suppressed {
		c.Suppressed[i] = report.Suppressed{Finding: safeFinding(sup.Finding), By: TerminalSafe(sup.By), Reason: TerminalSafe(sup.Reason)}
	}
	c.RuleNotices = slices.Clone(r.RuleNotices)
	for i, n := range c.RuleNotices {
		c.RuleNotices[i] = report.RuleNotice{Rule: TerminalSafe(n.Rule), Problem: TerminalSafe(n.Problem), Detail: TerminalSafe(n.Detail)}
	}
	c.NotEvaluated = slices.Clone(r.NotEvaluated)
	for i := range c.NotEvaluated {
		c.NotEvaluated[i].Reason = TerminalSafe(c.NotEvaluated[i].Reason)
	}
	c.Incidents = slices.Clone(r.Incidents)
	for i, inc := range c.Incidents {
		c.Incidents[i].Title = TerminalSafe(inc.Title)
		c.Incidents[i].Changes = slices.Clone(inc.Changes)
		for j, ch := range c.Incidents[i].Changes {
			ch.Object, ch.Summary, ch.Manager, ch.Undo = safeRef(ch.Object), TerminalSafe(ch.Summary), TerminalSafe(ch.Manager), TerminalSafe(ch.Undo)
			c.Incidents[i].Changes[j] = ch
		}
	}
	return &c
}

func safeFinding(f check.Finding) check.Finding {
	f.Title, f.Message, f.Remediation = TerminalSafe(f.Title), TerminalSafe(f.Message), TerminalSafe(f.Remediation)
	f.Evidence = safeAll(f.Evidence, false)
	f.Fix = safeAll(f.Fix, true)
	objects := make([]snapshot.Ref, len(f.Objects))
	for j, o := range f.Objects {
		objects[j] = safeRef(o)
	}
	f.Objects = objects
	return f
}

// appendSafe adds a row of cluster text to a table, escaped.
func appendSafe(t *tablewriter.Table, cells []string) error {
	return t.Append(safeAll(cells, false))
}
