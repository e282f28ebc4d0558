package apiserver

import (
	"reflect"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Each flag fixture holds a hardened API server pod, which must not be reported, beside one
// or more with the flaw. The other checks judge what the server answers (its version, its
// answers to anonymous callers), which the cases add as probes.
func TestChecksOnFixtures(t *testing.T) {
	byID := map[string]check.Check{}
	for _, c := range FlagChecks() {
		byID[c.Meta().ID] = c
	}
	serverVersion := func(version string) func(*snapshot.Snapshot) {
		return func(s *snapshot.Snapshot) { s.ServerVersion = version }
	}
	fixture.RunCases(t, check.CategoryAPIServer, Checks(), []fixture.Case{
		{Check: AnonymousAccess{}, Want: []string{"critical apiserver-anonymous-access "}, Probes: func(s *snapshot.Snapshot) {
			s.AnonymousAccess = []snapshot.ProbeResult{{Path: "/version", Status: 200}, {Path: "/api", Status: 200},
				{Path: "/api/v1/namespaces", Status: 200}, {Path: "/api/v1/pods", Status: 403}}
		}},
		{Check: VersionSupport{}, Probes: serverVersion("v1.34.9"), Want: []string{"high apiserver-version-support "}},
		{Check: KubeletSkew{}, Fixture: "kubelet-version-skew.yaml", Probes: serverVersion("v1.37.2"),
			Want: []string{"medium kubelet-version-skew node/ahead,node/old"}},
		{Check: byID["apiserver-anonymous-auth"], Fixture: "apiserver-anonymous-auth.yaml", Want: []string{"low apiserver-anonymous-auth kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-token-auth-file"], Fixture: "apiserver-token-auth-file.yaml", Want: []string{"high apiserver-token-auth-file kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-kubelet-certificate-authority"], Fixture: "apiserver-kubelet-certificate-authority.yaml", Want: []string{"medium apiserver-kubelet-certificate-authority kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-authorization-always-allow"], Fixture: "apiserver-authorization-always-allow.yaml", Want: []string{"critical apiserver-authorization-always-allow kube-system/pod/kube-apiserver-bad", "critical apiserver-authorization-always-allow kube-system/pod/kube-apiserver-nomode"}},
		{Check: byID["apiserver-authorization-node-rbac"], Fixture: "apiserver-authorization-node-rbac.yaml", Want: []string{"high apiserver-authorization-node-rbac kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-always-admit"], Fixture: "apiserver-always-admit.yaml", Want: []string{"low apiserver-always-admit kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-admission-disabled"], Fixture: "apiserver-admission-disabled.yaml", Want: []string{"medium apiserver-admission-disabled kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-node-restriction"], Fixture: "apiserver-node-restriction.yaml", Want: []string{"medium apiserver-node-restriction kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-profiling"], Fixture: "apiserver-profiling.yaml", Want: []string{"low apiserver-profiling kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-audit-log"], Fixture: "apiserver-audit-log.yaml", Want: []string{"medium apiserver-audit-log kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-audit-log-retention"], Fixture: "apiserver-audit-log-retention.yaml", Want: []string{"low apiserver-audit-log-retention kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-request-timeout"], Fixture: "apiserver-request-timeout.yaml", Want: []string{"low apiserver-request-timeout kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-service-account-lookup"], Fixture: "apiserver-service-account-lookup.yaml", Want: []string{"medium apiserver-service-account-lookup kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-encryption-at-rest"], Fixture: "apiserver-encryption-at-rest.yaml", Want: []string{"medium apiserver-encryption-at-rest kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-weak-tls"], Fixture: "apiserver-weak-tls.yaml", Want: []string{"medium apiserver-weak-tls kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-insecure-port"], Fixture: "apiserver-insecure-port.yaml", Want: []string{"critical apiserver-insecure-port kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-secure-port-disabled"], Fixture: "apiserver-secure-port-disabled.yaml", Want: []string{"high apiserver-secure-port-disabled kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-service-account-key"], Fixture: "apiserver-service-account-key.yaml", Want: []string{"medium apiserver-service-account-key kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-etcd-tls"], Fixture: "apiserver-etcd-tls.yaml", Want: []string{"high apiserver-etcd-tls kube-system/pod/kube-apiserver-bad", "high apiserver-etcd-tls kube-system/pod/kube-apiserver-noca"}},
		{Check: byID["apiserver-serving-certificate"], Fixture: "apiserver-serving-certificate.yaml", Want: []string{"low apiserver-serving-certificate kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-client-ca"], Fixture: "apiserver-client-ca.yaml", Want: []string{"medium apiserver-client-ca kube-system/pod/kube-apiserver-bad"}},
		{Check: byID["apiserver-token-expiration-extended"], Fixture: "apiserver-token-expiration-extended.yaml", Want: []string{"low apiserver-token-expiration-extended kube-system/pod/kube-apiserver-bad"}},
		{Check: AnonymousBinding{}, Fixture: "apiserver-anonymous-binding.yaml", Want: []string{
			"critical apiserver-anonymous-binding clusterrolebinding/anon-read",
			"critical apiserver-anonymous-binding shop/rolebinding/open-shop",
			"medium apiserver-anonymous-binding clusterrolebinding/anon-docs",
		}},
	})
}

// kube-apiserver's boolean flags never take the next word; the parser itself is tested in
// pkg/cmdline.
func TestParseFlagsKnowsTheServersBooleans(t *testing.T) {
	f := ParseFlags([]string{"kube-apiserver", "--profiling", "--etcd-servers", "https://127.0.0.1:2379"})
	if !f.Bool("profiling", false) || !f.IsSet("etcd-servers") {
		t.Errorf("--profiling swallowed the next flag")
	}
}

// A cluster whose control plane is not visible says so, for every flag check.
func TestFlagChecksOnAManagedCluster(t *testing.T) {
	s := fixture.Load(t, "kubelet-version-skew.yaml")
	for _, c := range FlagChecks() {
		if reason, notApplicable := check.WhyNot(c, s); !notApplicable || !strings.Contains(reason, "control plane not visible") {
			t.Errorf("%s does not say the control plane is not visible", c.Meta().ID)
		}
	}
	manifests := fixture.Load(t, "kubelet-version-skew.yaml")
	manifests.Source = snapshot.SourceManifests
	if reason := FlagChecks()[0].(check.Relevance).NotApplicable(manifests); reason != "" {
		t.Errorf("manifests without an API server pod simply hold nothing to judge, yet: %s", reason)
	}
	withServer := fixture.Load(t, "apiserver-profiling.yaml")
	if reason := FlagChecks()[0].(check.Relevance).NotApplicable(withServer); reason != "" {
		t.Errorf("a visible API server is reported as not visible: %s", reason)
	}
}

func TestAnonymousAccess(t *testing.T) {
	probe := func(results ...snapshot.ProbeResult) []string {
		s := snapshot.New(snapshot.SourceCluster)
		s.AnonymousAccess = results
		return fixture.Summaries(AnonymousAccess{}.Run(s))
	}
	closed := probe(snapshot.ProbeResult{Path: "/version", Status: 200}, snapshot.ProbeResult{Path: "/api", Status: 401},
		snapshot.ProbeResult{Path: "/api/v1/namespaces", Status: 401}, snapshot.ProbeResult{Path: "/api/v1/pods", Status: 403})
	if len(closed) != 0 {
		t.Errorf("only the public /version answers, yet: %q", closed)
	}
	open := probe(snapshot.ProbeResult{Path: "/version", Status: 200}, snapshot.ProbeResult{Path: "/api", Status: 200},
		snapshot.ProbeResult{Path: "/api/v1/namespaces", Status: 200}, snapshot.ProbeResult{Path: "/api/v1/pods", Status: 403})
	if !reflect.DeepEqual(open, []string{"critical apiserver-anonymous-access "}) {
		t.Errorf("namespaces listed anonymously: %q", open)
	}
}

func TestVersionSupport(t *testing.T) {
	at := func(version, day string) []string {
		s := snapshot.New(snapshot.SourceCluster)
		s.ServerVersion = version
		s.CollectedAt, _ = time.Parse("2006-01-02", day)
		return fixture.Summaries(VersionSupport{}.Run(s))
	}
	cases := []struct {
		version, day string
		want         []string
	}{
		{"v1.37.2", "2026-11-24", nil},
		{"v1.34.9", "2026-11-24", []string{"high apiserver-version-support "}},
		{"v1.35.4", "2026-12-15", []string{"low apiserver-version-support "}},
		{"v1.28.15-eks-1", "2026-11-24", []string{"high apiserver-version-support "}},
		{"v1.40.0", "2026-11-24", nil},
		{"unknown", "2026-11-24", nil},
	}
	for _, tc := range cases {
		if got := at(tc.version, tc.day); len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
			t.Errorf("%s on %s: %q, want %q", tc.version, tc.day, got, tc.want)
		}
	}
}

