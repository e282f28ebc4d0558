package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// WriteSubjectAccess renders what one subject may do: a table for people, the document for machines.
func WriteSubjectAccess(w io.Writer, a *report.SubjectAccess, f Format) error {
	switch f {
	case JSON:
		return writeJSON(w, a)
	case YAML:
		return writeYAML(w, a)
	}
	fmt.Fprintf(w, "%s %s (user %q, groups %s)\n\n", TerminalSafe(strings.ToLower(a.Subject.Kind)), TerminalSafe(subjectName(a.Subject)),
		a.User, TerminalSafe(strings.Join(a.Groups, ", ")))
	if len(a.Grants) == 0 {
		_, err := fmt.Fprintln(w, "no binding grants this subject anything")
		return err
	}
	t := NewPlainTable(w, "VERBS", "RESOURCES", "WHERE", "VIA")
	for _, g := range a.Grants {
		if err := appendSafe(t, []string{strings.Join(g.Rule.Verbs, ","), ruleTargets(g), where(g), via(g, f == Wide)}); err != nil {
			return err
		}
	}
	return t.Render()
}

// WriteWhoCan renders who may make a request.
func WriteWhoCan(w io.Writer, wc *report.WhoCan, f Format) error {
	switch f {
	case JSON:
		return writeJSON(w, wc)
	case YAML:
		return writeYAML(w, wc)
	}
	if len(wc.Grants) == 0 {
		_, err := fmt.Fprintln(w, "no subject is allowed")
		return err
	}
	t := NewPlainTable(w, "SUBJECT", "WHERE", "VIA")
	for _, g := range wc.Grants {
		if err := appendSafe(t, []string{strings.ToLower(g.Subject.Kind) + " " + subjectName(g.Subject), where(g), via(g, f == Wide)}); err != nil {
			return err
		}
	}
	return t.Render()
}

func subjectName(s report.Subject) string {
	if s.Namespace != "" {
		return s.Namespace + "/" + s.Name
	}
	return s.Name
}

func ruleTargets(g report.AccessGrant) string {
	if len(g.Rule.NonResourceURLs) > 0 {
		return strings.Join(g.Rule.NonResourceURLs, ",")
	}
	var out []string
	for _, group := range g.Rule.APIGroups {
		for _, res := range g.Rule.Resources {
			if group != "" {
				res += "." + group
			}
			out = append(out, res)
		}
	}
	targets := strings.Join(out, ",")
	if len(g.Rule.ResourceNames) > 0 {
		targets += " (named " + strings.Join(g.Rule.ResourceNames, ",") + ")"
	}
	return targets
}

func where(g report.AccessGrant) string {
	if g.Namespace == "" {
		return "cluster-wide"
	}
	return "namespace " + g.Namespace
}

// via is the path of the grant: binding, role, and in wide output whom the binding names.
func via(g report.AccessGrant, wide bool) string {
	path := g.Binding.String() + " -> " + g.Role.String()
	if wide {
		path = strings.ToLower(g.Subject.Kind) + " " + subjectName(g.Subject) + ": " + path
	}
	if g.Default {
		path += " (default)"
	}
	return path
}
