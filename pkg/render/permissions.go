package render

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// PermissionNotes is what the table's summary says beyond the accesses.
type PermissionNotes struct {
	// WholeClusterOnly counts the checks that do not apply to a run limited with -n, whatever
	// the permissions: they need the whole cluster, or components in other namespaces.
	WholeClusterOnly int
	Namespace        string
	// AnonymousProbe says the run would probe what a caller without credentials sees.
	AnonymousProbe bool
}

// WritePermissions renders what --explain-permissions found: the document for machines, and
// for people the accesses, then what the refusals cost.
func WritePermissions(w io.Writer, pr *report.PermissionReport, f Format, notes PermissionNotes) error {
	switch f {
	case JSON:
		return writeJSON(w, pr)
	case YAML:
		return writeYAML(w, pr)
	}
	wide := f == Wide
	if id := pr.Identity; id != nil {
		line := "as user " + TerminalSafe(id.Username)
		if len(id.Groups) > 0 {
			line += " (groups " + TerminalSafe(strings.Join(id.Groups, ", ")) + ")"
		}
		fmt.Fprintln(w, line)
		fmt.Fprintln(w)
	}
	header := []string{"VERB", "RESOURCE", "NAMESPACE", "ALLOWED", "NEEDED FOR"}
	if wide {
		header = append(header, "NOTE")
	}
	t := NewPlainTable(w, header...)
	allowed, refusedRequired, refusedOptional := 0, 0, 0
	for _, a := range pr.Accesses {
		switch {
		case a.Allowed:
			allowed++
		case a.Optional:
			refusedOptional++
		default:
			refusedRequired++
		}
		row := []string{a.Verb, a.Request().ResourceName(), namespaceText(a), allowedText(a), neededForText(a, wide)}
		if wide {
			row = append(row, a.Note)
		}
		for i := range row {
			row[i] = TerminalSafe(row[i])
		}
		if err := t.Append(row); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	summary := fmt.Sprintf("%d of %s allowed", allowed, check.Plural(len(pr.Accesses), "access", "accesses"))
	if refusedRequired+refusedOptional > 0 {
		summary += fmt.Sprintf("; %d required and %d optional refused", refusedRequired, refusedOptional)
	}
	fmt.Fprintln(w, summary+".")
	if len(pr.NotEvaluated) > 0 {
		fmt.Fprintf(w, "Not evaluated for lack of permission: %s: %s.\n", check.Plural(len(pr.NotEvaluated), "check", "checks"),
			strings.Join(pr.NotEvaluated, ", "))
	}
	if len(pr.Degraded) > 0 {
		fmt.Fprintf(w, "Evaluated with less to go on: %s (detail is lost, or, where a finding turns on what was refused, it says not evaluated): %s.\n",
			check.Plural(len(pr.Degraded), "check", "checks"), strings.Join(pr.Degraded, ", "))
	}
	if len(pr.NotEvaluated) == 0 && len(pr.Degraded) == 0 && refusedOptional > 0 {
		fmt.Fprintln(w, "Every selected check can be evaluated; the optional refusals only leave out one of several sources.")
	}
	if notes.WholeClusterOnly > 0 {
		fmt.Fprintf(w, "Limited to namespace %s (-n): %s, whatever the permissions.\n", notes.Namespace, check.Plural(notes.WholeClusterOnly,
			"check needs objects beyond it and does not apply", "checks need objects beyond it and do not apply"))
	}
	if notes.AnonymousProbe {
		fmt.Fprintln(w, "The anonymous-access probe sends its requests without credentials: it needs no permission.")
	}
	if refusedRequired+refusedOptional > 0 {
		hint := "Hint: `kubectl apply -f deploy/rbac.yaml` grants exactly these (to the group alertmend:readers)"
		if notes.Namespace != "" && !slices.Contains(snapshot.ClusterDNSNamespaces(), notes.Namespace) &&
			slices.ContainsFunc(pr.Accesses, func(a report.PermissionAccess) bool { return a.Resource == "configmaps" }) {
			hint += ", but for ConfigMaps, which it grants in kube-system only"
		}
		fmt.Fprintln(w, hint+".")
	}
	return nil
}

func namespaceText(a report.PermissionAccess) string {
	switch {
	case a.NonResourceURL != "":
		return "-"
	case a.Namespace != "":
		return a.Namespace
	case a.Namespaced:
		return "all namespaces"
	}
	return "cluster-scoped"
}

func allowedText(a report.PermissionAccess) string {
	switch {
	case a.Allowed:
		return "yes"
	case a.Reason != "":
		return "no: " + a.Reason
	}
	return "no"
}

// neededForText names the checks that need an access, the first few unless wide.
func neededForText(a report.PermissionAccess, wide bool) string {
	var text string
	switch n := len(a.Checks); {
	case n == 0:
		kinds := make([]string, len(a.Kinds))
		for i, k := range a.Kinds {
			kinds[i] = string(k)
		}
		text = "no selected check (" + strings.Join(kinds, ", ") + ")"
	case n <= 3 || wide:
		text = check.Plural(n, "check", "checks") + ": " + strings.Join(a.Checks, ", ")
	default:
		text = check.Plural(n, "check", "checks") + ": " + strings.Join(a.Checks[:3], ", ") + ", …"
	}
	if a.Optional && len(a.Checks) > 0 {
		text += " (optional)"
	}
	return text
}
