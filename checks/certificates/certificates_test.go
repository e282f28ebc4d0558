package certificates

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/internal/testpki"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const day = 24 * time.Hour

// newCert makes a real certificate that expires until after the fixtures are read.
func newCert(t *testing.T, cn string, until time.Duration, isCA bool) *x509.Certificate {
	t.Helper()
	c, _ := testpki.Certificate(t, cn, fixture.Now().Add(until), isCA)
	return c
}

func caPEM(t *testing.T, cn string, until time.Duration) []byte {
	t.Helper()
	return testpki.CAPEM(t, cn, fixture.Now().Add(until))
}

func servedChain(t *testing.T, leafUntil, intermediateUntil time.Duration) func(*snapshot.Snapshot) {
	return func(s *snapshot.Snapshot) {
		s.Server = "https://127.0.0.1:6443"
		leaf := newCert(t, "kube-apiserver", leafUntil, false)
		s.ServingCertificate = &snapshot.ServingCertificate{Chain: []snapshot.CertificateInfo{snapshot.CertificateInfoOf(leaf, true)}}
		if intermediateUntil != 0 {
			mid := newCert(t, "intermediate-ca", intermediateUntil, true)
			s.ServingCertificate.Chain = append(s.ServingCertificate.Chain, snapshot.CertificateInfoOf(mid, false))
		}
	}
}

func mtime(t time.Time) *metav1.Time {
	m := metav1.NewTime(t)
	return &m
}