func TestKubeletSkew(t *testing.T) {
	s := fixture.Load(t, "kubelet-version-skew.yaml")
	s.ServerVersion = "v1.37.2"
	got := fixture.Summaries(KubeletSkew{}.Run(s))
	if !reflect.DeepEqual(got, []string{"medium kubelet-version-skew node/ahead,node/old"}) {
		t.Errorf("skew: %q", got)
	}
}

// What the flags alone cannot decide is not evaluated rather than guessed.
func TestFlagsInFilesAreNotJudged(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	s.Pods = fixture.Load(t, "apiserver-authorization-node-rbac.yaml").Pods
	for i := range s.Pods {
		c := &s.Pods[i].Spec.Containers[0]
		c.Command = append(c.Command, "--authorization-config=/etc/kubernetes/authz.yaml", "--authentication-config=/etc/kubernetes/authn.yaml")
		var kept []string
		for _, a := range c.Command {
			if !strings.HasPrefix(a, "--anonymous-auth") {
				kept = append(kept, a)
			}
		}
		c.Command = kept
	}
	for _, c := range FlagChecks() {
		id := c.Meta().ID
		reason := c.(check.Applicability).NotEvaluable(s)
		switch id {
		case "apiserver-authorization-always-allow", "apiserver-authorization-node-rbac":
			if !strings.Contains(reason, "--authorization-config") {
				t.Errorf("%s: %q", id, reason)
			}
		case "apiserver-anonymous-auth":
			if !strings.Contains(reason, "--authentication-config") {
				t.Errorf("%s: %q", id, reason)
			}
		default:
			if reason != "" {
				t.Errorf("%s is not evaluated: %q", id, reason)
			}
		}
	}
}

