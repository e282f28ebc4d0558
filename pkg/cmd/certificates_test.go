package cmd

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/internal/testpki"
)

// Manifests that carry a caBundle are judged as a cluster's objects are: the CI gate stops a
// webhook whose CA expires in five days (run() reads at fixture.Now).
func TestManifestCABundlesAreJudged(t *testing.T) {
	soon := base64.StdEncoding.EncodeToString(testpki.CAPEM(t, "webhook-ca", fixture.Now().Add(5*24*time.Hour)))
	later := base64.StdEncoding.EncodeToString(testpki.CAPEM(t, "api-ca", fixture.Now().Add(90*24*time.Hour)))
	manifest := `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: policy}
webhooks:
- name: validate.policy.example.com
  clientConfig: {service: {namespace: policy, name: webhook}, caBundle: ` + soon + `}
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.fine.example.com}
spec:
  group: fine.example.com
  version: v1
  service: {namespace: fine, name: api}
  caBundle: ` + later + `
  groupPriorityMinimum: 100
  versionPriority: 100
`
	path := filepath.Join(t.TempDir(), "install.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, testEnv{}, "diagnose", "-f", path, "--category", "certificates", "-o", "json")
	rep := r.report(t)
	if r.code != 1 || len(rep.Findings) != 1 {
		t.Fatalf("exit %d, findings %+v; stderr %s", r.code, rep.Findings, r.stderr)
	}
	f := rep.Findings[0]
	if f.Check != "certificates-webhook-ca-bundle" || f.Severity != "critical" || !strings.Contains(f.Message, "expires in 5d") ||
		len(f.Locations) != 1 || f.Locations[0].Line != 1 {
		t.Errorf("finding %+v", f)
	}
}
