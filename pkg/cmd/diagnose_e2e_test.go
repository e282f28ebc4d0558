//go:build e2e

package cmd

import (
	"net"
	"regexp"

	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// The demo scenario, diagnosed as an on-call engineer would: every incident in it is found,
// named by its top-level owner, most urgent first.
func TestDiagnoseFindsTheScenarioIncidents(t *testing.T) {
	r := admin(t, "diagnose", "-o", "json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (critical findings)\nstderr: %s", r.code, r.stderr)
	}
	rep := r.report(t)
	// Each incident's root cause first, then its symptoms: the egress policy that blocks DNS
	// explains cart's crash loop, which explains its Deployment's outage. checkout's image
	// pull, the cause about checkout itself, explains its Deployment's shortfall rather than
	// the policy that isolates it among others.
	want := []string{
		"dns-unavailable kube-system/deployment/coredns",
		"netpol-egress-blocks-dns shop/deployment/cart",
		"pod-crashloop shop/deployment/cart",
		"deployment-unavailable shop/deployment/cart",
		"conntrack-table-full-reported node/node-b",
		"rbac-cluster-admin ci/serviceaccount/deployer",
		"dns-memory-limit-low kube-system/deployment/coredns",
		"node-not-ready node/node-c",
		"memory-pressure-unlimited-pods node/node-b",
		"daemonset-unavailable kube-system/daemonset/kube-proxy",
		"node-pressure node/node-b",
		"pod-image-pull shop/deployment/checkout",
		"deployment-unavailable shop/deployment/checkout",
		"pod-unschedulable data/statefulset/postgres",
		"statefulset-unavailable data/statefulset/postgres",
		"service-selector-no-match monitoring/service/prometheus-k8s",
		"rbac-pod-exec user/support",
		"rbac-secrets-read group/auditors",
		"pod-security-baseline monitoring/daemonset/node-exporter",
		"netpol-no-default-deny namespace/data",
		"apiserver-audit-log kube-system/pod/kube-apiserver-node-a",
		"apiserver-encryption-at-rest kube-system/pod/kube-apiserver-node-a",
		"apiserver-kubelet-certificate-authority kube-system/pod/kube-apiserver-node-a",
		"kubelet-version-skew node/node-c",
		"namespace-pod-security-unlabelled namespace/data",
		"namespace-pod-security-unlabelled namespace/monitoring",
		"namespace-pod-security-unlabelled namespace/shop",
		"memory-limit-missing kube-system/pod/kube-apiserver-node-a",
		"memory-limit-missing shop/deployment/checkout",
		"memory-request-missing shop/deployment/checkout",
		"conntrack-table-small kube-system/daemonset/kube-proxy",
		"namespace-without-limits namespace/data",
		"netpol-ingress-unisolated shop/deployment/cart",
		"apiserver-anonymous-auth kube-system/pod/kube-apiserver-node-a",
		"apiserver-profiling kube-system/pod/kube-apiserver-node-a",
		"apiserver-token-expiration-extended kube-system/pod/kube-apiserver-node-a",
		"besteffort-pod shop/deployment/checkout",
		"cpu-request-missing shop/deployment/checkout",
		"netpol-dangling data/networkpolicy/redis-cache",
		"netpol-peer-matches-nothing data/networkpolicy/postgres-from-shop",
		"pod-security-restricted data/statefulset/postgres",
		"pod-security-restricted shop/deployment/cart",
		"pod-security-restricted shop/deployment/checkout",
		"pod-security-restricted shop/deployment/frontend",
		"rbac-dangling-binding data/rolebinding/legacy-reader",
		"replicas-not-spread data/statefulset/postgres",
		"replicas-not-spread shop/deployment/cart",
		"replicas-not-spread shop/deployment/checkout",
		"replicas-not-spread shop/deployment/frontend",
		"netpol-egress-unisolated data/statefulset/postgres",
	}
	if got := findingKeys(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("findings, in priority order:\n got  %q\n want %q", got, want)
	}
	if rep.Metadata.Source != "cluster" || rep.Metadata.Context != "alertmend-test" || rep.Metadata.Server != cluster.Server {
		t.Errorf("metadata %+v", rep.Metadata)
	}
	if rep.Summary.Critical != 5 || rep.Summary.High != 14 || rep.Summary.ChecksRun != len(checks.All(checks.DefaultOptions()))-10 {
		t.Errorf("summary %+v", rep.Summary)
	}
	// The test control plane has no metrics-server, refuses to proxy to the loopback addresses
	// of its pods and nodes, and runs no network plugin or node_exporter: what needs those is not
	// evaluated, and says why.
	noConntrackSource := "Prometheus Service monitoring/prometheus-k8s (through the API server's service proxy): the API server's " +
		"service proxy answered 503: no endpoints available for service \"prometheus-k8s\"; node-exporter on node node-a: " +
		"GET pods/http:node-exporter-x7k2p:9100/proxy/metrics: address not allowed"
	wantBlind := map[string]string{
		"conntrack-drops":         noConntrackSource,
		"conntrack-table-usage":   noConntrackSource,
		"dns-forward-loop-risk":   "cannot be confirmed: the kubelet configuration could not be read",
		"dns-forward-unhealthy":   "pods/coredns-5c7b9d8f6-h4w8n:9153/proxy/metrics: address not allowed",
		"dns-servfail-ratio":      "pods/coredns-5c7b9d8f6-h4w8n:9153/proxy/metrics: address not allowed",
		"memory-usage-near-limit": "install metrics-server",
		// The test control plane runs no network plugin at all.
		"netpol-cni-not-enforcing": "no known network plugin's DaemonSet is in view",
		// Nor the Gateway API.
		"httproute-backend-broken":  "the Gateway API (gateway.networking.k8s.io/v1) is not served",
		"certificates-cert-manager": "cert-manager is not installed",
		// Volume usage is read from --prometheus-url alone.
		"volume-nearly-full": "--prometheus-url not given",
	}
	if len(rep.NotEvaluated) != len(wantBlind) {
		t.Errorf("not evaluated %+v", rep.NotEvaluated)
	}
	// What the cluster does not run is not applicable; what it runs but could not be read is
	// unseen, and only that makes the run incomplete.
	notApplicable := map[string]bool{"memory-usage-near-limit": true, "netpol-cni-not-enforcing": true, "httproute-backend-broken": true, "certificates-cert-manager": true,
		"volume-nearly-full": true}
	for _, ne := range rep.NotEvaluated {
		if want, ok := wantBlind[ne.Check]; !ok || !strings.Contains(ne.Reason, want) {
			t.Errorf("not evaluated %s: %s", ne.Check, ne.Reason)
		}
		if wantCode := map[bool]string{true: report.NotApplicable, false: report.CouldNotSee}[notApplicable[ne.Check]]; ne.Code != wantCode {
			t.Errorf("not evaluated %s: code %q, want %q", ne.Check, ne.Code, wantCode)
		}
	}
	if rep.Summary.NotApplicable != len(notApplicable) {
		t.Errorf("summary %+v: %d not applicable", rep.Summary, len(notApplicable))
	}
	// The healthy namespace, with requests, limits, a LimitRange and a quota, has nothing to report.
	for _, f := range rep.Findings {
		for _, o := range f.Objects {
			if o.Namespace == "billing" || (o.Kind == "Namespace" && o.Name == "billing") {
				t.Errorf("finding %s on the healthy namespace: %s", f.Check, f.Message)
			}
		}
	}
	if rep.APIVersion != "alertmend.io/v1alpha1" || rep.Kind != "Report" {
		t.Errorf("report type %s %s", rep.APIVersion, rep.Kind)
	}
}

