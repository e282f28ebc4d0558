// Package engine selects checks, runs them over a snapshot, and builds the prioritized report.
package engine

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Selection is what the user asked for with --checks, --category and --skip.
type Selection struct {
	Checks     []string
	Categories []string
	Skip       []string
}

// Plan is the checks to run and the ones left out with a reason the user should see.
type Plan struct {
	Run          []check.Check
	NotEvaluated []report.NotEvaluated
	// LiveOnlyLeftOut lists the checks left out because they judge live status and the source
	// is manifests, so the caller can say so.
	LiveOnlyLeftOut []string
}

// Select applies a selection to the catalog. Unknown IDs or categories are errors, so a typo in
// a CI gate fails loudly instead of silently checking nothing. For manifests, checks that judge
// live status are left out, and reported as not evaluated only if the user named them.
func Select(catalog []check.Check, sel Selection, source snapshot.Source) (Plan, error) {
	byID := map[string]check.Check{}
	for _, c := range catalog {
		byID[c.Meta().ID] = c
	}
	if err := knownIDs(byID, sel.Checks, "--checks"); err != nil {
		return Plan{}, err
	}
	if err := knownIDs(byID, sel.Skip, "--skip"); err != nil {
		return Plan{}, err
	}
	for _, name := range sel.Categories {
		if !check.Category(name).Valid() {
			return Plan{}, fmt.Errorf("unknown category %q in --category%s", name, check.UnknownCategoryHint(name))
		}
	}
	named := setOf(sel.Checks)
	categories := setOf(sel.Categories)
	skipped := setOf(sel.Skip)

	var plan Plan
	for _, c := range catalog {
		m := c.Meta()
		switch {
		case skipped[m.ID]:
			continue
		case len(named) > 0 && !named[m.ID]:
			continue
		case len(categories) > 0 && !categories[string(m.Category)]:
			continue
		}
		if m.LiveOnly && source == snapshot.SourceManifests {
			if named[m.ID] {
				plan.NotEvaluated = append(plan.NotEvaluated, report.NotEvaluated{
					Check:  m.ID,
					Reason: "needs live cluster state (status, conditions), which manifests do not carry",
					// Named on purpose, it is a gate that cannot judge what it was asked to.
					Code: report.CouldNotSee,
				})
			} else {
				plan.LiveOnlyLeftOut = append(plan.LiveOnlyLeftOut, m.ID)
			}
			continue
		}
		plan.Run = append(plan.Run, c)
	}
	return plan, nil
}

func knownIDs(byID map[string]check.Check, ids []string, flag string) error {
	for _, id := range ids {
		if _, ok := byID[id]; !ok {
			return fmt.Errorf("unknown check %q in %s%s", id, flag, check.UnknownIDHint(id, slices.Sorted(maps.Keys(byID))))
		}
	}
	return nil
}

func setOf(values []string) map[string]bool {
	set := map[string]bool{}
	for _, v := range values {
		set[v] = true
	}
	return set
}

