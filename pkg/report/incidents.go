package report

import (
	"slices"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/changes"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

// Incident is one root cause and the findings it explains (its symptoms), as the checks'
// declared links connect them. Findings refer to each other by their IDs; every one of them is
// in the report's findings, which list each incident's root first and its symptoms after it.
type Incident struct {
	// Title is the root cause's title.
	Title string `json:"title"`
	// Root is the ID of the finding that explains the others.
	Root string `json:"root"`
	// Symptoms are the IDs of the findings it explains, causes before their own symptoms.
	Symptoms []string `json:"symptoms"`
	// Started is the earliest time the root cause's evidence records; absent when unknown.
	Started *time.Time `json:"started,omitempty"`
	// Changes are what changed about the incident's objects in the hour before it started,
	// oldest first.
	Changes []changes.Change `json:"changes"`
}

// Members are the IDs of the incident's findings, root first.
func (i Incident) Members() []string { return append([]string{i.Root}, i.Symptoms...) }

// IncidentOf maps each finding ID in an incident to the incident's index in r.Incidents.
func (r *Report) IncidentOf() map[string]int {
	of := map[string]int{}
	for n, inc := range r.Incidents {
		for _, id := range inc.Members() {
			of[id] = n
		}
	}
	return of
}

// Arrange keeps the incidents whose findings r still lists (a root that is not listed ends its
// incident; a symptom that is not is dropped from it, and an incident left without symptoms is
// none), then orders the findings incident by incident: incidents ranked by their worst
// member's severity, live before latent, each root first and its symptoms after it, among the
// findings in no incident, which keep their priority order.
func (r *Report) Arrange() {
	byID := make(map[string]int, len(r.Findings))
	for i, f := range r.Findings {
		byID[f.ID] = i
	}
	kept := r.Incidents[:0:0]
	for _, inc := range r.Incidents {
		if _, ok := byID[inc.Root]; !ok {
			continue
		}
		inc.Symptoms = slices.DeleteFunc(slices.Clone(inc.Symptoms), func(id string) bool { _, ok := byID[id]; return !ok })
		if len(inc.Symptoms) > 0 {
			kept = append(kept, inc)
		}
	}
	// A unit is an incident, or a finding in none; each ranks by its lead finding: the worst
	// of the incident's members, with the incident's root as the tie-breaker. Units refer to
	// the findings by index: a report may hold a hundred thousand.
	type unit struct {
		lead     *check.Finding
		members  []int // nil for a finding in no incident: the lead itself
		incident int   // index in kept, or -1
	}
	in := make([]bool, len(r.Findings))
	units := make([]unit, 0, len(r.Findings))
	for n, inc := range kept {
		lead := r.Findings[byID[inc.Root]]
		u := unit{lead: &lead, incident: n}
		for _, id := range inc.Members() {
			i := byID[id]
			in[i] = true
			u.members = append(u.members, i)
			if f := &r.Findings[i]; f.Severity.Rank() < lead.Severity.Rank() {
				lead.Severity = f.Severity
			}
			lead.Incident = lead.Incident || r.Findings[i].Incident
		}
		units = append(units, u)
	}
	for i := range r.Findings {
		if !in[i] {
			units = append(units, unit{lead: &r.Findings[i], incident: -1})
		}
	}
	slices.SortStableFunc(units, func(a, b unit) int {
		switch {
		case check.Less(*a.lead, *b.lead) && !check.Less(*b.lead, *a.lead):
			return -1
		case check.Less(*b.lead, *a.lead):
			return 1
		}
		// As urgent as a finding in no incident: the incident, which explains more, first.
		switch {
		case a.incident >= 0 && b.incident < 0:
			return -1
		case a.incident < 0 && b.incident >= 0:
			return 1
		}
		return 0
	})
	findings := make([]check.Finding, 0, len(r.Findings))
	r.Incidents = []Incident{}
	for _, u := range units {
		if u.incident < 0 {
			findings = append(findings, *u.lead)
			continue
		}
		for _, i := range u.members {
			findings = append(findings, r.Findings[i])
		}
		r.Incidents = append(r.Incidents, kept[u.incident])
	}
	r.Findings = findings
}

// OnlyIncidents is r listing only its incidents and their findings: what --incidents shows,
// without the checks that did not judge or the silenced findings. The summary still counts
// everything, and says how many findings are not listed; the gate is applied to r itself.
func (r *Report) OnlyIncidents() *Report {
	shown := *r
	shown.NotEvaluated, shown.Suppressed, shown.RuleNotices = []NotEvaluated{}, nil, nil
	of := r.IncidentOf()
	shown.Findings = nil
	for _, f := range r.Findings {
		if _, ok := of[f.ID]; ok {
			shown.Findings = append(shown.Findings, f)
		} else {
			shown.Summary.NotInIncidents++
		}
	}
	return &shown
}