func TestDiagnoseNamespaceScope(t *testing.T) {
	// data's one pod is pending: no node runs any, so no node's finding is data's.
	rep := admin(t, "diagnose", "-n", "data", "-o", "json").report(t)
	want := []string{
		"pod-unschedulable data/statefulset/postgres",
		"statefulset-unavailable data/statefulset/postgres",
		"netpol-no-default-deny namespace/data",
		"namespace-pod-security-unlabelled namespace/data",
		"namespace-without-limits namespace/data",
		"netpol-dangling data/networkpolicy/redis-cache",
		"pod-security-restricted data/statefulset/postgres",
		"replicas-not-spread data/statefulset/postgres",
		"netpol-egress-unisolated data/statefulset/postgres",
	}
	if got := findingKeys(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("-n data findings:\n got  %q\n want %q", got, want)
	}
	if rep.Metadata.Namespace != "data" {
		t.Errorf("metadata namespace %q", rep.Metadata.Namespace)
	}
	if r := admin(t, "diagnose", "-n", "no-such-namespace"); r.code != 2 || !strings.Contains(r.stderr, `namespace "no-such-namespace" not found`) {
		t.Errorf("unknown namespace: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestDiagnoseSelectionAndGate(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		findings int
	}{
		// Without dns-unavailable in the run, CoreDNS's crash loop is reported by the generic check.
		{[]string{"--checks", "pod-crashloop"}, 1, 2},
		// The unschedulable postgres pod is a finding of its own, its StatefulSet's root cause.
		{[]string{"--category", "workloads", "--skip", "pod-crashloop,deployment-unavailable"}, 1, 6},
		{[]string{"--checks", "node-pressure", "--fail-on", "critical"}, 0, 1},
		{[]string{"--checks", "node-pressure", "--fail-on", "high"}, 1, 1},
		// Usage, CoreDNS's metrics and conntrack are not evaluated here: with the gate off, the run is incomplete.
		// The cart, checkout and postgres pod failures are findings of their own, in their
		// workloads' incidents.
		{[]string{"--fail-on", "none"}, 3, 50},
		{[]string{"--fail-on", "none", "--skip", "memory-usage-near-limit,dns-servfail-ratio,dns-forward-unhealthy,dns-forward-loop-risk," +
			"netpol-cni-not-enforcing,conntrack-table-usage,conntrack-drops"}, 0, 50},
		{[]string{"--fail-on", "critical"}, 1, 50},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := admin(t, append([]string{"diagnose", "-o", "json"}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", r.code, tc.code, r.stderr)
			}
			if n := len(r.report(t).Findings); n != tc.findings {
				t.Errorf("%d findings, want %d", n, tc.findings)
			}
		})
	}
}