func TestChecksOnFixtures(t *testing.T) {
	now := fixture.Now()
	webhookBundles := func(s *snapshot.Snapshot) {
		bundles := map[string][]byte{
			"validate.policy.example.com": caPEM(t, "policy-ca", -3*day),
			"audit.policy.example.com":    caPEM(t, "policy-ca", 20*day),
			"soon.example.com":            caPEM(t, "soon-ca", 5*day),
			"unreadable.example.com":      []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"),
			"healthy.example.com":         caPEM(t, "healthy-ca", 90*day),
			"inject.mesh.example.com":     caPEM(t, "mesh-ca", -1*day),
			// The old CA expired; the new one beside it is what the server's certificate chains to.
			"rotating.example.com": append(caPEM(t, "old-ca", -10*day), caPEM(t, "new-ca", 200*day)...),
		}
		for i := range s.ValidatingWebhookConfigurations {
			for j := range s.ValidatingWebhookConfigurations[i].Webhooks {
				w := &s.ValidatingWebhookConfigurations[i].Webhooks[j]
				w.ClientConfig.CABundle = bundles[w.Name]
			}
		}
		for i := range s.MutatingWebhookConfigurations {
			for j := range s.MutatingWebhookConfigurations[i].Webhooks {
				w := &s.MutatingWebhookConfigurations[i].Webhooks[j]
				w.ClientConfig.CABundle = bundles[w.Name]
			}
		}
	}
	apiServiceBundles := func(s *snapshot.Snapshot) {
		bundles := map[string][]byte{
			"v1beta1.metrics.k8s.io":    caPEM(t, "metrics-ca", -2*day),
			"v1.later.example.com":      caPEM(t, "later-ca", 20*day),
			"v1.fine.example.com":       caPEM(t, "fine-ca", 90*day),
			"v1.unverified.example.com": caPEM(t, "unverified-ca", -2*day),
		}
		for i := range s.APIServices {
			s.APIServices[i].Spec.CABundle = bundles[s.APIServices[i].Name]
		}
	}
	csrRequests := func(s *snapshot.Snapshot) {
		for i := range s.CertificateSigningRequests {
			if s.CertificateSigningRequests[i].Name == "csr-bootstrap" {
				s.CertificateSigningRequests[i].Spec.Request = testpki.NodeCSR(t, "node-c", false)
			}
		}
	}
	certManager := func(certs ...snapshot.CertManagerCertificate) func(*snapshot.Snapshot) {
		return func(s *snapshot.Snapshot) { s.CertManagerCertificates = certs }
	}
	ready := func(status string, since time.Duration) []snapshot.CertManagerCondition {
		return []snapshot.CertManagerCondition{{Type: "Ready", Status: status, Reason: "Failed", Message: "issuer not ready",
			LastTransitionTime: mtime(now.Add(-since))}}
	}
	fixture.RunCases(t, check.CategoryCertificates, Checks(), []fixture.Case{
		{Check: APIServerCertificate{}, Probes: servedChain(t, -2*day, 0), Want: []string{"critical certificates-apiserver-expiry "}},
		{Check: APIServerCertificate{}, Probes: servedChain(t, 5*day, 0), Want: []string{"critical certificates-apiserver-expiry "}},
		{Check: APIServerCertificate{}, Probes: servedChain(t, 20*day, 0), Want: []string{"high certificates-apiserver-expiry "}},
		{Check: APIServerCertificate{}, Probes: servedChain(t, 90*day, 0)},
		// The intermediate expires before the leaf it signs.
		{Check: APIServerCertificate{}, Probes: servedChain(t, 90*day, 20*day), Want: []string{"high certificates-apiserver-expiry "}},

		{Check: WebhookCABundle{}, Fixture: "certificates-webhook-ca-bundle.yaml", Probes: webhookBundles, Want: []string{
			"critical certificates-webhook-ca-bundle validatingwebhookconfiguration/policy",
			"critical certificates-webhook-ca-bundle validatingwebhookconfiguration/soon",
			"critical certificates-webhook-ca-bundle validatingwebhookconfiguration/unreadable",
			// Expired, but failurePolicy Ignore: the webhook is skipped, nothing is blocked.
			"high certificates-webhook-ca-bundle mutatingwebhookconfiguration/injector",
		}},
		{Check: WebhookCABundle{}, Fixture: "certificates-webhook-ca-bundle.yaml"},

		{Check: APIServiceCABundle{}, Fixture: "certificates-apiservice-ca-bundle.yaml", Probes: apiServiceBundles, Want: []string{
			"critical certificates-apiservice-ca-bundle apiservice/v1beta1.metrics.k8s.io",
			"high certificates-apiservice-ca-bundle apiservice/v1.later.example.com",
		}},

		{Check: PendingNodeCSRs{}, Fixture: "certificates-csr-pending.yaml", Probes: csrRequests, Want: []string{
			"high certificates-csr-pending certificatesigningrequest/csr-bootstrap,certificatesigningrequest/csr-client-a",
			"high certificates-csr-pending certificatesigningrequest/csr-serving-b",
		}},

		{Check: CertManager{}, Probes: certManager(
			snapshot.CertManagerCertificate{Namespace: "shop", Name: "stuck", Conditions: ready("False", time.Hour)},
			snapshot.CertManagerCertificate{Namespace: "shop", Name: "expiring", Conditions: ready("False", time.Hour), NotAfter: mtime(now.Add(3 * day))},
			snapshot.CertManagerCertificate{Namespace: "shop", Name: "expired", Conditions: ready("False", time.Hour), NotAfter: mtime(now.Add(-day))},
			snapshot.CertManagerCertificate{Namespace: "shop", Name: "renewal-failing", Conditions: ready("True", 60*day),
				NotAfter: mtime(now.Add(20 * day)), FailedIssuanceAttempts: 2, LastFailureTime: mtime(now.Add(-time.Hour))},
			snapshot.CertManagerCertificate{Namespace: "shop", Name: "renewal-overdue", Conditions: ready("True", 60*day),
				NotAfter: mtime(now.Add(6 * day)), RenewalTime: mtime(now.Add(-4 * day))},
			// Healthy: Ready, and renewal is due later.
			snapshot.CertManagerCertificate{Namespace: "shop", Name: "fine", Conditions: ready("True", 60*day),
				NotAfter: mtime(now.Add(20 * day)), RenewalTime: mtime(now.Add(day))},
			// Being issued for the first time, two minutes ago.
			snapshot.CertManagerCertificate{Namespace: "shop", Name: "new", Conditions: ready("False", 2*time.Minute)},
		), Want: []string{
			"high certificates-cert-manager shop/certificate/stuck",
			"critical certificates-cert-manager shop/certificate/expiring",
			"critical certificates-cert-manager shop/certificate/expired",
			"high certificates-cert-manager shop/certificate/renewal-failing",
			"critical certificates-cert-manager shop/certificate/renewal-overdue",
		}},
	})
}

