package engine

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/config"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// order is the report's findings as "check:first object", in order.
func order(r *report.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Check+":"+f.Objects[0].Name)
	}
	return out
}

// incidentsOf is the report's incidents as "root > symptom, ..." with the findings' checks and
// first objects.
func incidentsOf(r *report.Report) []string {
	byID := map[string]check.Finding{}
	for _, f := range r.Findings {
		byID[f.ID] = f
	}
	name := func(id string) string { return byID[id].Check + ":" + byID[id].Objects[0].Name }
	var out []string
	for _, inc := range r.Incidents {
		var symptoms []string
		for _, id := range inc.Symptoms {
			symptoms = append(symptoms, name(id))
		}
		out = append(out, name(inc.Root)+" > "+strings.Join(symptoms, ", "))
	}
	return out
}

// A node's finding explains the workloads its link reaches; the workload it does not reach
// stands alone. The incident ranks by its worst member (the critical symptom), above a
// critical latent risk, and lists its root first although the root is only high.
func TestIncidentsGroupWhatLinksReachAndRankByTheWorst(t *testing.T) {
	node := stub("node-down", check.CategoryWorkloads, check.High, true)
	node.meta.Links = []check.Link{{Explains: []string{"workload-down"}, How: "the workloads on it",
		Reach: func(*snapshot.Snapshot, check.Finding) []snapshot.Ref {
			return []snapshot.Ref{snapshot.RefTo(snapshot.KindPods, "ns", "cart"), snapshot.RefTo(snapshot.KindPods, "ns", "web")}
		}}}
	node.findings = []check.Finding{finding("node-down", check.High, true, check.ScopeCluster, "n1")}
	workload := stub("workload-down", check.CategoryWorkloads, check.Critical, true)
	workload.findings = []check.Finding{
		finding("workload-down", check.Critical, true, check.ScopeObject, "cart"),
		finding("workload-down", check.Medium, true, check.ScopeObject, "web"),
		finding("workload-down", check.Critical, true, check.ScopeObject, "api"), // not on the node
	}
	risk := stub("risk", check.CategoryRBAC, check.Critical, false)
	risk.findings = []check.Finding{finding("risk", check.Critical, false, check.ScopeCluster, "admin")}
	r := Run(snapshot.New(snapshot.SourceCluster), Plan{Run: []check.Check{risk, workload, node}}, time.Unix(0, 0))

	if got, want := incidentsOf(r), []string{"node-down:n1 > workload-down:cart, workload-down:web"}; !slices.Equal(got, want) {
		t.Errorf("incidents %q, want %q", got, want)
	}
	want := []string{"node-down:n1", "workload-down:cart", "workload-down:web", "workload-down:api", "risk:admin"}
	if got := order(r); !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
	if r.Incidents[0].Root != r.Findings[0].ID || r.Findings[0].ID == "" {
		t.Errorf("findings[0] %q is not the first incident's root %q", r.Findings[0].ID, r.Incidents[0].Root)
	}
}