func TestDiagnoseUsageErrors(t *testing.T) {
	cases := map[string][]string{
		`unknown check "nope" in --checks`:                                                 {"diagnose", "--checks", "nope"},
		`unknown check "nope" in --skip`:                                                   {"diagnose", "--skip", "nope"},
		`unknown category "misc" in --category (want one of apiserver,`:                    {"diagnose", "--category", "misc"},
		`unknown category "workload" in --category (did you mean "workloads"?)`:            {"diagnose", "--category", "workload"},
		`unknown category "dn" in --category (did you mean "dns"?)`:                        {"checks", "--category", "dn"},
		`unknown check "pod-crashlop" in --checks (did you mean "pod-crashloop"?)`:         {"diagnose", "--checks", "pod-crashlop"},
		`unknown check "pod-crashlop" in --skip (did you mean "pod-crashloop"?)`:           {"diagnose", "--skip", "pod-crashlop"},
		"unknown check \"nope\" in --checks (run `kubectl alertmend checks` for the list)": {"diagnose", "--checks", "nope"},
		`unknown check "rbac-cluster-admn" (did you mean "rbac-cluster-admin"?)`:           {"explain", "rbac-cluster-admn"},
		`the selection matches no check`:                                                   {"diagnose", "--checks", "pod-crashloop", "--skip", "pod-crashloop"},
		`invalid --fail-on`:                                                                {"diagnose", "--fail-on", "severe"},
		`invalid --output`:                                                                 {"diagnose", "-o", "xml"},
		`invalid --color "sometimes"`:                                                      {"diagnose", "--color", "sometimes"},
		`unknown flag: --bogus`:                                                            {"diagnose", "--bogus"},
		`unknown command "diagnoze"`:                                                       {"diagnoze"},
		`explain takes exactly one check ID`:                                               {"explain"},
		`unknown check "nope"`:                                                             {"explain", "nope"},
		`invalid --timeout -1s`:                                                            {"diagnose", "--timeout", "-1s"},
		`invalid argument "soon" for "--timeout"`:                                          {"diagnose", "--timeout", "soon"},
		`invalid argument "x" for "-v, --v" flag: must be a whole number, such as 6`:       {"diagnose", "-v", "x"},
		`--explain-permissions asks the cluster`:                                           {"diagnose", "--explain-permissions", "-f", "-"},
		`--explain-permissions explains the audit's own reads`:                             {"rbac-audit", "--explain-permissions", "--subject", "user:x"},
	}
	for want, args := range cases {
		r := admin(t, args...)
		if r.code != 2 || !strings.Contains(r.stderr, want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 and %q", args, r.code, r.stderr, r.stdout, want)
		}
	}
}

