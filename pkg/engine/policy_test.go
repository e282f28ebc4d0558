package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/config"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const policyObjects = `apiVersion: v1
kind: Namespace
metadata:
  name: legacy
  annotations: {alertmend.io/ignore: "container-*", alertmend.io/ignore-reason: "being retired"}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cart
  namespace: shop
  labels: {team: data}
  annotations: {alertmend.io/ignore: "pod-crashloop, rbac-secrets-read", alertmend.io/ignore-reason: "a known flake"}
spec: {selector: {matchLabels: {app: cart}}, template: {metadata: {labels: {app: cart}}, spec: {containers: [{name: c, image: i}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {team: web}}
spec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: i}]}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: cart-1
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: cart, uid: u, controller: true}]
spec: {nodeName: node-a, containers: [{name: c, image: i}]}
`

func policySnapshot(t *testing.T) *snapshot.Snapshot {
	t.Helper()
	s, err := (&snapshot.Loader{Stdin: strings.NewReader(policyObjects)}).LoadFiles([]string{"-"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func deployment(ns, name string) snapshot.Ref {
	return snapshot.RefTo(snapshot.KindDeployments, ns, name)
}

func about(id string, sev check.Severity, objects ...snapshot.Ref) check.Finding {
	return check.Finding{Check: id, Severity: sev, Objects: objects}
}

func applied(t *testing.T, p Policy, findings ...check.Finding) *report.Report {
	t.Helper()
	r := &report.Report{Findings: findings}
	if p.Now.IsZero() {
		p.Now = time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)
	}
	if p.Ran == nil {
		p.Ran = []string{"container-no-limits", "pod-crashloop", "rbac-secrets-read", "netpol-no-default-deny"}
	}
	Apply(r, policySnapshot(t), p)
	return r
}

func checksOf(findings []check.Finding) string {
	var out []string
	for _, f := range findings {
		out = append(out, f.Check+" "+f.Objects[0].String())
	}
	return strings.Join(out, ", ")
}

func TestAnnotationsSilence(t *testing.T) {
	r := applied(t, Policy{ShowSuppressed: true},
		about("pod-crashloop", check.High, deployment("shop", "cart")),
		about("pod-crashloop", check.High, deployment("shop", "web")),
		about("container-no-limits", check.Medium, deployment("legacy", "old")),
		about("container-no-limits", check.Medium, deployment("shop", "cart")),
	)
	if got := checksOf(r.Findings); got != "pod-crashloop shop/deployment/web, container-no-limits shop/deployment/cart" {
		t.Errorf("kept %s", got)
	}
	if r.Summary.Suppressed != 2 || r.Summary.High != 1 || r.Summary.Medium != 1 || len(r.Suppressed) != 2 {
		t.Fatalf("summary %+v, suppressed %+v", r.Summary, r.Suppressed)
	}
	if s := r.Suppressed[0]; s.By != "annotation alertmend.io/ignore on deployment shop/cart" || s.Reason != "a known flake" {
		t.Errorf("object annotation: %+v", s)
	}
	if s := r.Suppressed[1]; s.By != "annotation alertmend.io/ignore on namespace legacy" || s.Reason != "being retired" {
		t.Errorf("namespace annotation: %+v", s)
	}
	// Without --show-suppressed they are counted, not listed.
	if r := applied(t, Policy{}, about("pod-crashloop", check.High, deployment("shop", "cart"))); r.Summary.Suppressed != 1 || r.Suppressed != nil {
		t.Errorf("hidden: %+v %+v", r.Summary, r.Suppressed)
	}
}

// A chain (subject, binding, role) is one thing: silencing a link silences it. Many objects of
// one kind are many things: all must be silenced.
func TestMultiObjectFindings(t *testing.T) {
	sa := snapshot.RefTo(snapshot.KindServiceAccounts, "shop", "builder")
	chain := about("rbac-secrets-read", check.High, sa, deployment("shop", "cart"))
	r := applied(t, Policy{}, chain)
	if len(r.Findings) != 0 || r.Summary.Suppressed != 1 {
		t.Errorf("chain with a silenced link kept: %s", checksOf(r.Findings))
	}
	partly := about("container-no-limits", check.Medium, deployment("legacy", "a"), deployment("shop", "web"))
	if r := applied(t, Policy{}, partly); len(r.Findings) != 1 {
		t.Errorf("aggregate with one live object was silenced")
	}
	all := about("container-no-limits", check.Medium, deployment("legacy", "a"), deployment("legacy", "b"))
	if r := applied(t, Policy{}, all); len(r.Findings) != 0 {
		t.Errorf("aggregate of silenced objects kept")
	}
}

func rules(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(".alertmend.yaml", []byte(text), []string{"container-no-limits", "pod-crashloop", "rbac-secrets-read", "netpol-no-default-deny", "apiserver-audit-log"})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestConfigRules(t *testing.T) {
	cfg := rules(t, `ignore:
  - check: "container-*"
    kind: deployment
    namespace: "sh*"
    selector: team=web
    reason: sized by the VPA
  - check: netpol-no-default-deny
    namespace: shop
    reason: mesh enforces it
  - check: pod-crashloop
    reason: old
    expires: 2027-01-01
  - check: rbac-secrets-read
    reason: nothing to match
  - check: apiserver-audit-log
    reason: not run
