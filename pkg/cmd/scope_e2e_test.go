//go:build e2e

package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The scenario's billing namespace is healthy, on a cluster that is not: -n billing is a run of
// that namespace, so it passes, and every check it leaves out says why, truly.
func TestNamespaceRunOfAHealthyNamespace(t *testing.T) {
	r := admin(t, "diagnose", "-n", "billing", "-o", "json")
	rep := r.report(t)
	if r.code != report.ExitOK || len(rep.Findings) != 0 {
		t.Errorf("exit %d, findings %q; want 0 and none: node-c, which is not Ready, runs nothing of billing\n%s", r.code, findingKeys(rep), r.stderr)
	}
	// The reasons this cluster gives, each true of it: the run was limited, the conntrack
	// sources run in monitoring, metrics-server, cert-manager and the Gateway API are not installed,
	// and no --prometheus-url names where the volume usage is.
	truths := []*regexp.Regexp{
		regexp.MustCompile(`^needs objects beyond namespace billing, to which the run was limited \(-n\)$`),
		regexp.MustCompile(`^judges what runs in kube-system( or openshift-dns)?, beyond namespace billing, to which the run was limited \(-n\)$`),
		regexp.MustCompile(`^cannot read conntrack: no source measured any node's connection-tracking table \(Prometheus: --prometheus-url not given, ` +
			`and no Prometheus Service was found in namespace billing \(-n limits the search\); node-exporter pods: none running in namespace billing \(-n limits the search\)\)`),
		regexp.MustCompile(`^cannot read podmetrics: the metrics API \(metrics.k8s.io\) is not served`),
		regexp.MustCompile(`^cannot read certificates.cert-manager.io: cert-manager's Certificate API \(cert-manager.io/v1\) is not served`),
		regexp.MustCompile(`^cannot read httproutes: the Gateway API \(gateway.networking.k8s.io/v1\) is not served`),
		regexp.MustCompile(`^cannot read volume-stats: --prometheus-url not given`),
	}
	for _, ne := range rep.NotEvaluated {
		if ne.Code != report.NotApplicable {
			t.Errorf("%s could not see (%s): a healthy namespace's run is complete", ne.Check, ne.Reason)
		}
		if !slices.ContainsFunc(truths, func(re *regexp.Regexp) bool { return re.MatchString(ne.Reason) }) {
			t.Errorf("%s: unexpected reason %q", ne.Check, ne.Reason)
		}
	}
	// What concerns other nodes and the cluster is counted and said, not reported.
	if rep.Summary.OutOfScope == 0 || !strings.Contains(r.stderr, "note: left out ") || !strings.Contains(r.stderr, "(namespace billing)") {
		t.Errorf("out of scope %d, stderr %q", rep.Summary.OutOfScope, r.stderr)
	}
	if rep.Metadata.Namespace != "billing" {
		t.Errorf("metadata namespace %q", rep.Metadata.Namespace)
	}
}

// A node finding is in a namespace's run when a pod of the namespace runs on that node: shop
// runs on node-a and node-b, not on node-c; data's one pod is pending.
func TestNamespaceRunGatesNodeFindingsOnItsPods(t *testing.T) {
	keys := findingKeys(admin(t, "diagnose", "-n", "shop", "-o", "json", "--fail-on", "none").report(t))
	for _, want := range []string{"node-pressure node/node-b", "conntrack-table-full-reported node/node-b"} {
		if !slices.Contains(keys, want) {
			t.Errorf("-n shop: no %q in %q", want, keys)
		}
	}
	for _, key := range keys {
		if strings.Contains(key, "node/node-c") {
			t.Errorf("-n shop reported %q: shop runs nothing on node-c", key)
		}
	}
	// The gate follows: node-c's outage fails the whole cluster's run, not shop's nor data's.
	if r := admin(t, "diagnose", "--checks", "node-not-ready"); r.code != report.ExitGateFailed {
		t.Errorf("whole cluster: exit %d, want 1", r.code)
	}
	for _, ns := range []string{"shop", "data"} {
		r := admin(t, "diagnose", "-n", ns, "--checks", "node-not-ready", "-o", "json")
		if rep := r.report(t); r.code != report.ExitOK || len(rep.Findings) != 0 || rep.Summary.OutOfScope != 1 {
			t.Errorf("-n %s: exit %d, findings %q, summary %+v", ns, r.code, findingKeys(rep), rep.Summary)
		}
	}
}