// Least privilege: what a user may not read is reported as not evaluated, with the API
// server's reason, and never counted as a pass.
func TestDiagnoseWithLimitedIdentities(t *testing.T) {
	t.Run("namespace viewer", func(t *testing.T) {
		r := as(t, "shop-viewer", "diagnose", "-n", "shop", "-o", "json")
		rep := r.report(t)
		if r.code != 1 {
			t.Errorf("exit %d, want 1: shop's critical findings are visible", r.code)
		}
		notEvaluated := map[string]string{}
		for _, ne := range rep.NotEvaluated {
			notEvaluated[ne.Check] = ne.Reason
		}
		for _, id := range []string{"node-not-ready", "node-pressure"} {
			if !strings.Contains(notEvaluated[id], `cannot read nodes: forbidden: nodes is forbidden: User "shop-viewer" cannot list resource "nodes"`) {
				t.Errorf("%s: not evaluated reason %q", id, notEvaluated[id])
			}
		}
		if got := findingKeys(rep); len(got) < 4 || got[0] != "pod-crashloop shop/deployment/cart" || got[1] != "deployment-unavailable shop/deployment/cart" {
			t.Errorf("findings as shop-viewer: %q", got)
		}
		for _, f := range rep.Findings {
			for _, o := range f.Objects {
				if o.Namespace != "shop" && !(o.Kind == "Namespace" && o.Name == "shop") {
					t.Errorf("shop-viewer's report names %s", o)
				}
			}
		}
	})
	t.Run("quiet namespace is incomplete, not clean", func(t *testing.T) {
		r := as(t, "quiet-viewer", "diagnose", "-n", "quiet")
		if r.code != 3 {
			t.Errorf("exit %d, want 3 (nothing found, nodes not evaluated); stdout:\n%s", r.code, r.stdout)
		}
		// What needs nodes, metrics, bindings or other namespaces is not evaluated; everything
		// else ran and found nothing.
		if !regexp.MustCompile(`0 critical, 0 high, 0 medium, 0 low, 0 info from [1-9][0-9]* checks; [1-9][0-9]* not evaluated`).MatchString(r.stdout) {
			t.Errorf("summary line missing or wrong:\n%s", r.stdout)
		}
	})
	t.Run("kubectl's impersonation flags reach the server", func(t *testing.T) {
		r := admin(t, "diagnose", "--context", "alertmend-test", "--as", "quiet-viewer", "-n", "quiet", "-o", "json")
		rep := r.report(t)
		if r.code != 3 || len(rep.Findings) != 0 {
			t.Errorf("as quiet-viewer: exit %d, findings %d", r.code, len(rep.Findings))
		}
		forbidden := false
		for _, ne := range rep.NotEvaluated {
			forbidden = forbidden || strings.Contains(ne.Reason, `User "quiet-viewer" cannot list resource "nodes"`)
		}
		if !forbidden {
			t.Errorf("the API server did not see the impersonated user: %+v", rep.NotEvaluated)
		}
	})
	t.Run("no permissions at all", func(t *testing.T) {
		r := as(t, "nobody", "diagnose", "-o", "json")
		rep := r.report(t)
		// Only what any caller may see is judged: the public /version, the anonymous probe, and
		// the certificate the server presents in the handshake.
		total := len(checks.All(checks.DefaultOptions()))
		if r.code != 3 || rep.Summary.ChecksRun != 3 || rep.Summary.NotEvaluated != total-3 {
			t.Errorf("exit %d, summary %+v; want exit 3, 3 run, %d not evaluated", r.code, rep.Summary, total-3)
		}
	})
}

func TestDiagnosePagesThroughLists(t *testing.T) {
	rep := admin(t, "diagnose", "-n", "shop", "--checks", "pod-crashloop", "--chunk-size", "1", "-o", "json").report(t)
	if len(rep.Findings) != 1 || len(rep.Findings[0].Evidence) != 2 {
		t.Fatalf("with one object per page, both crash-looping cart pods must still be seen: %+v", rep.Findings)
	}
}

