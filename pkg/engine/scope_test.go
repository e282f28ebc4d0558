package engine

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// scopeObjects: shop runs cart on node-a and web on node-b, and a finished pod on node-c;
// data runs db on node-c. cart carries app=cart on its template only.
const scopeObjects = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: data}
---
apiVersion: v1
kind: Namespace
metadata: {name: billing, labels: {team: billing}}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
---
apiVersion: v1
kind: Node
metadata: {name: node-b}
---
apiVersion: v1
kind: Node
metadata: {name: node-c}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec: {selector: {matchLabels: {app: cart}}, template: {metadata: {labels: {app: cart}}, spec: {containers: [{name: c, image: i}]}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: cart-1
  namespace: shop
  labels: {app: cart}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: cart, uid: u, controller: true}]
spec: {nodeName: node-a, containers: [{name: c, image: i}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: i}]}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u, controller: true}]
spec: {nodeName: node-b, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: report-1, namespace: shop, labels: {app: cart}}
spec: {nodeName: node-c, containers: [{name: c, image: i}]}
status: {phase: Succeeded}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: data, labels: {app: db}}
spec: {nodeName: node-c, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder, namespace: shop}
`

func scopeSnapshot(t *testing.T) *snapshot.Snapshot {
	t.Helper()
	s, err := (&snapshot.Loader{Stdin: strings.NewReader(scopeObjects)}).LoadFiles([]string{"-"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func node(name string) snapshot.Ref { return snapshot.RefTo(snapshot.KindNodes, "", name) }

func namespace(name string) snapshot.Ref { return snapshot.RefTo(snapshot.KindNamespaces, "", name) }

func TestScope(t *testing.T) {
	cartPod := snapshot.RefTo(snapshot.KindPods, "shop", "cart-1")
	builder := snapshot.RefTo(snapshot.KindServiceAccounts, "shop", "builder")
	kubeProxy := snapshot.RefTo(snapshot.KindDaemonSets, "kube-system", "kube-proxy")
	role := snapshot.RefTo(snapshot.KindClusterRoles, "", "admin-ish")
	findings := map[string]check.Finding{
		"node-a":          about("node-not-ready", check.High, node("node-a")),
		"node-b":          about("node-not-ready", check.High, node("node-b")),
		"node-c":          about("node-not-ready", check.High, node("node-c")),
		"nodes b and c":   about("node-pressure", check.High, node("node-b"), node("node-c")),
		"cart":            about("pod-crashloop", check.High, deployment("shop", "cart")),
		"cart's pod":      about("pod-crashloop", check.High, cartPod),
		"web":             about("pod-crashloop", check.High, deployment("shop", "web")),
		"db":              about("pod-crashloop", check.High, snapshot.RefTo(snapshot.KindPods, "data", "db-0")),
		"builder":         about("rbac-secrets-read", check.High, builder, role),
		"shop":            about("netpol-no-default-deny", check.Medium, namespace("shop")),
		"data":            about("netpol-no-default-deny", check.Medium, namespace("data")),
		"billing":         about("netpol-no-default-deny", check.Medium, namespace("billing")),
		"cluster role":    about("rbac-wildcard-role", check.Medium, role),
		"the cluster":     {Check: "apiserver-version-support", Severity: check.High},
		"web on node-c":   about("memory-pressure-unlimited-pods", check.High, node("node-c"), deployment("shop", "web")),
		"kube-proxy on a": about("conntrack-table-small", check.Low, kubeProxy, node("node-a")),
	}
	everything := func(string) bool { return true }
	cases := []struct {
		name  string
		scope Scope
		in    func(key string) bool
	}{
		{"no scope", Scope{}, everything},
		// Nodes are in by the live pods of shop on them: a finished pod holds no node.
		{"namespace shop", Scope{Namespace: "shop"}, func(key string) bool {
			switch key {
			case "node-a", "node-b", "nodes b and c", "cart", "cart's pod", "web", "builder", "shop", "web on node-c":
				return true
			}
			return false
		}},
		{"-l app=cart", Scope{Selector: mustSelector(t, "app=cart")}, func(key string) bool {
			switch key {
			case "node-a", "cart", "cart's pod", "shop":
				return true
			}
			return false
		}},
		// A namespace's own labels select it.
		{"-l team=billing", Scope{Selector: mustSelector(t, "team=billing")}, func(key string) bool { return key == "billing" }},
		{"namespace data, -l app=cart", Scope{Namespace: "data", Selector: mustSelector(t, "app=cart")}, func(string) bool { return false }},
	}
	s := scopeSnapshot(t)
	for _, tc := range cases {
		in := tc.scope.in(s)
		for key, f := range findings {
			if got := in(f); got != tc.in(key) {
				t.Errorf("%s: finding %q in the run = %v", tc.name, key, got)
			}
		}
	}

	// Pods that could not be read cannot tell which nodes are the namespace's: none is left out.
	s.Unavailable[snapshot.KindPods] = "forbidden"
	if in := (Scope{Namespace: "shop"}).in(s); !in(findings["node-c"]) {
		t.Error("with pods unread, node-c's finding was left out")
	}
}

func mustSelector(t *testing.T, text string) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

// Findings beyond the scope are counted, not reported, do not weigh on the exit code, and still
// keep the ignore rules that match them from being called stale.
func TestApplyScope(t *testing.T) {
	cfg := rules(t, "ignore:\n  - check: pod-crashloop\n    namespace: data\n    reason: being moved\n")
	r := &report.Report{Findings: []check.Finding{
		about("node-not-ready", check.Critical, node("node-c")),
		about("pod-crashloop", check.High, snapshot.RefTo(snapshot.KindPods, "data", "db-0")),
		about("netpol-no-default-deny", check.Medium, namespace("shop")),
		{Check: "apiserver-version-support", Severity: check.High},
	}}
	p := Policy{Config: cfg, Scope: Scope{Namespace: "shop"}, Ran: []string{"pod-crashloop"}, Now: time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)}
	Apply(r, scopeSnapshot(t), p)
	if got := checksOf(r.Findings); got != "netpol-no-default-deny namespace/shop" {
		t.Errorf("kept %s", got)
	}
	// The silenced finding about data is neither suppressed in this run nor out of its scope.
	if r.Summary.OutOfScope != 2 || r.Summary.Suppressed != 0 || r.Summary.Critical != 0 || r.ExitCode(check.High) != report.ExitOK {
		t.Errorf("summary %+v, exit %d", r.Summary, r.ExitCode(check.High))
	}
	if len(r.RuleNotices) != 0 {
		t.Errorf("the rule matched a finding beyond the scope, yet: %+v", r.RuleNotices)
	}
	if r.Metadata.Namespace != "shop" {
		t.Errorf("metadata namespace %q", r.Metadata.Namespace)
	}
}

func TestLocate(t *testing.T) {
	s := scopeSnapshot(t)
	cases := []struct {
		kind            snapshot.Kind
		namespace, name string
		found           string
		err             string
	}{
		{snapshot.KindDeployments, "shop", "cart", "shop/deployment/cart", ""},
		{snapshot.KindNodes, "shop", "node-a", "node/node-a", ""},
		{snapshot.KindDeployments, "default", "cart", "", "deployment/cart not found in namespace default; it exists in namespace shop: add -n shop"},
		// -A: wherever it is, when it is in one namespace.
		{snapshot.KindDeployments, "", "cart", "shop/deployment/cart", ""},
		{snapshot.KindDeployments, "", "nope", "", "deployment/nope not found in any namespace"},
		{snapshot.KindPods, "shop", "cart", "", "pod/cart not found in namespace shop (there is deployment/cart)"},
		{snapshot.KindNodes, "", "node-d", "", "node/node-d not found"},
		{snapshot.KindServiceAccounts, "data", "builder", "", "serviceaccount/builder not found in namespace data; it exists in namespace shop: add -n shop"},
	}
	for _, tc := range cases {
		ref, err := Locate(s, tc.kind, tc.namespace, tc.name)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s %s/%s: error %v, want %q", tc.kind, tc.namespace, tc.name, err, tc.err)
		case tc.err == "" && (err != nil || ref.String() != tc.found):
			t.Errorf("%s %s/%s: %s, %v; want %s", tc.kind, tc.namespace, tc.name, ref, err, tc.found)
		}
	}

	// In several namespaces, -A cannot choose.
	twice, err := (&snapshot.Loader{Stdin: strings.NewReader(scopeObjects + "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder, namespace: data}\n")}).
		LoadFiles([]string{"-"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Locate(twice, snapshot.KindServiceAccounts, "", "builder"); err == nil ||
		err.Error() != "serviceaccount/builder exists in namespaces data and shop: add -n with one of them" {
		t.Errorf("in two namespaces: %v", err)
	}

	// What could not be read cannot be looked in.
	s.Unavailable[snapshot.KindDeployments] = "forbidden"
	if _, err := Locate(s, snapshot.KindDeployments, "shop", "cart"); err == nil || !strings.Contains(err.Error(), "cannot look for deployment/cart: deployments could not be read: forbidden") {
		t.Errorf("unreadable kind: %v", err)
	}

	// A run limited to a namespace says it looked nowhere else; ConfigMaps of a whole-cluster
	// run are read in the add-ons' namespaces only.
	live := snapshot.New(snapshot.SourceCluster)
	live.Namespace = "shop"
	live.Finish()
	if _, err := Locate(live, snapshot.KindDeployments, "shop", "cart"); err == nil ||
		err.Error() != "deployment/cart not found in namespace shop; the run read namespace shop only (-n)" {
		t.Errorf("limited run: %v", err)
	}
	live.Namespace = ""
	if _, err := Locate(live, snapshot.KindConfigMaps, "shop", "settings"); err == nil ||
		err.Error() != "configmap/settings not found in namespace shop: ConfigMaps are read only in kube-system and openshift-dns unless -n names the namespace: add -n shop" {
		t.Errorf("configmap: %v", err)
	}
}

// A snapshot that holds one namespace is that namespace's run, as the live run that recorded it
// was; manifests loaded with -n hold all of their input.
func TestScopeForASnapshotOfOneNamespace(t *testing.T) {
	s := scopeSnapshot(t)
	s.Namespace = "shop"
	if got := (Scope{}).For(s); got.Namespace != "" {
		t.Errorf("manifests with -n: scope %+v", got)
	}
	s.Source = snapshot.SourceSnapshot
	if got := (Scope{}).For(s); got.Namespace != "shop" || !got.Narrows() {
		t.Errorf("snapshot of shop: scope %+v", got)
	}
	r := &report.Report{Findings: []check.Finding{about("node-not-ready", check.Critical, node("node-c"))}}
	Apply(r, s, Policy{})
	if len(r.Findings) != 0 || r.Summary.OutOfScope != 1 || r.Metadata.Namespace != "shop" {
		t.Errorf("replayed without -n: findings %+v, summary %+v, metadata %+v", r.Findings, r.Summary, r.Metadata)
	}
}
