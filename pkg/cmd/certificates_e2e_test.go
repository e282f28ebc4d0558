//go:build e2e

package cmd

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/internal/testpki"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

const certDay = 24 * time.Hour

// certManagerCRD is cert-manager's Certificate as far as the checks read it: the real group,
// version, names and status subresource, with a schema that keeps whatever is written.
const certManagerCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: certificates.cert-manager.io}
spec:
  group: cert-manager.io
  names: {kind: Certificate, listKind: CertificateList, plural: certificates, singular: certificate}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// A control plane whose own serving certificate expires in five days, with a webhook and an
// aggregated API whose CA bundles expire, a cert-manager Certificate that is not Ready, and
// kubelets' certificate requests nobody approves. The webhooks match a resource nobody
// creates and name Services that do not exist, so the API server never calls anything.
func TestCertificateChecksOnARealServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := testcluster.Start(ctx, testcluster.Options{Log: os.Stderr, Audit: true, ServingCertValidity: 5 * certDay})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	adminRun := func(env testEnv, args ...string) result {
		t.Helper()
		return run(t, env, append(args, "--kubeconfig", c.Kubeconfig)...)
	}

	// Before cert-manager is installed, its check does not apply, and says why.
	before := adminRun(testEnv{now: time.Now}, "diagnose", "--category", "certificates", "-o", "json").report(t)
	if ne := notEvaluated(before, "certificates-cert-manager"); ne == nil || ne.Code != report.NotApplicable ||
		!strings.Contains(ne.Reason, "cert-manager.io/v1) is not served") {
		t.Errorf("cert-manager check without its CRD: %+v", ne)
	}

	start := time.Now()
	b64 := func(pem []byte) string { return base64.StdEncoding.EncodeToString(pem) }
	objects := `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: expiring-validating}
webhooks:
- name: validate.alertmend.test
  clientConfig: {service: {namespace: no-such, name: webhook}, caBundle: ` + b64(testpki.CAPEM(t, "validating-ca", start.Add(20*certDay))) + `}
  rules: [{apiGroups: [alertmend.test], apiVersions: [v1], resources: [nothings], operations: [CREATE]}]
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: expired-mutating}
webhooks:
- name: mutate.alertmend.test
  clientConfig: {service: {namespace: no-such, name: webhook}, caBundle: ` + b64(testpki.CAPEM(t, "mutating-ca", start.Add(-certDay))) + `}
  rules: [{apiGroups: [alertmend.test], apiVersions: [v1], resources: [nothings], operations: [CREATE]}]
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.expiring.alertmend.test}
spec:
  group: expiring.alertmend.test
  version: v1
  service: {namespace: no-such, name: api}
  caBundle: ` + b64(testpki.CAPEM(t, "aggregated-ca", start.Add(5*certDay))) + `
  groupPriorityMinimum: 100
  versionPriority: 100
---
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: node-e2e-client}
spec:
  signerName: kubernetes.io/kube-apiserver-client-kubelet
  request: ` + b64(testpki.NodeCSR(t, "node-e2e", false)) + `
  usages: [digital signature, client auth]
---
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: node-e2e-serving}
spec:
  signerName: kubernetes.io/kubelet-serving
  request: ` + b64(testpki.NodeCSR(t, "node-e2e", true)) + `
  usages: [digital signature, server auth]
---
` + certManagerCRD
	if err := testcluster.Apply(ctx, c.Config, []byte(objects)); err != nil {
		t.Fatal(err)
	}
	waitServed(ctx, t, c.Config, schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"})
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	certificate := `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: shop-tls, namespace: default}
spec:
  secretName: shop-tls
  dnsNames: [shop.example.com]
  issuerRef: {kind: ClusterIssuer, name: letsencrypt}
status:
  conditions:
  - {type: Ready, status: "False", reason: Failed, message: "issuer letsencrypt is not ready", lastTransitionTime: "` + stamp(start.Add(-time.Hour)) + `"}
  notAfter: "` + stamp(start.Add(3*certDay)) + `"
  renewalTime: "` + stamp(start.Add(-27*certDay)) + `"
  failedIssuanceAttempts: 4
  lastFailureTime: "` + stamp(start.Add(-time.Hour)) + `"
`
	if err := testcluster.Apply(ctx, c.Config, []byte(certificate)); err != nil {
		t.Fatal(err)
	}

	// Read a quarter of an hour later, so the requests have waited long enough.
	readAt := func() time.Time { return time.Now().Add(15 * time.Minute) }
	r := adminRun(testEnv{now: readAt}, "diagnose", "--category", "certificates", "-o", "json")
	rep := r.report(t)
	if r.code != 1 || len(rep.NotEvaluated) != 0 {
		t.Errorf("exit %d, not evaluated %+v, stderr %s", r.code, rep.NotEvaluated, r.stderr)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		key := f.Check
		if len(f.Objects) > 0 {
			key += " " + f.Objects[0].String()
		}
		got[key] = string(f.Severity) + " " + f.Message + " | " + strings.Join(f.Evidence, " | ")
	}
	for key, want := range map[string][]string{
		"certificates-apiserver-expiry": {"critical", "serving certificate CN=kube-apiserver expires in 4d", "127.0.0.1"},
		"certificates-webhook-ca-bundle validatingwebhookconfiguration/expiring-validating": {"high", "expires in 19d", "requests it intercepts are rejected"},
		"certificates-webhook-ca-bundle mutatingwebhookconfiguration/expired-mutating":      {"critical", "expired 24h ago", "failurePolicy Fail"},
		"certificates-apiservice-ca-bundle apiservice/v1.expiring.alertmend.test":           {"critical", "expires in 4d", "expiring.alertmend.test/v1 is unavailable"},
		"certificates-cert-manager default/certificate/shop-tls":                            {"critical", "is not Ready (Failed)", "issuer letsencrypt is not ready", "4 failed issuance attempts", "Secret shop-tls (not read)"},
		"certificates-csr-pending certificatesigningrequest/node-e2e-client":                {"high", "kubelet client certificates", "nodes node-e2e"},
		"certificates-csr-pending certificatesigningrequest/node-e2e-serving":               {"high", "kubelet serving certificates", "nodes node-e2e"},
	} {
		for _, part := range want {
			if !strings.Contains(got[key], part) {
				t.Errorf("%s: %q lacks %q", key, got[key], part)
			}
		}
	}
	if len(got) != 7 {
		t.Errorf("findings: %v", got)
	}

	// What the run asks for, as --explain-permissions lists it: the CSRs and cert-manager's
	// Certificates, and the serving certificate from the GET /version every run makes.
	p := adminRun(testEnv{}, "diagnose", "--category", "certificates", "--explain-permissions", "-o", "json")
	for _, want := range []string{`"resource": "certificatesigningrequests"`, `"group": "cert-manager.io"`, `"serving-certificate"`} {
		if !strings.Contains(p.stdout, want) {
			t.Errorf("--explain-permissions lacks %s:\n%s", want, p.stdout)
		}
	}

	// Through a plain-HTTP proxy (what kubectl proxy is), there is no certificate to read.
	proxied := plainHTTPProxy(t, c)
	viaProxy := run(t, testEnv{now: time.Now}, "diagnose", "--category", "certificates", "-o", "json",
		"--kubeconfig", writeKubeconfig(t, t.TempDir(), "proxied", proxied)).report(t)
	if ne := notEvaluated(viaProxy, "certificates-apiserver-expiry"); ne == nil || !strings.Contains(ne.Reason, "plain HTTP") {
		t.Errorf("through a plain-HTTP proxy: %+v", ne)
	}

	// The runs only read, and never Secrets: the API server's audit log says so.
	read := auditedReads(t, c)
	for _, want := range []string{"certificates.k8s.io/certificatesigningrequests", "cert-manager.io/certificates",
		"admissionregistration.k8s.io/validatingwebhookconfigurations", "apiregistration.k8s.io/apiservices"} {
		if !read[want] {
			t.Errorf("the audit log shows no read of %s: %v", want, read)
		}
	}
}

