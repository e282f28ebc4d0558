package engine

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// stubCheck returns fixed findings; it stands in for real checks to test the engine alone.
type stubCheck struct {
	meta     check.Meta
	findings []check.Finding
	panics   bool
}

func (c stubCheck) Meta() check.Meta { return c.meta }
func (c stubCheck) Run(*snapshot.Snapshot) []check.Finding {
	if c.panics {
		panic("boom")
	}
	return c.findings
}

func stub(id string, cat check.Category, sev check.Severity, liveOnly bool, requires ...snapshot.Kind) stubCheck {
	if len(requires) == 0 {
		requires = []snapshot.Kind{snapshot.KindPods}
	}
	return stubCheck{meta: check.Meta{ID: id, Title: id, Category: cat, Severity: sev, Requires: requires, LiveOnly: liveOnly}}
}

func finding(id string, sev check.Severity, incident bool, scope check.Scope, objects ...string) check.Finding {
	f := check.Finding{Check: id, Severity: sev, Incident: incident, Scope: scope}
	for _, name := range objects {
		f.Objects = append(f.Objects, snapshot.RefTo(snapshot.KindPods, "ns", name))
	}
	return f
}

func catalog() []check.Check {
	return []check.Check{
		stub("a-live", check.CategoryWorkloads, check.High, true),
		stub("b-static", check.CategoryResources, check.Medium, false),
		stub("c-nodes", check.CategoryWorkloads, check.High, true, snapshot.KindNodes),
	}
}

func ids(p Plan) string {
	var out []string
	for _, c := range p.Run {
		out = append(out, c.Meta().ID)
	}
	return strings.Join(out, ",")
}

func TestSelect(t *testing.T) {
	cases := []struct {
		name   string
		sel    Selection
		source snapshot.Source
		want   string
		notEv  int
	}{
		{"everything", Selection{}, snapshot.SourceCluster, "a-live,b-static,c-nodes", 0},
		{"by id", Selection{Checks: []string{"b-static"}}, snapshot.SourceCluster, "b-static", 0},
		{"by category", Selection{Categories: []string{"workloads"}}, snapshot.SourceCluster, "a-live,c-nodes", 0},
		{"skip", Selection{Skip: []string{"a-live"}}, snapshot.SourceCluster, "b-static,c-nodes", 0},
		{"manifests leave live checks out", Selection{}, snapshot.SourceManifests, "b-static", 0},
		{"manifests and a named live check", Selection{Checks: []string{"a-live", "b-static"}}, snapshot.SourceManifests, "b-static", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Select(catalog(), tc.sel, tc.source)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(plan); got != tc.want {
				t.Errorf("run %q, want %q", got, tc.want)
			}
			if len(plan.NotEvaluated) != tc.notEv {
				t.Errorf("not evaluated %v, want %d", plan.NotEvaluated, tc.notEv)
			}
		})
	}
}

func TestSelectRejectsUnknownNames(t *testing.T) {
	for _, sel := range []Selection{{Checks: []string{"nope"}}, {Skip: []string{"nope"}}, {Categories: []string{"nope"}}} {
		if _, err := Select(catalog(), sel, snapshot.SourceCluster); err == nil || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("selection %+v: err = %v", sel, err)
		}
	}
}

func TestPlanKindsAreOnlyWhatChecksNeed(t *testing.T) {
	plan, _ := Select(catalog(), Selection{Checks: []string{"c-nodes"}}, snapshot.SourceCluster)
	if kinds := plan.Kinds(); len(kinds) != 1 || kinds[0] != snapshot.KindNodes {
		t.Errorf("kinds = %v, want [nodes]", kinds)
	}
}

func TestRunPrioritizesAndCounts(t *testing.T) {
	checks := []check.Check{
		stubCheck{meta: stub("x", check.CategoryWorkloads, check.High, false).meta, findings: []check.Finding{
			finding("x", check.High, false, check.ScopeObject, "risk"),
			finding("x", check.High, true, check.ScopeObject, "broken"),
			finding("x", check.High, true, check.ScopeCluster, "wide-1", "wide-2"),
		}},
		stubCheck{meta: stub("y", check.CategoryWorkloads, check.Critical, false).meta, findings: []check.Finding{
			finding("y", check.Low, false, check.ScopeObject, "minor"),
			finding("y", check.Critical, false, check.ScopeObject, "worst"),
		}},
	}
	r := Run(snapshot.New(snapshot.SourceCluster), Plan{Run: checks}, time.Unix(0, 0))
	var order []string
	for _, f := range r.Findings {
		order = append(order, f.Objects[0].Name)
	}
	if got := strings.Join(order, ","); got != "worst,wide-1,broken,risk,minor" {
		t.Errorf("order %s, want severity, then incidents, then breadth", got)
	}
	if r.Summary.Critical != 1 || r.Summary.High != 3 || r.Summary.Low != 1 || r.Summary.ChecksRun != 2 {
		t.Errorf("summary %+v", r.Summary)
	}
	for _, f := range r.Findings {
		if f.Fix == nil {
			t.Error("fix must be an empty list, not null, in the report")
		}
	}
}

