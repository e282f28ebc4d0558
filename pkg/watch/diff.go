package watch

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// EventType is what happened to a finding between two evaluations.
type EventType string

const (
	// New: a finding whose ID the previous evaluation did not report.
	New EventType = "new"
	// Changed: the same finding, with another severity, title or objects.
	Changed EventType = "changed"
	// Resolved: a finding gone while its check was evaluated.
	Resolved EventType = "resolved"
	// NotEvaluated: a check that was evaluated and no longer is (what it reads became
	// unreadable); its findings are neither resolved nor forgotten.
	NotEvaluated EventType = "not-evaluated"
)

// Event is one change between two evaluations.
type Event struct {
	Type EventType
	// Finding is the finding as this evaluation reports it; for Resolved, as it was last reported.
	Finding check.Finding
	// Changes says what changed, for Changed: "severity high -> critical".
	Changes []string
	// NotEvaluated is the check that is not evaluated any more, and why.
	NotEvaluated report.NotEvaluated
}

// Differ remembers what the evaluations so far reported, to tell what the next one changes.
// Findings of a check that is not evaluated are kept as they were last seen: they are not
// resolved, and when the check is evaluated again and still finds them, they are not new.
type Differ struct {
	known map[string]check.Finding
	// order is the known findings' IDs in the order they were reported, so that what resolves
	// is told in a stable order.
	order        []string
	notEvaluated map[string]bool
	started      bool
}

// Next compares an evaluation with what was known, and remembers it. The first evaluation's
// findings are all New; the checks it could not evaluate are not events (its report lists them).
// The findings of held checks (see Evaluation.Held) are frozen: those known stay as they were,
// and new ones wait until the check sees all it reads again.
func (d *Differ) Next(findings []check.Finding, notEvaluated []report.NotEvaluated, held map[string]bool) []Event {
	unevaluated := map[string]bool{}
	for _, n := range notEvaluated {
		unevaluated[n.Check] = true
	}
	var events []Event
	current := make(map[string]check.Finding, len(findings))
	var order []string
	for _, f := range findings {
		id := idOf(f)
		if _, twice := current[id]; twice {
			continue
		}
		before, known := d.known[id]
		if held[f.Check] {
			if known {
				current[id], order = before, append(order, id)
			}
			continue
		}
		current[id] = f
		order = append(order, id)
		switch {
		case !known:
			events = append(events, Event{Type: New, Finding: f})
		default:
			if changes := changesOf(before, f); len(changes) > 0 {
				events = append(events, Event{Type: Changed, Finding: f, Changes: changes})
			}
		}
	}
	for _, id := range d.order {
		if _, still := current[id]; still {
			continue
		}
		before := d.known[id]
		if unevaluated[before.Check] || held[before.Check] {
			current[id] = before // not seen, not gone
			order = append(order, id)
			continue
		}
		events = append(events, Event{Type: Resolved, Finding: before})
	}
	if d.started {
		var newly []report.NotEvaluated
		for _, n := range notEvaluated {
			if !d.notEvaluated[n.Check] {
				newly = append(newly, n)
			}
		}
		sort.SliceStable(newly, func(i, j int) bool { return newly[i].Check < newly[j].Check })
		for _, n := range newly {
			events = append(events, Event{Type: NotEvaluated, NotEvaluated: n})
		}
	}
	d.known, d.order, d.notEvaluated, d.started = current, order, unevaluated, true
	return events
}

// idOf is the finding's ID, which the engine sets; FindingID for one made without it.
func idOf(f check.Finding) string {
	if f.ID != "" {
		return f.ID
	}
	return check.FindingID(f)
}

// changesOf says what changed of a finding that people act on: its severity, its title, the
// objects it names. Its message and evidence are left out: they may hold ages and counts that
// change at every evaluation.
func changesOf(before, after check.Finding) []string {
	var changes []string
	if before.Severity != after.Severity {
		changes = append(changes, fmt.Sprintf("severity %s -> %s", before.Severity, after.Severity))
	}
	if before.Title != after.Title {
		changes = append(changes, fmt.Sprintf("title %q -> %q", before.Title, after.Title))
	}
	if !slices.Equal(sortedRefs(before.Objects), sortedRefs(after.Objects)) {
		changes = append(changes, fmt.Sprintf("objects %s -> %s", objectsOf(before), objectsOf(after)))
	}
	return changes
}

// maxObjectsShown bounds the objects a line names; the JSON event has them all.
const maxObjectsShown = 3

func objectsOf(f check.Finding) string {
	if len(f.Objects) == 0 {
		return "the cluster"
	}
	var names []string
	for i, o := range f.Objects {
		if i == maxObjectsShown {
			names = append(names, fmt.Sprintf("and %d more", len(f.Objects)-i))
			break
		}
		names = append(names, o.String())
	}
	return strings.Join(names, ", ")
}

// sortedRefs are refs in a stable order: the same objects in another order are no change.
func sortedRefs(refs []snapshot.Ref) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.String())
	}
	slices.Sort(out)
	return out
}
