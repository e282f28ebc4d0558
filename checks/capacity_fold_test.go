package checks

import (
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/checks/capacity"
	"github.com/alertmend/kubectl-alertmend/checks/hygiene"
	"github.com/alertmend/kubectl-alertmend/checks/workloads"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Folding across families, and blindness, as the engine runs the capacity checks; their
// fixtures are in checks/capacity/testdata.

// The family's findings fold the generic ones they explain: a quota absorbs the workloads it
// starves, the grouped pending pods supersede each workload's, the live concentration the
// static spread finding.
func TestCapacityFolding(t *testing.T) {
	run := func(fixtureName string, ids ...string) *report.Report {
		t.Helper()
		var catalog []check.Check
		for _, c := range slices.Concat(capacity.Checks(), workloads.Checks(), hygiene.Checks()) {
			if slices.Contains(ids, c.Meta().ID) {
				catalog = append(catalog, c)
			}
		}
		plan, err := engine.Select(catalog, engine.Selection{}, snapshot.SourceCluster)
		if err != nil {
			t.Fatal(err)
		}
		s := loadFixture(t, "capacity/testdata/"+fixtureName)
		s.Finish()
		return engine.Run(s, plan, fixNow)
	}
	// only says which findings stand as their own or lead an incident; under says which
	// findings are symptoms of an incident led by root.
	only := func(r *report.Report, want ...string) {
		t.Helper()
		var got []string
		for _, f := range r.Findings {
			if root := rootCheck(r, f); root == "" || root == f.Check {
				got = append(got, f.Check)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("findings %q, want %q", got, want)
		}
	}
	under := func(r *report.Report, root string, want ...string) {
		t.Helper()
		var got []string
		for _, f := range r.Findings {
			if rootCheck(r, f) == root && f.Check != root {
				got = append(got, f.Check)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("symptoms of %s: %q, want %q", root, got, want)
		}
	}
	r := run("quota-exhausted.yaml", "quota-exhausted", "deployment-unavailable", "job-cannot-create-pods")
	only(r, "quota-exhausted", "quota-exhausted", "quota-exhausted")
	under(r, "quota-exhausted", "deployment-unavailable", "job-cannot-create-pods")
	r = run("pods-pending.yaml", "pods-pending", "pod-unschedulable")
	only(r, "pods-pending", "pod-unschedulable") // gpu's, alone in its reason
	r = run("replicas-concentrated.yaml", "replicas-concentrated", "replicas-not-spread")
	only(r, "replicas-concentrated", "replicas-concentrated", "replicas-concentrated", "replicas-not-spread")
	r = run("priorityclass-preemption.yaml", "priorityclass-preemption", "pod-unschedulable", "deployment-unavailable")
	only(r, "priorityclass-preemption", "pod-unschedulable") // report's, preempted too long ago
	under(r, "priorityclass-preemption", "deployment-unavailable", "pod-unschedulable")
}

// Blind, the checks say so: an unreadable kind, or -n for the check that needs every namespace.
func TestCapacityNotEvaluated(t *testing.T) {
	plan, err := engine.Select(capacity.Checks(), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		t.Fatal(err)
	}
	reasons := func(namespace string) map[string]string {
		s := loadFixture(t, "capacity/testdata/priorityclass-preemption.yaml")
		s.MarkUnavailable(snapshot.KindPriorityClasses, "forbidden")
		s.Namespace = namespace
		s.Finish()
		out := map[string]string{}
		for _, n := range engine.Run(s, plan, fixNow).NotEvaluated {
			out[n.Check] = n.Reason
		}
		return out
	}
	if got := reasons("")["priorityclass-preemption"]; !strings.Contains(got, "cannot read priorityclasses: forbidden") {
		t.Errorf("priorityclass-preemption: %q", got)
	}
	limited := reasons("shop")
	for _, id := range []string{"pods-pending", "priorityclass-preemption"} {
		if !strings.Contains(limited[id], "limited (-n)") {
			t.Errorf("%s under -n: %q", id, limited[id])
		}
	}
	if _, ok := limited["quota-exhausted"]; ok {
		t.Error("quota-exhausted judges a namespace's quotas within it")
	}
}