func TestRunMarksBlindAndBrokenChecksNotEvaluated(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	s.MarkUnavailable(snapshot.KindNodes, `forbidden: User "bob" cannot list resource "nodes"`)
	checks := []check.Check{
		stub("nodes", check.CategoryWorkloads, check.High, true, snapshot.KindNodes),
		stubCheck{meta: stub("explodes", check.CategoryWorkloads, check.High, false).meta, panics: true},
		stub("fine", check.CategoryWorkloads, check.High, false),
	}
	r := Run(s, Plan{Run: checks}, time.Now())
	if r.Summary.ChecksRun != 1 || r.Summary.NotEvaluated != 2 {
		t.Fatalf("summary %+v, want 1 run and 2 not evaluated", r.Summary)
	}
	if ne := r.NotEvaluated[1]; ne.Check != "nodes" || !strings.Contains(ne.Reason, "cannot read nodes: forbidden") || ne.Code != report.CouldNotSee {
		t.Errorf("not evaluated %+v", ne)
	}
	if ne := r.NotEvaluated[0]; ne.Check != "explodes" || !strings.Contains(ne.Reason, "internal error") || ne.Code != report.CouldNotSee {
		t.Errorf("not evaluated %+v", ne)
	}
	if code := r.ExitCode(check.High); code != report.ExitIncomplete {
		t.Errorf("exit %d, want 3: the run could not see", code)
	}
}

// absentCheck judges something this cluster does not run.
type absentCheck struct{ stubCheck }

func (absentCheck) NotApplicable(*snapshot.Snapshot) string { return "no kube-proxy DaemonSet" }

// What is absent from the cluster (a kind not served, a component a check finds missing) makes a
// check not applicable: listed with its reason, counted apart, and the run still complete. A
// required kind that is there but unreadable makes it could-not-see, whatever else is absent.
func TestAbsenceIsNotApplicable(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	s.MarkAbsent(snapshot.KindPodMetrics, "the metrics API (metrics.k8s.io) is not available")
	checks := []check.Check{
		stub("usage", check.CategoryResources, check.Medium, true, snapshot.KindPods, snapshot.KindPodMetrics),
		absentCheck{stub("kube-proxy-table", check.CategoryConntrack, check.Medium, false)},
		stub("fine", check.CategoryWorkloads, check.High, false),
	}
	r := Run(s, Plan{Run: checks}, time.Now())
	want := []report.NotEvaluated{
		{Check: "kube-proxy-table", Reason: "no kube-proxy DaemonSet", Code: report.NotApplicable},
		{Check: "usage", Reason: "cannot read podmetrics: the metrics API (metrics.k8s.io) is not available", Code: report.NotApplicable},
	}
	if len(r.NotEvaluated) != 2 || r.NotEvaluated[0] != want[0] || r.NotEvaluated[1] != want[1] {
		t.Fatalf("not evaluated %+v, want %+v", r.NotEvaluated, want)
	}
	if r.Summary.NotEvaluated != 2 || r.Summary.NotApplicable != 2 || r.Summary.ChecksRun != 1 {
		t.Errorf("summary %+v", r.Summary)
	}
	if code := r.ExitCode(check.High); code != report.ExitOK {
		t.Errorf("exit %d, want 0: nothing was left unseen", code)
	}
	s.MarkUnavailable(snapshot.KindPods, "forbidden")
	r = Run(s, Plan{Run: checks[:1]}, time.Now())
	if len(r.NotEvaluated) != 1 || r.NotEvaluated[0].Code != report.CouldNotSee || r.ExitCode(check.High) != report.ExitIncomplete {
		t.Errorf("with pods forbidden too: %+v", r.NotEvaluated)
	}
}