func TestJudgeThresholds(t *testing.T) {
	now := fixture.Now()
	for _, tc := range []struct {
		until  time.Duration
		want   check.Severity
		broken bool
	}{
		{-time.Second, check.Critical, true},
		{5 * day, check.Critical, false},
		{7 * day, check.Critical, false},
		{7*day + time.Minute, check.High, false},
		{20 * day, check.High, false},
		{30 * day, check.High, false},
		{90 * day, "", false},
	} {
		cert := newCert(t, "c", tc.until, false)
		e, ok := judge(cert.NotBefore, cert.NotAfter, now)
		if (tc.want != "") != ok || e.severity != tc.want || e.broken != tc.broken {
			t.Errorf("a certificate expiring in %s: got %+v (reported %v), want %q, broken %v", tc.until, e, ok, tc.want, tc.broken)
		}
	}
	notYet := newCert(t, "future", 400*day, false)
	if e, ok := judge(notYet.NotBefore, notYet.NotAfter, now); !ok || !e.broken || !strings.Contains(e.text, "not valid before") {
		t.Errorf("a certificate valid from next month: %+v", e)
	}
}

func TestParseBundle(t *testing.T) {
	bundle := append(caPEM(t, "one", 10*day), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")...)
	bundle = append(bundle, caPEM(t, "two", 40*day)...)
	certs, err := parseBundle(bundle)
	if err != nil || len(certs) != 2 || certs[0].Subject != "CN=one" || certs[1].Subject != "CN=two" {
		t.Fatalf("parseBundle: %v, %+v", err, certs)
	}
	for _, bad := range []string{"", "not pem at all", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"} {
		if _, err := parseBundle([]byte(bad)); err == nil {
			t.Errorf("parseBundle(%q) took it", bad)
		}
	}
}

// What the findings say: the node names from the requests, what breaks, where the proxy is.
func TestFindingsSayWhatBreaks(t *testing.T) {
	s := fixture.Load(t, "certificates-csr-pending.yaml")
	for i := range s.CertificateSigningRequests {
		if s.CertificateSigningRequests[i].Name == "csr-bootstrap" {
			s.CertificateSigningRequests[i].Spec.Request = testpki.NodeCSR(t, "node-c", false)
		}
	}
	var client check.Finding
	for _, f := range (PendingNodeCSRs{}).Run(s) {
		if strings.Contains(f.Message, "client") {
			client = f
		}
	}
	if !strings.Contains(client.Message, "nodes node-a, node-c") || !strings.Contains(strings.Join(client.Fix, "\n"), "kubectl certificate approve csr-bootstrap") {
		t.Errorf("client requests: %q, fix %q", client.Message, client.Fix)
	}

	s = snapshot.New(snapshot.SourceCluster)
	s.CollectedAt = fixture.Now()
	servedChain(t, 5*day, 0)(s)
	s.Server = "https://rancher.example.com/k8s/clusters/c-1"
	s.ServingCertificate.Proxy = "http://proxy.example.com:3128"
	findings := (APIServerCertificate{}).Run(s)
	if len(findings) != 1 || !strings.Contains(findings[0].Message, "serving certificate CN=kube-apiserver expires in 5d") {
		t.Fatalf("findings: %+v", findings)
	}
	evidence := strings.Join(findings[0].Evidence, "\n")
	for _, want := range []string{"proxy http://proxy.example.com:3128", "/k8s/clusters/c-1", "kube-apiserver.example.com"} {
		if !strings.Contains(evidence, want) {
			t.Errorf("evidence lacks %q:\n%s", want, evidence)
		}
	}
	s.Server = "http://127.0.0.1:8001"
	if reason := (APIServerCertificate{}).NotEvaluable(s); !strings.Contains(reason, "plain HTTP") {
		t.Errorf("through kubectl proxy: %q", reason)
	}
}