// An absorbed finding about the absorbing finding's own object is a part of it, folded in; one
// about another object is its symptom, a finding of its own in its incident.
func TestAbsorbedFindingsAboutOtherObjectsAreSymptoms(t *testing.T) {
	webhook := stub("webhook-down", check.CategoryAdmission, check.High, true)
	webhook.meta.Absorbs = []string{"webhook-risky", "workload-down"}
	webhook.findings = []check.Finding{finding("webhook-down", check.High, true, check.ScopeCluster, "hook", "cart")}
	risky := stub("webhook-risky", check.CategoryAdmission, check.Medium, false)
	risky.findings = []check.Finding{finding("webhook-risky", check.Medium, false, check.ScopeCluster, "hook")}
	workload := stub("workload-down", check.CategoryWorkloads, check.Critical, true)
	workload.findings = []check.Finding{finding("workload-down", check.Critical, true, check.ScopeObject, "cart")}
	r := Run(snapshot.New(snapshot.SourceCluster), Plan{Run: []check.Check{webhook, risky, workload}}, time.Unix(0, 0))

	if got, want := order(r), []string{"webhook-down:hook", "workload-down:cart"}; !slices.Equal(got, want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	if got, want := incidentsOf(r), []string{"webhook-down:hook > workload-down:cart"}; !slices.Equal(got, want) {
		t.Errorf("incidents %q, want %q", got, want)
	}
	if !slices.ContainsFunc(r.Findings[0].Evidence, func(e string) bool { return strings.Contains(e, "also reported by webhook-risky") }) {
		t.Errorf("the risky shape is not folded into the webhook's finding: %q", r.Findings[0].Evidence)
	}
}

// Links that would make a cycle are not followed: each finding has one cause, and the chain
// has a root.
func TestIncidentLinksNeverCycle(t *testing.T) {
	a := stub("a", check.CategoryWorkloads, check.High, true)
	a.meta.Links = []check.Link{check.SameObjects("same", "b")}
	a.findings = []check.Finding{finding("a", check.High, true, check.ScopeObject, "x")}
	b := stub("b", check.CategoryWorkloads, check.High, true)
	b.meta.Links = []check.Link{check.SameObjects("same", "a")}
	b.findings = []check.Finding{finding("b", check.High, true, check.ScopeObject, "x")}
	r := Run(snapshot.New(snapshot.SourceCluster), Plan{Run: []check.Check{a, b}}, time.Unix(0, 0))
	if got, want := incidentsOf(r), []string{"a:x > b:x"}; !slices.Equal(got, want) {
		t.Errorf("incidents %q, want %q", got, want)
	}
}

// An incident whose root a rule silences ends; its symptom stands alone and still reports.
func TestSilencedRootEndsItsIncident(t *testing.T) {
	node := stub("node-down", check.CategoryWorkloads, check.High, true)
	node.meta.Links = []check.Link{check.SameObjects("same", "workload-down")}
	node.findings = []check.Finding{finding("node-down", check.High, true, check.ScopeObject, "cart")}
	workload := stub("workload-down", check.CategoryWorkloads, check.Critical, true)
	workload.findings = []check.Finding{finding("workload-down", check.Critical, true, check.ScopeObject, "cart")}
	plan := Plan{Run: []check.Check{node, workload}}
	s := snapshot.New(snapshot.SourceCluster)
	r := Diagnose(s, plan, Policy{Now: time.Unix(0, 0), Config: &config.Config{Ignore: []config.IgnoreRule{{Check: "node-down"}}}})
	if len(r.Incidents) != 0 || len(r.Findings) != 1 || r.Findings[0].Check != "workload-down" {
		t.Errorf("incidents %q, findings %q", incidentsOf(r), order(r))
	}
}

// A symptom goes to its most specific cause: the finding about the same workload (its image
// pull) over a more urgent one that reaches it among others (a policy isolating two
// workloads), which still explains the workload it alone reaches.
func TestTheMostSpecificCauseClaimsASymptom(t *testing.T) {
	policy := stub("policy-blocks", check.CategoryNetpol, check.Critical, true)
	policy.meta.Links = []check.Link{check.SameObjects("the workloads it isolates", "workload-down")}
	policy.findings = []check.Finding{finding("policy-blocks", check.Critical, true, check.ScopeObject, "cart", "checkout")}
	pull := stub("image-pull", check.CategoryWorkloads, check.High, true)
	pull.meta.Links = []check.Link{check.SameObjects("its workload", "workload-down")}
	pull.findings = []check.Finding{finding("image-pull", check.High, true, check.ScopeObject, "checkout")}
	workload := stub("workload-down", check.CategoryWorkloads, check.High, true)
	workload.findings = []check.Finding{
		finding("workload-down", check.High, true, check.ScopeObject, "cart"),
		finding("workload-down", check.High, true, check.ScopeObject, "checkout"),
	}
	r := Run(snapshot.New(snapshot.SourceCluster), Plan{Run: []check.Check{policy, pull, workload}}, time.Unix(0, 0))
	want := []string{"policy-blocks:cart > workload-down:cart", "image-pull:checkout > workload-down:checkout"}
	if got := incidentsOf(r); !slices.Equal(got, want) {
		t.Errorf("incidents %q, want %q", got, want)
	}
}

// A rollout of a symptom's workload is listed among the changes before the incident, but its
// undo joins the root's fix only when the root is about that workload.
func TestIncidentUndoOnlyForTheRootsOwnObjects(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s.CollectedAt = now
	one := int32(1)
	s.Deployments = []appsv1.Deployment{{ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: "ns", UID: "d1",
		CreationTimestamp: metav1.NewTime(now.Add(-48 * time.Hour))}, Spec: appsv1.DeploymentSpec{Replicas: &one}}}
	rs := func(name, revision string, age time.Duration, image string) appsv1.ReplicaSet {
		return appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(now.Add(-age)),
			Annotations:     map[string]string{"deployment.kubernetes.io/revision": revision},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "cart", UID: "d1", Controller: ptr(true)}}},
			Spec: appsv1.ReplicaSetSpec{Replicas: &one, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}}}
	}
	s.ReplicaSets = []appsv1.ReplicaSet{rs("cart-1", "1", 48*time.Hour, "cart:1"), rs("cart-2", "2", 30*time.Minute, "cart:2")}
	s.Finish()
	deployment := snapshot.RefTo(snapshot.KindDeployments, "ns", "cart")
	since := now.Add(-10 * time.Minute)

	node := stub("node-down", check.CategoryWorkloads, check.High, true)
	node.meta.Links = []check.Link{{Explains: []string{"workload-down"}, How: "the workloads on it",
		Reach: func(*snapshot.Snapshot, check.Finding) []snapshot.Ref { return []snapshot.Ref{deployment} }}}
	nf := finding("node-down", check.High, true, check.ScopeCluster)
	nf.Objects, nf.Since, nf.Fix = []snapshot.Ref{snapshot.RefTo(snapshot.KindNodes, "", "n1")}, &since, []string{"kubectl describe node n1"}
	node.findings = []check.Finding{nf}
	workload := stub("workload-down", check.CategoryWorkloads, check.Critical, true)
	wf := finding("workload-down", check.Critical, true, check.ScopeObject)
	wf.Objects = []snapshot.Ref{deployment}
	workload.findings = []check.Finding{wf}

	r := Run(s, Plan{Run: []check.Check{workload, node}}, now)
	if len(r.Incidents) != 1 || len(r.Incidents[0].Changes) == 0 {
		t.Fatalf("incidents %+v", r.Incidents)
	}
	for _, line := range r.Findings[0].Fix {
		if strings.Contains(line, "rollout undo") {
			t.Errorf("the node's fix rolls back a workload it only affects: %q", line)
		}
	}
}

func ptr[T any](v T) *T { return &v }