func TestWholeClusterChecksAreNotEvaluatedInOneNamespace(t *testing.T) {
	wide := stub("node-totals", check.CategoryResources, check.Medium, true, snapshot.KindNodes)
	wide.meta.WholeCluster = true
	s := snapshot.New(snapshot.SourceCluster)
	if r := Run(s, Plan{Run: []check.Check{wide}}, time.Now()); r.Summary.ChecksRun != 1 {
		t.Errorf("cluster-wide run: %+v", r.Summary)
	}
	s.Namespace = "shop"
	r := Run(s, Plan{Run: []check.Check{wide}}, time.Now())
	if r.Summary.ChecksRun != 0 || len(r.NotEvaluated) != 1 || !strings.Contains(r.NotEvaluated[0].Reason, "beyond namespace shop") {
		t.Errorf("with -n: %+v %+v", r.Summary, r.NotEvaluated)
	}
	// Out of the run's scope is not a blind spot: a healthy namespace exits 0.
	if r.NotEvaluated[0].Code != report.NotApplicable || r.ExitCode(check.High) != report.ExitOK {
		t.Errorf("with -n: %+v, exit %d", r.NotEvaluated, r.ExitCode(check.High))
	}
}

func TestExitCode(t *testing.T) {
	high := &report.Report{Findings: []check.Finding{{Severity: check.High}}}
	blind := &report.Report{NotEvaluated: []report.NotEvaluated{{Check: "x"}}}
	notApplicable := &report.Report{NotEvaluated: []report.NotEvaluated{{Check: "x", Code: report.NotApplicable}}}
	both := &report.Report{NotEvaluated: []report.NotEvaluated{{Check: "x", Code: report.NotApplicable}, {Check: "y", Code: report.CouldNotSee}}}
	lowAndBlind := &report.Report{Findings: []check.Finding{{Severity: check.Low}}, NotEvaluated: []report.NotEvaluated{{Check: "x"}}}
	cases := []struct {
		r      *report.Report
		failOn check.Severity
		want   int
	}{
		{&report.Report{}, check.High, 0},
		{high, check.High, 1},
		{high, check.Critical, 0},
		{high, check.Info, 1},
		{high, "", 0},
		{blind, check.High, 3},
		{lowAndBlind, check.High, 3},
		{lowAndBlind, check.Low, 1},
		{notApplicable, check.High, 0},
		{both, check.High, 3},
	}
	for i, tc := range cases {
		if got := tc.r.ExitCode(tc.failOn); got != tc.want {
			t.Errorf("case %d: exit %d, want %d", i, got, tc.want)
		}
	}
}

// A specific check's finding stands for the generic ones about the same objects; generic
// findings about other objects, or of checks it does not name, stay.
func TestSupersededFindingsAreFolded(t *testing.T) {
	specific := stub("dns-down", check.CategoryDNS, check.Critical, true)
	specific.meta.Supersedes = []string{"generic-down", "generic-crash"}
	specific.findings = []check.Finding{finding("dns-down", check.Critical, true, check.ScopeCluster, "coredns")}
	generic := stub("generic-down", check.CategoryWorkloads, check.Critical, true)
	generic.findings = []check.Finding{
		finding("generic-down", check.Critical, true, check.ScopeObject, "coredns"),
		finding("generic-down", check.Critical, true, check.ScopeObject, "cart"),
	}
	crash := stub("generic-crash", check.CategoryWorkloads, check.High, true)
	crash.findings = []check.Finding{finding("generic-crash", check.High, true, check.ScopeObject, "coredns", "cart")}
	other := stub("other", check.CategoryResources, check.High, true)
	other.findings = []check.Finding{finding("other", check.High, true, check.ScopeObject, "coredns")}

	r := Run(snapshot.New(snapshot.SourceCluster), Plan{Run: []check.Check{specific, generic, crash, other}}, time.Unix(0, 0))
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Check+":"+f.Objects[0].Name)
	}
	if want := "dns-down:coredns,generic-down:cart,generic-crash:coredns,other:coredns"; strings.Join(got, ",") != want {
		t.Errorf("findings %s, want %s", strings.Join(got, ","), want)
	}
	if ev := r.Findings[0].Evidence; len(ev) != 1 || ev[0] != "also reported by generic-down; folded into this finding" {
		t.Errorf("evidence of the folding finding: %q", ev)
	}
	if r.Summary.Critical != 2 {
		t.Errorf("summary %+v counts folded findings", r.Summary)
	}
	// A folded finding more severe than the one it is folded into raises it.
	specific.findings[0].Severity = check.Medium
	specific.findings[0].Incident = false
	r = Run(snapshot.New(snapshot.SourceCluster), Plan{Run: []check.Check{specific, generic}}, time.Unix(0, 0))
	if top := r.Findings[0]; top.Check != "dns-down" || top.Severity != check.Critical || !top.Incident {
		t.Errorf("folding lowered the severity: %s %s incident %v", top.Check, top.Severity, top.Incident)
	}
	// Without the specific check, nothing is folded.
	r = Run(snapshot.New(snapshot.SourceCluster), Plan{Run: []check.Check{generic}}, time.Unix(0, 0))
	if len(r.Findings) != 2 {
		t.Errorf("%d findings without the superseding check, want 2", len(r.Findings))
	}
}

