package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/config"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The annotations by which an object's owner silences checks about it: a comma-separated list
// of check IDs or globs, and why. On a Namespace they apply to everything in it.
const (
	IgnoreAnnotation       = "alertmend.io/ignore"
	IgnoreReasonAnnotation = "alertmend.io/ignore-reason"
)

// Policy is what people decided about findings besides the checks themselves: severities,
// what to ignore, what is already known (the baseline), and which object to focus on.
type Policy struct {
	// Config is the config file's content; nil when there is none.
	Config *config.Config
	// Baseline holds the findings already known; nil when not comparing.
	Baseline *report.Baseline
	// ShowSuppressed keeps the silenced findings in the report (they are counted either way).
	ShowSuppressed bool
	// Focus keeps only the findings about one object, its owners and its node; nil keeps all.
	Focus *snapshot.Ref
	// Scope narrows the findings to what the run is about (-n, -l); those left out are counted.
	Scope Scope
	// Ran lists the checks that ran, so a rule for a check that did not run is not called stale.
	Ran []string
	// Now decides which ignore rules have expired.
	Now time.Time
	// RecordBaseline says the run records its findings as the baseline: they are known from
	// this run on, this run included.
	RecordBaseline bool
}

// Diagnose is the whole diagnosis of a snapshot: the plan's checks run over it, then the
// policy applied, at the time p.Now. The report says where the state came from and, for a
// recorded snapshot, when it was recorded.
func Diagnose(s *snapshot.Snapshot, plan Plan, p Policy) *report.Report {
	r := Run(s, plan, p.Now)
	if s.Source == snapshot.SourceSnapshot {
		recorded := s.CollectedAt.UTC()
		r.Metadata.CollectedAt = &recorded
	}
	p.Ran = []string{}
	for _, c := range plan.Run {
		p.Ran = append(p.Ran, c.Meta().ID)
	}
	Apply(r, s, p)
	return r
}

// Apply applies a policy to a report Run built from s, then orders and counts it again.
func Apply(r *report.Report, s *snapshot.Snapshot, p Policy) {
	if p.Config != nil {
		overrideSeverities(r.Findings, p.Config)
	}
	inFocus := func(check.Finding) bool { return true }
	if p.Focus != nil {
		inFocus = focus(s, *p.Focus)
	}
	scope := p.Scope.For(s)
	inScope := scope.in(s)
	if scope.Namespace != "" {
		r.Metadata.Namespace = scope.Namespace
	}
	sup := newSuppressor(s, p)
	kept := r.Findings[:0:0]
	r.Suppressed = nil
	suppressed, outOfScope := 0, 0
	for _, f := range r.Findings {
		// Findings beyond the run are still offered to the ignore rules, so that a rule
		// silencing one of them is not called stale.
		focused := inFocus(f)
		in := focused && inScope(f)
		by, reason, ok := sup.silence(f, in)
		switch {
		case !in:
			if focused && !ok {
				outOfScope++
			}
			continue
		case ok:
			suppressed++
			if p.ShowSuppressed {
				r.Suppressed = append(r.Suppressed, report.Suppressed{Finding: f, By: by, Reason: reason})
			}
			continue
		}
		kept = append(kept, f)
	}
	r.Findings = kept
	r.RuleNotices = sup.notices(s, p)
	if p.Baseline != nil {
		for i := range r.Findings {
			r.Findings[i].Baselined = p.Baseline.Has(r.Findings[i])
		}
	}
	sort.SliceStable(r.Findings, func(i, j int) bool { return check.Less(r.Findings[i], r.Findings[j]) })
	r.Arrange()
	summarize(r)
	r.Summary.Suppressed = suppressed
	r.Summary.OutOfScope = outOfScope
	if p.RecordBaseline {
		for i := range r.Findings {
			r.Findings[i].Baselined = true
		}
		r.Summary.Baselined = len(r.Findings)
	}
}

func overrideSeverities(findings []check.Finding, cfg *config.Config) {
	for i, f := range findings {
		if sev, ok := cfg.Severity[f.Check]; ok && sev != f.Severity {
			findings[i].Evidence = append(slices.Clip(f.Evidence),
				fmt.Sprintf("severity set to %s by %s (the check said %s)", sev, cfg.File, f.Severity))
			findings[i].Severity = sev
		}
	}
}