// With AlwaysAllow the server turns anonymous authentication off: no anonymous-auth finding.
func TestAnonymousAuthUnderAlwaysAllow(t *testing.T) {
	s := fixture.Load(t, "apiserver-authorization-always-allow.yaml")
	for _, f := range FlagChecks()[0].Run(s) {
		for _, o := range f.Objects {
			if o.Name == "kube-apiserver-bad" {
				t.Errorf("anonymous-auth reported under AlwaysAllow: %s", f.Message)
			}
		}
	}
}

func TestAnonymousAccessThroughAPlainHTTPProxy(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	s.Server = "http://127.0.0.1:8001"
	if reason := (AnonymousAccess{}).NotEvaluable(s); !strings.Contains(reason, "kubectl proxy") {
		t.Errorf("reason %q", reason)
	}
	s.Server = "https://127.0.0.1:6443"
	if reason := (AnonymousAccess{}).NotEvaluable(s); reason != "" {
		t.Errorf("an HTTPS server is not a proxy: %q", reason)
	}
}

// Rules added to system:public-info-viewer survive the server's reconciliation, which only adds
// missing permissions: the default binding is then reported.
func TestPublicInfoViewerWithAddedRules(t *testing.T) {
	s := fixture.Load(t, "apiserver-anonymous-binding.yaml")
	for i := range s.ClusterRoles {
		if s.ClusterRoles[i].Name == "system:public-info-viewer" {
			s.ClusterRoles[i].Rules = append(s.ClusterRoles[i].Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}})
		}
	}
	found := false
	for _, f := range (AnonymousBinding{}).Run(s) {
		if f.Objects[0].Name == "system:public-info-viewer" && f.Severity == check.Critical {
			found = true
		}
	}
	if !found {
		t.Error("a widened system:public-info-viewer is not reported")
	}
}