// An absorbed finding's message and fixes are carried into the finding that absorbs
// it, along a chain to its top: a workload down because its pods crash because of OOMKills is
// one finding that still says what to do about each part.
func TestAbsorbedFindingsCarryTheirDetailsToTheTop(t *testing.T) {
	unavailable := stub("workload-down", check.CategoryWorkloads, check.High, true)
	unavailable.meta.Absorbs = []string{"crash"}
	down := finding("workload-down", check.High, true, check.ScopeObject, "cart")
	down.Message, down.Fix = "cart has 0 of 2 replicas", []string{"kubectl describe deployment cart"}
	unavailable.findings = []check.Finding{down}

	crash := stub("crash", check.CategoryWorkloads, check.Critical, true)
	crash.meta.Absorbs = []string{"oom"}
	looping := finding("crash", check.Critical, true, check.ScopeObject, "cart")
	early := time.Unix(100, 0)
	looping.Message, looping.Evidence, looping.Since = "2 pods crash loop", []string{"pod cart-1 restarted 14 times"}, &early
	looping.Fix = []string{"kubectl logs cart-1 --previous", "kubectl describe deployment cart # the same command, explained"}
	crash.findings = []check.Finding{looping}

	oom := stub("oom", check.CategoryResources, check.High, true)
	killed := finding("oom", check.High, true, check.ScopeObject, "cart")
	killed.Message, killed.Fix = "container app was OOMKilled", []string{"kubectl set resources deployment cart --limits=memory=MEMORY_LIMIT"}
	oom.findings = []check.Finding{killed, finding("oom", check.High, true, check.ScopeObject, "other")}

	r := Run(snapshot.New(snapshot.SourceCluster), Plan{Run: []check.Check{unavailable, crash, oom}}, time.Unix(0, 0))
	if len(r.Findings) != 2 {
		t.Fatalf("%d findings, want the folded outage and the unrelated OOMKill: %+v", len(r.Findings), r.Findings)
	}
	top := r.Findings[0]
	if top.Check != "workload-down" || top.Severity != check.Critical || top.Since == nil || !top.Since.Equal(early) {
		t.Errorf("top finding %s %s since %v, want workload-down raised to critical, since the crash began", top.Check, top.Severity, top.Since)
	}
	wantEvidence := []string{"2 pods crash loop", "container app was OOMKilled",
		"also reported by crash, oom; folded into this finding"}
	if !slices.Equal(top.Evidence, wantEvidence) {
		t.Errorf("evidence %q, want %q", top.Evidence, wantEvidence)
	}
	wantFix := []string{"kubectl describe deployment cart", "kubectl logs cart-1 --previous",
		"kubectl set resources deployment cart --limits=memory=MEMORY_LIMIT"}
	if !slices.Equal(top.Fix, wantFix) {
		t.Errorf("fixes %q, want %q (each once)", top.Fix, wantFix)
	}
	if other := r.Findings[1]; other.Check != "oom" || other.Objects[0].Name != "other" {
		t.Errorf("second finding %s %v, want the OOMKill of another workload untouched", other.Check, other.Objects)
	}
}

// Checks that fold each other do not make both findings disappear.
func TestFoldingCycleKeepsAFinding(t *testing.T) {
	a := stub("a", check.CategoryWorkloads, check.High, true)
	a.meta.Absorbs = []string{"b"}
	a.findings = []check.Finding{finding("a", check.High, true, check.ScopeObject, "x")}
	b := stub("b", check.CategoryWorkloads, check.High, true)
	b.meta.Absorbs = []string{"a"}
	b.findings = []check.Finding{finding("b", check.High, true, check.ScopeObject, "x")}
	r := Run(snapshot.New(snapshot.SourceCluster), Plan{Run: []check.Check{a, b}}, time.Unix(0, 0))
	if len(r.Findings) != 1 {
		t.Errorf("%d findings from two checks folding each other, want 1", len(r.Findings))
	}
}