// focus tells the findings that name the object, what manages it, or, for a pod, its node.
func focus(s *snapshot.Snapshot, target snapshot.Ref) func(check.Finding) bool {
	related := []snapshot.Ref{target}
	if target.Kind == "Pod" {
		if o, ok := s.ObjectMeta(target); ok {
			for i := range s.Pods {
				pod := &s.Pods[i]
				if pod.Namespace == o.GetNamespace() && pod.Name == o.GetName() {
					related = append(related, s.TopOwner(pod))
					if pod.Spec.NodeName != "" {
						related = append(related, snapshot.RefTo(snapshot.KindNodes, "", pod.Spec.NodeName))
					}
					break
				}
			}
		}
	}
	same := func(a, b snapshot.Ref) bool {
		return strings.EqualFold(a.Kind, b.Kind) && a.Namespace == b.Namespace && a.Name == b.Name
	}
	return func(f check.Finding) bool {
		return slices.ContainsFunc(f.Objects, func(o snapshot.Ref) bool {
			return slices.ContainsFunc(related, func(r snapshot.Ref) bool { return same(o, r) })
		})
	}
}

// suppressor decides which findings are silenced, remembering which rules did it.
type suppressor struct {
	s        *snapshot.Snapshot
	rules    []config.IgnoreRule
	file     string
	now      time.Time
	used     []bool
	wouldUse []int // per rule, findings in the run an expired rule would have silenced
	// reported says the finding being silenced is in the run.
	reported bool
}

func newSuppressor(s *snapshot.Snapshot, p Policy) *suppressor {
	sup := &suppressor{s: s, now: p.Now}
	if p.Config != nil {
		sup.rules, sup.file = p.Config.Ignore, p.Config.File
	}
	sup.used = make([]bool, len(sup.rules))
	sup.wouldUse = make([]int, len(sup.rules))
	return sup
}

// silence tells whether a finding is silenced, by what and why. A finding that names a chain
// of different kinds (a subject, its binding, the role) is one thing: silencing any link
// silences it. A finding that names many objects of one kind is many things: it is silenced
// only when every one of them is. reported says the finding is in the run: only those count
// as reported again because a rule expired.
func (sup *suppressor) silence(f check.Finding, reported bool) (by, reason string, ok bool) {
	sup.reported = reported
	if len(f.Objects) == 0 {
		return sup.byRule(f, nil)
	}
	chain := slices.ContainsFunc(f.Objects, func(o snapshot.Ref) bool { return o.Kind != f.Objects[0].Kind })
	for i, o := range f.Objects {
		objBy, objReason, silenced := sup.object(f, o)
		switch {
		case silenced && (chain || i == 0):
			by, reason = objBy, objReason
			if chain {
				return by, reason, true
			}
		case !silenced && !chain:
			return "", "", false
		}
	}
	return by, reason, by != ""
}

// object tells whether one object of a finding is silenced: by its own annotation, its
// namespace's, or a rule of the config file.
func (sup *suppressor) object(f check.Finding, o snapshot.Ref) (by, reason string, ok bool) {
	if meta, found := sup.s.ObjectMeta(o); found && annotationIgnores(meta.GetAnnotations(), f.Check) {
		return fmt.Sprintf("annotation %s on %s", IgnoreAnnotation, o.Describe()), meta.GetAnnotations()[IgnoreReasonAnnotation], true
	}
	if o.Namespace != "" {
		ns := snapshot.RefTo(snapshot.KindNamespaces, "", o.Namespace)
		if meta, found := sup.s.ObjectMeta(ns); found && annotationIgnores(meta.GetAnnotations(), f.Check) {
			return fmt.Sprintf("annotation %s on namespace %s", IgnoreAnnotation, o.Namespace), meta.GetAnnotations()[IgnoreReasonAnnotation], true
		}
	}
	return sup.byRule(f, &o)
}

func annotationIgnores(annotations map[string]string, checkID string) bool {
	value, ok := annotations[IgnoreAnnotation]
	if !ok {
		return false
	}
	for _, pattern := range strings.Split(value, ",") {
		if config.GlobMatch(strings.TrimSpace(pattern), checkID) {
			return true
		}
	}
	return false
}