// auditedReads fails the test for any request of the tool's that was not a read, or touched
// Secrets, in c's audit log; it returns the resources read, as "group/resource".
func auditedReads(t *testing.T, c *testcluster.Cluster) map[string]bool {
	t.Helper()
	events, err := c.AuditEvents("kubectl-alertmend/")
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	for _, e := range events {
		if e.Verb != "get" && e.Verb != "list" && e.Verb != "watch" && !isReview(e) {
			t.Errorf("%s %s: not a read", e.Verb, e.RequestURI)
		}
		if e.ObjectRef != nil {
			if e.ObjectRef.Resource == "secrets" {
				t.Errorf("%s %s: touched Secrets", e.Verb, e.RequestURI)
			}
			read[e.ObjectRef.APIGroup+"/"+e.ObjectRef.Resource] = true
		}
	}
	return read
}

func notEvaluated(rep *report.Report, id string) *report.NotEvaluated {
	i := slices.IndexFunc(rep.NotEvaluated, func(ne report.NotEvaluated) bool { return ne.Check == id })
	if i < 0 {
		return nil
	}
	return &rep.NotEvaluated[i]
}

// waitServed waits until the API server serves a resource a CRD just defined.
func waitServed(ctx context.Context, t *testing.T, config *rest.Config, gvr schema.GroupVersionResource) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil {
			return
		}
		if !apierrors.IsNotFound(err) || ctx.Err() != nil {
			t.Fatalf("%s is not served: %v", gvr, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// plainHTTPProxy serves the API server on a loopback plain-HTTP address with the admin's
// credentials, as kubectl proxy does, and returns its URL.
func plainHTTPProxy(t *testing.T, c *testcluster.Cluster) string {
	t.Helper()
	transport, err := rest.TransportFor(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(c.Server)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = transport
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.Header.Del("Authorization") // the proxy's identity, not the caller's, as kubectl proxy
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(server.Close)
	return server.URL
}