// Kinds is every kind the planned checks read, required or optional, so the collector fetches
// exactly those.
func (p Plan) Kinds() []snapshot.Kind {
	seen := map[snapshot.Kind]bool{}
	var kinds []snapshot.Kind
	for _, c := range p.Run {
		m := c.Meta()
		for _, k := range append(append([]snapshot.Kind{}, m.Requires...), m.Optional...) {
			if !seen[k] {
				seen[k] = true
				kinds = append(kinds, k)
			}
		}
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	return kinds
}

// Run executes the plan over a snapshot and builds the report. A check whose required kinds
// could not be read is not run; a check that panics is reported as not evaluated rather than
// taking the whole diagnosis down.
func Run(s *snapshot.Snapshot, plan Plan, now time.Time) *report.Report {
	r := &report.Report{
		APIVersion: report.APIVersion,
		Kind:       report.Kind,
		Metadata: report.Metadata{
			Source:      string(s.Source),
			Context:     s.Context,
			Server:      s.Server,
			Namespace:   s.Namespace,
			GeneratedAt: now.UTC().Truncate(time.Second),
		},
		Findings:     []check.Finding{},
		Incidents:    []report.Incident{},
		NotEvaluated: append([]report.NotEvaluated{}, plan.NotEvaluated...),
	}
	if note := s.EventsLeftOutNote(); note != "" {
		r.Metadata.Notes = append(r.Metadata.Notes, note)
	}
	for i, o := range evaluateAll(s, plan.Run) {
		if o.reason != "" {
			r.NotEvaluated = append(r.NotEvaluated, report.NotEvaluated{Check: plan.Run[i].Meta().ID, Reason: o.reason, Code: o.code})
			continue
		}
		r.Summary.ChecksRun++
		r.Findings = append(r.Findings, o.findings...)
	}
	r.Findings = fold(r.Findings, plan.Run)
	locate(r.Findings, s.Origins)
	sort.SliceStable(r.Findings, func(i, j int) bool { return check.Less(r.Findings[i], r.Findings[j]) })
	name(r.Findings)
	r.Incidents = incidents(s, r.Findings, plan.Run)
	r.Arrange()
	sort.SliceStable(r.NotEvaluated, func(i, j int) bool { return r.NotEvaluated[i].Check < r.NotEvaluated[j].Check })
	summarize(r)
	return r
}

// blindingReason says why a check cannot judge before it runs, and whether that makes the run
// incomplete: only when something it requires is there but could not be read. Objects beyond
// the namespace the run is limited to, and kinds absent from the cluster, make it not applicable.
func blindingReason(s *snapshot.Snapshot, m check.Meta) (reason, code string) {
	if s.LimitedToNamespace() {
		if reason := m.OutOfNamespace(s.Namespace); reason != "" {
			return reason, report.NotApplicable
		}
	}
	var reasons []string
	code = report.NotApplicable
	for _, k := range m.Requires {
		if why, ok := s.Unavailable[k]; ok {
			reasons = append(reasons, fmt.Sprintf("cannot read %s: %s", k, why))
			if !s.Absent[k] {
				code = report.CouldNotSee
			}
		}
	}
	if len(reasons) == 0 {
		return "", ""
	}
	return strings.Join(reasons, "; "), code
}

// fold merges the findings one outage produced in several checks. A finding of a check that
// another check's finding covers (same objects, or a subset) is folded into it: dropped and
// named when superseded, and with its message, evidence and fixes carried over when absorbed.
// Folding is transitive, so what a finding stands for reaches the top of a chain.
func fold(findings []check.Finding, ran []check.Check) []check.Finding {
	type relation struct{ supersedes, absorbs []string }
	relations := map[string]relation{}
	foldable := map[string]bool{}
	for _, c := range ran {
		m := c.Meta()
		if len(m.Supersedes)+len(m.Absorbs) == 0 {
			continue
		}
		relations[m.ID] = relation{m.Supersedes, m.Absorbs}
		for _, id := range slices.Concat(m.Supersedes, m.Absorbs) {
			foldable[id] = true
		}
	}
	if len(relations) == 0 {
		return findings
	}
	// Only findings of folding checks can cover others: index their objects, so folding stays
	// linear in the findings times the folding findings.
	type head struct {
		index   int
		objects map[snapshot.Ref]bool
	}
	var heads []head
	// headsWith indexes the heads by object: a head covers a finding only if it holds the
	// finding's first object, so only those heads are tried, in the findings' order.
	headsWith := map[snapshot.Ref][]int{}
	for i, f := range findings {
		if _, ok := relations[f.Check]; ok {
			objects := make(map[snapshot.Ref]bool, len(f.Objects))
			for _, o := range f.Objects {
				if !objects[o] {
					headsWith[o] = append(headsWith[o], len(heads))
				}
				objects[o] = true
			}
			heads = append(heads, head{i, objects})
		}
	}
	covers := func(h head, f check.Finding) bool {
		if len(f.Objects) == 0 {
			return false
		}
		for _, o := range f.Objects {
			if !h.objects[o] {
				return false
			}
		}
		return true
	}
	parent := make([]int, len(findings))
	for i := range parent {
		parent[i] = -1
	}
	top := func(i int) int {
		for steps := 0; parent[i] >= 0 && steps < len(findings); steps++ {
			i = parent[i]
		}
		return i
	}
	absorbed := make([]bool, len(findings))
	for i, f := range findings {
		if !foldable[f.Check] || len(f.Objects) == 0 {
			continue
		}
		for _, k := range headsWith[f.Objects[0]] {
			h := heads[k]
			// A cycle of checks folding each other would drop both findings.
			if h.index == i || top(h.index) == i || !covers(h, f) {
				continue
			}
			rel := relations[findings[h.index].Check]
			// An absorbing finding is preferred: the folded one's details then travel with it.
			// One about other objects than the absorbing finding's own is its symptom instead,
			// which incidents link.
			if slices.Contains(rel.absorbs, f.Check) && slices.Contains(f.Objects, findings[h.index].Objects[0]) {
				parent[i], absorbed[i] = h.index, true
				break
			}
			if parent[i] < 0 && slices.Contains(rel.supersedes, f.Check) {
				parent[i] = h.index
			}
		}
	}
	folded := map[int][]int{}
	for i := range findings {
		if parent[i] >= 0 {
			t := top(i)
			folded[t] = append(folded[t], i)
		}
	}
	kept := make([]check.Finding, 0, len(findings))
	for i, f := range findings {
		if parent[i] >= 0 {
			continue
		}
		var checks []string
		for _, j := range folded[i] {
			part := findings[j]
			// Folding never makes a problem look smaller than a generic check saw it.
			if part.Severity.Rank() < f.Severity.Rank() {
				f.Severity = part.Severity
			}
			f.Incident = f.Incident || part.Incident
			if part.Since != nil && (f.Since == nil || part.Since.Before(*f.Since)) {
				f.Since = part.Since
			}
			if !slices.Contains(checks, part.Check) {
				checks = append(checks, part.Check)
			}
			if absorbed[j] {
				// The part's message says what it adds; its evidence is about the same pods as
				// the finding's own, so it would say most things twice.
				f.Evidence = appendNew(slices.Clip(f.Evidence), part.Message)
				f.Fix = appendNewCommands(slices.Clip(f.Fix), part.Fix)
			}
		}
		if len(checks) > 0 {
			slices.Sort(checks)
			f.Evidence = append(slices.Clip(f.Evidence), "also reported by "+strings.Join(checks, ", ")+"; folded into this finding")
		}
		kept = append(kept, f)
	}
	return kept
}

// appendNew appends the lines list does not hold yet.
func appendNew(list []string, lines ...string) []string {
	for _, l := range lines {
		if !slices.Contains(list, l) {
			list = append(list, l)
		}
	}
	return list
}

// appendNewCommands appends the fix commands list does not hold yet, a command with a trailing
// comment being the same command as without: two checks may explain one command differently.
func appendNewCommands(list, commands []string) []string {
	command := func(fix string) string {
		if strings.Contains(fix, "\n") {
			return fix // a script or YAML block is compared whole
		}
		c, _ := check.SplitComment(fix)
		return c
	}
	for _, c := range commands {
		if !slices.ContainsFunc(list, func(have string) bool { return command(have) == command(c) }) {
			list = append(list, c)
		}
	}
	return list
}

// locate records where each finding's objects are defined, for objects loaded from files.
func locate(findings []check.Finding, origins map[snapshot.Ref]snapshot.Origin) {
	if len(origins) == 0 {
		return
	}
	for i := range findings {
		for _, o := range findings[i].Objects {
			if origin, ok := origins[o]; ok {
				findings[i].Locations = append(findings[i].Locations, origin)
			}
		}
	}
}

// outcome is what one check made of the snapshot: findings, or why it could not judge and the
// NotEvaluated code of that.
type outcome struct {
	findings []check.Finding
	reason   string
	code     string
}

// evaluateAll runs the checks on every core: they are pure functions of a snapshot nobody
// writes any more, and on a large cluster they are most of the time left after reading it. The
// outcomes come back in the checks' order, so the report does not depend on scheduling.
func evaluateAll(s *snapshot.Snapshot, checks []check.Check) []outcome {
	outcomes := make([]outcome, len(checks))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(checks)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(checks); i = int(next.Add(1) - 1) {
				outcomes[i] = evaluate(checks[i], s)
			}
		})
	}
	wg.Wait()
	return outcomes
}

// evaluate runs one check unless it cannot see; a check that panics is not evaluated, with the
// reason, rather than taking the whole diagnosis down.
func evaluate(c check.Check, s *snapshot.Snapshot) (o outcome) {
	defer func() {
		if p := recover(); p != nil {
			o = outcome{reason: fmt.Sprintf("internal error in check (please report it): %v", p), code: report.CouldNotSee}
		}
	}()
	if reason, code := blindingReason(s, c.Meta()); reason != "" {
		return outcome{reason: reason, code: code}
	}
	if reason, notApplicable := check.WhyNot(c, s); notApplicable {
		return outcome{reason: reason, code: report.NotApplicable}
	} else if reason != "" {
		return outcome{reason: reason, code: report.CouldNotSee}
	}
	for _, f := range c.Run(s) {
		if f.Fix == nil {
			f.Fix = []string{}
		}
		o.findings = append(o.findings, f)
	}
	return o
}