// byRule finds the first rule of the config file that silences the finding's object (o nil:
// a finding about no object, which only rules naming no object can match).
func (sup *suppressor) byRule(f check.Finding, o *snapshot.Ref) (by, reason string, ok bool) {
	for i, rule := range sup.rules {
		if !sup.matches(rule, f, o) {
			continue
		}
		if rule.Expired(sup.now) {
			if sup.reported {
				sup.wouldUse[i]++
			}
			continue
		}
		sup.used[i] = true
		return "ignore rule at " + rule.Where(sup.file), rule.Reason, true
	}
	return "", "", false
}

func (sup *suppressor) matches(rule config.IgnoreRule, f check.Finding, o *snapshot.Ref) bool {
	if rule.Check != "" && !config.GlobMatch(rule.Check, f.Check) {
		return false
	}
	if o == nil {
		return rule.Kind == "" && rule.Namespace == "" && rule.Name == "" && rule.Selector == nil
	}
	if rule.Kind != "" && !config.GlobMatch(strings.ToLower(rule.Kind), strings.ToLower(o.Kind)) {
		return false
	}
	if rule.Namespace != "" && !config.GlobMatch(rule.Namespace, namespaceOf(*o)) {
		return false
	}
	if rule.Name != "" && !config.GlobMatch(rule.Name, o.Name) {
		return false
	}
	if rule.Selector != nil {
		meta, found := sup.s.ObjectMeta(*o)
		if !found || !rule.Selector.Matches(labels.Set(meta.GetLabels())) {
			return false
		}
	}
	return true
}

// namespaceOf is the namespace a rule's namespace field is compared with; a Namespace is in
// itself, so "namespace: legacy-*" silences findings about those namespaces too.
func namespaceOf(o snapshot.Ref) string {
	if o.Kind == "Namespace" && o.Namespace == "" {
		return o.Name
	}
	return o.Namespace
}

// notices reports the rules that need their author's attention: expired ones, and ones that
// silenced nothing although they could have applied to this run.
func (sup *suppressor) notices(s *snapshot.Snapshot, p Policy) []report.RuleNotice {
	var out []report.RuleNotice
	for i, rule := range sup.rules {
		where := rule.Where(sup.file)
		switch {
		case rule.Expired(sup.now):
			detail := fmt.Sprintf("expired on %s (%s); it no longer silences anything", rule.Expires, rule.Describe())
			if n := sup.wouldUse[i]; n > 0 {
				detail += fmt.Sprintf("; %s reported again because of it", check.Plural(n, "finding is", "findings are"))
			}
			out = append(out, report.RuleNotice{Rule: where, Problem: "expired", Detail: detail})
		case !sup.used[i] && couldApply(rule, s, p.Ran):
			out = append(out, report.RuleNotice{Rule: where, Problem: "stale",
				Detail: fmt.Sprintf("matched no finding (%s); remove it if what it silenced is fixed", rule.Describe())})
		}
	}
	return out
}

// couldApply tells whether a rule had a chance in this run: its check ran, and the run was not
// limited to a namespace the rule does not cover. A rule out of a run's reach is not stale.
func couldApply(rule config.IgnoreRule, s *snapshot.Snapshot, ran []string) bool {
	if rule.Check != "" && !slices.ContainsFunc(ran, func(id string) bool { return config.GlobMatch(rule.Check, id) }) {
		return false
	}
	return rule.Namespace == "" || s.Namespace == "" || config.GlobMatch(rule.Namespace, s.Namespace)
}

// summarize counts the findings by severity.
func summarize(r *report.Report) {
	r.Summary.Critical, r.Summary.High, r.Summary.Medium, r.Summary.Low, r.Summary.Info = 0, 0, 0, 0, 0
	r.Summary.Baselined = 0
	for _, f := range r.Findings {
		switch f.Severity {
		case check.Critical:
			r.Summary.Critical++
		case check.High:
			r.Summary.High++
		case check.Medium:
			r.Summary.Medium++
		case check.Low:
			r.Summary.Low++
		case check.Info:
			r.Summary.Info++
		}
		if f.Baselined {
			r.Summary.Baselined++
		}
	}
	r.Summary.NotEvaluated = len(r.NotEvaluated)
	r.Summary.NotApplicable = 0
	for _, ne := range r.NotEvaluated {
		if !ne.Incomplete() {
			r.Summary.NotApplicable++
		}
	}
}
