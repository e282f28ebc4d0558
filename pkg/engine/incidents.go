package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/changes"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// changeWindow is how long before an incident started its objects' changes are listed.
const changeWindow = time.Hour

// TimelineKinds are the kinds the incidents' timelines read beyond the checks' own (see
// changes.Kinds): none when no planned check declares a link, as no incident can then form.
func (p Plan) TimelineKinds() []snapshot.Kind {
	for _, c := range p.Run {
		if m := c.Meta(); len(m.Links)+len(m.Absorbs) > 0 {
			return changes.Kinds()
		}
	}
	return nil
}

// name gives each finding its ID; two findings of one check about the same objects are told
// apart by their order.
func name(findings []check.Finding) {
	seen := map[string]int{}
	for i := range findings {
		id := check.FindingID(findings[i])
		if seen[id]++; seen[id] > 1 {
			id = fmt.Sprintf("%s-%d", id, seen[id])
		}
		findings[i].ID = id
	}
}

// declaredLinks are the links of the checks that ran, by check ID: their Links, and their
// Absorbs, whose findings about other objects than the absorbing finding's own fold had left
// standing as symptoms.
func declaredLinks(ran []check.Check) map[string][]check.Link {
	links := map[string][]check.Link{}
	for _, c := range ran {
		m := c.Meta()
		if len(m.Absorbs) > 0 {
			links[m.ID] = append(links[m.ID], check.SameObjects("the objects it names", m.Absorbs...))
		}
		links[m.ID] = append(links[m.ID], m.Links...)
	}
	return links
}

// incidents groups findings, sorted by priority and named, into root causes and the findings
// their checks' links say they explain. Each finding has at most one cause, the most urgent
// one that claims it, so incidents are trees; a link that would close a cycle is not followed.
// The work is linear in what the links reach: symptoms are found through an index of the
// findings by object, never by comparing every pair.
func incidents(s *snapshot.Snapshot, findings []check.Finding, ran []check.Check) []report.Incident {
	links := declaredLinks(ran)
	explainable := map[string]bool{}
	for _, ls := range links {
		for _, l := range ls {
			for _, id := range l.Explains {
				explainable[id] = true
			}
		}
	}
	byObject := map[snapshot.Ref][]int{}
	for i, f := range findings {
		if explainable[f.Check] {
			for _, o := range f.Objects {
				byObject[o] = append(byObject[o], i)
			}
		}
	}
	parent := make([]int, len(findings))
	for i := range parent {
		parent[i] = -1
	}
	causes := func(i, j int) bool { // whether i is j or a cause of j, up the tree
		for steps := 0; i >= 0 && steps <= len(findings); steps++ {
			if i == j {
				return true
			}
			i = parent[i]
		}
		return false
	}
	// The most specific cause claims a symptom first: one about the same object (the image
	// pull of the Deployment that is short), then any other that reaches it (the policy that
	// isolates that Deployment among others), each pass in priority order.
	samePrimary := func(i, j int) bool {
		a, b := findings[i].Objects, findings[j].Objects
		return len(a) > 0 && len(b) > 0 && a[0] == b[0]
	}
	for _, specific := range []bool{true, false} {
		for i, f := range findings {
			for _, l := range links[f.Check] {
				reach := l.Reaches(s, f)
				reached := make(map[snapshot.Ref]bool, len(reach))
				for _, o := range reach {
					reached[o] = true
				}
				for _, o := range reach {
					for _, j := range byObject[o] {
						if parent[j] >= 0 || (specific && !samePrimary(i, j)) || !slices.Contains(l.Explains, findings[j].Check) || causes(i, j) {
							continue
						}
						if !slices.ContainsFunc(findings[j].Objects, func(r snapshot.Ref) bool { return !reached[r] }) {
							parent[j] = i
						}
					}
				}
			}
		}
	}
	children := map[int][]int{}
	for j, p := range parent {
		if p >= 0 {
			children[p] = append(children[p], j) // in priority order, as findings are
		}
	}
	var out []report.Incident
	for i, f := range findings {
		if parent[i] >= 0 || len(children[i]) == 0 {
			continue
		}
		inc := report.Incident{Title: f.Title, Root: f.ID, Symptoms: []string{}, Changes: []changes.Change{}}
		var objects []snapshot.Ref
		seen := map[snapshot.Ref]bool{}
		var since []time.Time
		// Depth first: a cause is listed before its own symptoms.
		var walk func(n int)
		walk = func(n int) {
			if n != i {
				inc.Symptoms = append(inc.Symptoms, findings[n].ID)
			}
			for _, o := range findings[n].Objects {
				if !seen[o] {
					seen[o] = true
					objects = append(objects, o)
				}
			}
			if findings[n].Since != nil {
				since = append(since, *findings[n].Since)
			}
			for _, c := range children[n] {
				walk(c)
			}
		}
		walk(i)
		// Started is the root's own evidence; only without it, its symptoms'.
		if f.Since != nil {
			inc.Started = f.Since
		} else {
			inc.Started = check.Earliest(since...)
		}
		started := s.CollectedAt
		if inc.Started != nil {
			started = *inc.Started
		}
		if cs := changes.Before(s, objects, started, changeWindow); len(cs) > 0 {
			inc.Changes = cs
			var undo []string
			for _, c := range cs {
				// Only a change to what the root itself is about is its to undo: a rollout of a
				// workload that is merely a symptom (its pods were on the node that failed) is
				// listed, but rolling it back fixes nothing.
				if c.Undo != "" && slices.Contains(f.Objects, c.Object) {
					undo = append(undo, c.Undo)
				}
			}
			findings[i].Fix = appendNewCommands(slices.Clip(findings[i].Fix), undo)
		}
		out = append(out, inc)
	}
	return out
}