`)
	r := applied(t, Policy{Config: cfg, ShowSuppressed: true},
		about("container-no-limits", check.Medium, deployment("shop", "web")),  // rule 1
		about("container-no-limits", check.Medium, deployment("shop", "cart")), // label team=data: kept
		about("netpol-no-default-deny", check.Medium, snapshot.RefTo(snapshot.KindNamespaces, "", "shop")),
		about("pod-crashloop", check.High, deployment("shop", "web")), // the rule expired
	)
	if got := checksOf(r.Findings); got != "pod-crashloop shop/deployment/web, container-no-limits shop/deployment/cart" {
		t.Errorf("kept %s", got)
	}
	if len(r.Suppressed) != 2 || r.Suppressed[0].By != "ignore rule at .alertmend.yaml:2" || r.Suppressed[0].Reason != "sized by the VPA" ||
		r.Suppressed[1].By != "ignore rule at .alertmend.yaml:7" {
		t.Errorf("suppressed %+v", r.Suppressed)
	}
	// The expired rule is reported, and so is the one that matched nothing; the rule for a
	// check that did not run is not stale.
	if len(r.RuleNotices) != 2 {
		t.Fatalf("notices %+v", r.RuleNotices)
	}
	if n := r.RuleNotices[0]; n.Rule != ".alertmend.yaml:10" || n.Problem != "expired" || !strings.Contains(n.Detail, "expired on 2027-01-01") ||
		!strings.Contains(n.Detail, "1 finding is reported again") {
		t.Errorf("expired notice %+v", n)
	}
	if n := r.RuleNotices[1]; n.Rule != ".alertmend.yaml:13" || n.Problem != "stale" {
		t.Errorf("stale notice %+v", n)
	}
}

func TestRuleWithoutObjectFieldsMatchesFindingsAboutNoObject(t *testing.T) {
	cfg := rules(t, "ignore:\n  - check: apiserver-audit-log\n    reason: managed control plane\n  - namespace: shop\n    reason: x\n")
	clusterWide := check.Finding{Check: "apiserver-audit-log", Severity: check.High}
	r := applied(t, Policy{Config: cfg, Ran: []string{"apiserver-audit-log"}}, clusterWide, check.Finding{Check: "pod-crashloop", Severity: check.High})
	if len(r.Findings) != 1 || r.Findings[0].Check != "pod-crashloop" {
		t.Errorf("kept %+v", r.Findings)
	}
}

func TestSeverityOverridesAndBaseline(t *testing.T) {
	cfg := rules(t, "severity:\n  pod-crashloop: low\n")
	known := about("container-no-limits", check.High, deployment("shop", "web"), deployment("shop", "cart"))
	baseline := report.NewBaseline([]check.Finding{known})
	// Reordered objects and another message are still the known finding.
	again := about("container-no-limits", check.High, deployment("shop", "cart"), deployment("shop", "web"))
	again.Message = "reworded"
	fresh := about("container-no-limits", check.High, deployment("shop", "web"))
	r := applied(t, Policy{Config: cfg, Baseline: baseline}, about("pod-crashloop", check.High, deployment("shop", "web")), again, fresh)
	if r.Summary.High != 2 || r.Summary.Low != 1 || r.Summary.Baselined != 1 {
		t.Errorf("summary %+v", r.Summary)
	}
	low := r.Findings[len(r.Findings)-1]
	if low.Check != "pod-crashloop" || low.Severity != check.Low || !strings.Contains(strings.Join(low.Evidence, "\n"), "severity set to low by .alertmend.yaml (the check said high)") {
		t.Errorf("override %+v", low)
	}
	if code := r.ExitCode(check.High); code != report.ExitGateFailed {
		t.Errorf("a new high finding must fail the gate: %d", code)
	}
	r = applied(t, Policy{Baseline: baseline}, again)
	if code := r.ExitCode(check.High); code != report.ExitOK || !r.Findings[0].Baselined {
		t.Errorf("only known findings: exit %d", code)
	}
}

func TestFocus(t *testing.T) {
	pod := snapshot.RefTo(snapshot.KindPods, "shop", "cart-1")
	node := snapshot.RefTo(snapshot.KindNodes, "", "node-a")
	r := applied(t, Policy{Focus: &pod},
		about("pod-crashloop", check.High, deployment("shop", "web")),
		about("container-no-limits", check.Medium, deployment("shop", "cart")), // the pod's owner
		about("node-not-ready", check.Critical, node),                          // the pod's node
		about("pod-pending", check.High, pod),
		about("node-not-ready", check.Critical, snapshot.RefTo(snapshot.KindNodes, "", "node-b")),
	)
	if got := checksOf(r.Findings); got != "node-not-ready node/node-a, pod-pending shop/pod/cart-1, container-no-limits shop/deployment/cart" {
		t.Errorf("focused on %s", got)
	}
}

// Recording the baseline makes every finding known in the run that records it, so that run's
// gate passes on them and the next run's fails only on what is new.
func TestRecordBaselineMarksEveryFinding(t *testing.T) {
	r := applied(t, Policy{RecordBaseline: true}, about("pod-crashloop", check.High, deployment("shop", "web")),
		about("container-no-limits", check.Critical, deployment("shop", "web")))
	if r.Summary.Baselined != 2 || !r.Findings[0].Baselined || !r.Findings[1].Baselined {
		t.Errorf("summary %+v, findings %+v", r.Summary, r.Findings)
	}
	if code := r.ExitCode(check.High); code != report.ExitOK {
		t.Errorf("exit %d, want 0: what was just recorded is known", code)
	}
}

// deploymentCheck finds one thing about every Deployment; it stands for a real check in the plan.
type deploymentCheck struct{}

func (deploymentCheck) Meta() check.Meta {
	return check.Meta{ID: "pod-crashloop", Title: "t", Category: check.CategoryWorkloads, Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindDeployments}}
}

func (deploymentCheck) Run(s *snapshot.Snapshot) []check.Finding {
	var out []check.Finding
	for _, d := range s.Deployments {
		out = append(out, about("pod-crashloop", check.High, deployment(d.Namespace, d.Name)))
	}
	return out
}

// Diagnose runs the plan and applies the policy in one call: what each command and each
// cluster of a fleet run does. A replayed snapshot says when it was recorded.
func TestDiagnose(t *testing.T) {
	s := policySnapshot(t)
	now := time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)
	plan := Plan{Run: []check.Check{deploymentCheck{}}}
	r := Diagnose(s, plan, Policy{Now: now})
	// cart's annotation silences pod-crashloop: only web's finding is left.
	if len(r.Findings) != 1 || r.Findings[0].Objects[0] != deployment("shop", "web") || r.Summary.Suppressed != 1 {
		t.Fatalf("findings %+v, summary %+v", r.Findings, r.Summary)
	}
	if r.Metadata.Source != "manifests" || r.Metadata.CollectedAt != nil || !r.Metadata.GeneratedAt.Equal(now) {
		t.Errorf("metadata %+v", r.Metadata)
	}
	recorded := now.Add(-time.Hour)
	s.Source, s.CollectedAt = snapshot.SourceSnapshot, recorded
	r = Diagnose(s, plan, Policy{Now: now})
	if r.Metadata.Source != "snapshot" || r.Metadata.CollectedAt == nil || !r.Metadata.CollectedAt.Equal(recorded) {
		t.Errorf("replayed metadata %+v", r.Metadata)
	}
}