// --object that names nothing is exit 2 saying where the object is, not a clean report.
func TestObjectThatIsNotThere(t *testing.T) {
	for want, args := range map[string][]string{
		"error: --object: deployment/cart not found in namespace default; it exists in namespace shop: add -n shop\n": {"--object", "deployment/cart"},
		"error: --object: deployment/cart not found in namespace data; the run read namespace data only (-n)\n":       {"-n", "data", "--object", "deployment/cart"},
		"error: --object: node/node-z not found\n": {"--object", "node/node-z"},
		"error: --object: pod/cart not found in namespace shop (there is deployment/cart); the run read namespace shop only (-n)\n": {"-n", "shop", "--object", "pod/cart"},
	} {
		r := admin(t, append([]string{"diagnose"}, args...)...)
		if r.code != report.ExitError || r.stderr != want || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 saying %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
	// -A finds it in whichever namespace holds it.
	r := admin(t, "diagnose", "-A", "--object", "deployment/cart", "-o", "json")
	if keys := findingKeys(r.report(t)); r.code != report.ExitGateFailed || !slices.Contains(keys, "deployment-unavailable shop/deployment/cart") {
		t.Errorf("-A: exit %d, findings %q", r.code, keys)
	}
}

// -l narrows the report to the selected objects, the nodes their pods run on and the
// namespaces that hold them, while the checks still see everything.
func TestSelectorNarrowsTheReport(t *testing.T) {
	r := admin(t, "diagnose", "-l", "app=cart", "-o", "json", "--fail-on", "none")
	rep := r.report(t)
	keys := findingKeys(rep)
	// netpol-egress-blocks-dns needs every policy and the DNS pods in kube-system to judge cart.
	for _, want := range []string{"deployment-unavailable shop/deployment/cart", "netpol-egress-blocks-dns shop/deployment/cart", "node-pressure node/node-b"} {
		if !slices.Contains(keys, want) {
			t.Errorf("-l app=cart: no %q in %q", want, keys)
		}
	}
	inScope := func(o snapshot.Ref) bool {
		return o.String() == "shop/deployment/cart" || o.Kind == "Namespace" || o.String() == "node/node-a" || o.String() == "node/node-b"
	}
	for _, f := range rep.Findings {
		if !slices.ContainsFunc(f.Objects, inScope) {
			t.Errorf("-l app=cart reported %s about %v", f.Check, f.Objects)
		}
	}
	if rep.Summary.OutOfScope == 0 {
		t.Errorf("summary %+v", rep.Summary)
	}
	for want, args := range map[string][]string{
		`invalid -l/--selector "app in (cart"`:                     {"diagnose", "-l", "app in (cart"},
		"-A (--all-namespaces) and -n shop ask for different runs": {"diagnose", "-A", "-n", "shop"},
		"-A (--all-namespaces) and -n data ask for different runs": {"snapshot", "-o", filepath.Join(t.TempDir(), "x.gz"), "-n", "data", "-A"},
		"-l narrows a report's findings":                           {"rbac-audit", "--who-can", "get", "secrets", "-l", "app=cart"},
	} {
		r := admin(t, args...)
		if r.code != report.ExitError || !strings.Contains(r.stderr, want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 saying %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
}

// rbac-audit takes -l on its report, and -A on --who-can: every namespace at once, so only
// cluster-wide grants count, as kubectl auth can-i -A.
func TestRBACAuditScope(t *testing.T) {
	r := admin(t, "rbac-audit", "-l", "no-such-label=x", "-o", "json")
	if rep := r.report(t); len(rep.Findings) != 0 || rep.Summary.OutOfScope == 0 || r.code != report.ExitOK {
		t.Errorf("-l matching nothing: exit %d, findings %q, summary %+v", r.code, findingKeys(rep), rep.Summary)
	}
	inShop := admin(t, "rbac-audit", "--who-can", "create", "pods/exec", "-n", "shop")
	everywhere := admin(t, "rbac-audit", "--who-can", "create", "pods/exec", "-A")
	// support may exec in shop only, through a RoleBinding there.
	if !strings.Contains(inShop.stdout, "user support") || strings.Contains(everywhere.stdout, "user support") || everywhere.code != 0 {
		t.Errorf("-n shop:\n%s\n-A (exit %d):\n%s%s", inShop.stdout, everywhere.code, everywhere.stdout, everywhere.stderr)
	}
}

// snapshot -o - writes the snapshot, and nothing else, to stdout; a replay takes -n, as a
// namespace run over what was recorded, and finds --object where it is.
func TestSnapshotToStdoutAndNamespaceReplays(t *testing.T) {
	rec := admin(t, "snapshot", "-o", "-")
	if rec.code != 0 || !strings.Contains(rec.stderr, " to stdout (") {
		t.Fatalf("snapshot -o -: exit %d, stderr %s", rec.code, rec.stderr)
	}
	if _, _, err := snapshot.ReadFile("<stdout>", bytes.NewReader([]byte(rec.stdout))); err != nil {
		t.Fatalf("stdout is not a snapshot, or not only one: %v", err)
	}
	file := filepath.Join(t.TempDir(), "incident.alertmend.gz")
	if err := os.WriteFile(file, []byte(rec.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, testEnv{terminal: true}, "snapshot", "-o", "-", "--kubeconfig", cluster.Kubeconfig); r.code != report.ExitError ||
		!strings.Contains(r.stderr, "stdout, which is a terminal") || r.stdout != "" {
		t.Errorf("to a terminal: exit %d, stdout %d bytes, stderr %q", r.code, len(r.stdout), r.stderr)
	}

	replay := func(args ...string) result {
		return run(t, testEnv{}, append([]string{"diagnose", "--snapshot", file}, args...)...)
	}
	r := replay("-n", "billing", "-o", "json")
	if rep := r.report(t); len(rep.Findings) != 0 || rep.Summary.OutOfScope == 0 || rep.Metadata.Namespace != "billing" {
		t.Errorf("-n billing over the snapshot: findings %q, summary %+v, namespace %q", findingKeys(rep), rep.Summary, rep.Metadata.Namespace)
	}
	r = replay("-n", "shop", "--object", "deployment/cart", "-o", "json")
	if keys := findingKeys(r.report(t)); !slices.Contains(keys, "deployment-unavailable shop/deployment/cart") {
		t.Errorf("--object in the snapshot: findings %q, stderr %s", keys, r.stderr)
	}
	r = replay("--object", "deployment/cart")
	if want := "deployment/cart not found in namespace default; it exists in namespace shop: add -n shop"; r.code != report.ExitError || !strings.Contains(r.stderr, want) {
		t.Errorf("--object without -n: exit %d, stderr %q; want %q", r.code, r.stderr, want)
	}

	// A snapshot of one namespace holds no other.
	shopOnly := filepath.Join(t.TempDir(), "shop.alertmend.gz")
	if rec := admin(t, "snapshot", "-n", "shop", "-o", shopOnly); rec.code != 0 {
		t.Fatalf("snapshot -n shop: %s", rec.stderr)
	}
	assertCleanFailure(t, run(t, testEnv{}, "diagnose", "--snapshot", shopOnly, "-n", "data"), "the snapshot was recorded with -n shop: it holds nothing of namespace data")
	// Without -n, the replay is shop's run, as the recording was: node-c runs nothing of shop;
	// --object is looked for in shop.
	r = run(t, testEnv{}, "diagnose", "--snapshot", shopOnly, "-o", "json")
	for _, key := range findingKeys(r.report(t)) {
		if strings.Contains(key, "node/node-c") {
			t.Errorf("replay of shop's snapshot reported %q", key)
		}
	}
	if r := run(t, testEnv{}, "diagnose", "--snapshot", shopOnly, "--object", "deployment/cart", "-o", "json"); r.code != report.ExitGateFailed {
		t.Errorf("--object in a snapshot of shop: exit %d, stderr %s", r.code, r.stderr)
	}
}