func TestOutputFormatsAndColour(t *testing.T) {
	cases := []struct {
		name    string
		env     testEnv
		args    []string
		colour  bool
		contain string
	}{
		{"pipe defaults to table", testEnv{}, nil, false, "SEVERITY   CHECK"},
		{"terminal defaults to pretty in colour", testEnv{terminal: true}, nil, true, "CRITICAL"},
		{"NO_COLOR is honoured", testEnv{terminal: true, vars: map[string]string{"NO_COLOR": "1"}}, nil, false, "CRITICAL"},
		{"--color always beats NO_COLOR", testEnv{vars: map[string]string{"NO_COLOR": "1"}}, []string{"-o", "pretty", "--color", "always"}, true, "CRITICAL"},
		{"--color never on a terminal", testEnv{terminal: true}, []string{"--color", "never"}, false, "CRITICAL"},
		{"json is never coloured", testEnv{terminal: true}, []string{"-o", "json", "--color", "always"}, false, `"apiVersion": "alertmend.io/v1alpha1"`},
		{"yaml", testEnv{}, []string{"-o", "yaml"}, false, "kind: Report"},
		{"wide", testEnv{}, []string{"-o", "wide"}, false, "NAMESPACE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, append([]string{"diagnose", "--kubeconfig", cluster.Kubeconfig}, tc.args...)...)
			if r.code != 1 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if has := strings.Contains(r.stdout, "\x1b["); has != tc.colour {
				t.Errorf("colour codes present = %v, want %v", has, tc.colour)
			}
			if !strings.Contains(r.stdout, tc.contain) {
				t.Errorf("output lacks %q:\n%s", tc.contain, r.stdout)
			}
		})
	}
}

// Bad input: one clear line on stderr, exit 2, never a panic or a stack trace.
func TestBadClusterInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.yaml")
	os.WriteFile(garbage, []byte("apiVersion: v1\nclusters: [[[\n"), 0o600)
	refused := writeKubeconfig(t, dir, "refused", "https://127.0.0.1:1")

	// A server that accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	hanging := writeKubeconfig(t, dir, "hanging", "https://"+silent.Addr().String())

	cases := []struct {
		name    string
		args    []string
		message string
	}{
		{"missing kubeconfig", []string{"--kubeconfig", filepath.Join(dir, "absent")}, "--kubeconfig " + filepath.Join(dir, "absent") + ": no such file"},
		{"bad --request-timeout", []string{"--kubeconfig", cluster.Kubeconfig, "--request-timeout", "soon"}, `invalid --request-timeout "soon"`},
		{"broken kubeconfig", []string{"--kubeconfig", garbage}, "cannot load the kubeconfig"},
		{"unknown context", []string{"--kubeconfig", cluster.Kubeconfig, "--context", "nope"}, `context "nope" does not exist`},
		{"connection refused", []string{"--kubeconfig", refused}, "cannot reach the Kubernetes API server at https://127.0.0.1:1"},
		{"no answer", []string{"--kubeconfig", hanging, "--request-timeout", "1s"}, "no answer from https://" + silent.Addr().String() + " after 1s (context hanging)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := run(t, testEnv{}, append([]string{"diagnose"}, tc.args...)...)
			assertCleanFailure(t, r, tc.message)
			if elapsed := time.Since(start); elapsed > 20*time.Second {
				t.Errorf("took %s to fail", elapsed)
			}
		})
	}
}

func TestNoKubeconfigAtAll(t *testing.T) {
	// client-go reads these from the process environment.
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	assertCleanFailure(t, run(t, testEnv{}, "diagnose"), "no kubeconfig found: set KUBECONFIG, create ~/.kube/config, or pass --kubeconfig")
}

func writeKubeconfig(t *testing.T, dir, name, server string) string {
	t.Helper()
	path := filepath.Join(dir, name+".kubeconfig")
	content := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"" + server + "\", insecure-skip-tls-verify: true}\n" +
		"users:\n- name: u\n  user: {token: abc}\ncontexts:\n- name: " + name + "\n  context: {cluster: c, user: u}\ncurrent-context: " + name + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func assertCleanFailure(t *testing.T, r result, message string) {
	t.Helper()
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") || !strings.Contains(lines[0], message) {
		t.Errorf("stderr should be one line naming %q, got:\n%s", message, r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Errorf("stack trace on stderr:\n%s", r.stderr)
	}
}
