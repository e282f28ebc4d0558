package cmd

import (
	"slices"
	"strings"
	"testing"
)

// A webhook chart as a CI gate sees it (-f): it fails closed on every pod, its own included,
// and its timeouts with another's outlast a write. The shape is reported with where it is
// defined; the live-only backend check is left out.
const webhookChart = `apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: injector}
webhooks:
- name: inject.example.com
  timeoutSeconds: 30
  clientConfig: {service: {namespace: mesh, name: injector}}
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: policy}
webhooks:
- name: policy.example.com
  failurePolicy: Ignore
  clientConfig: {service: {namespace: mesh, name: policy}}
  rules: [{operations: [CREATE], apiGroups: ["*"], apiVersions: ["*"], resources: ["*"]}]
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: v1
kind: Service
metadata: {name: injector, namespace: mesh}
spec: {selector: {app: injector}, ports: [{port: 443, targetPort: 8443}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: injector, namespace: mesh}
spec: {replicas: 2, selector: {matchLabels: {app: injector}}, template: {metadata: {labels: {app: injector}}, spec: {containers: [{name: injector, image: injector:1}]}}}
`

func TestManifestsShowRiskyWebhooks(t *testing.T) {
	path := writeManifest(t, "webhooks.yaml", webhookChart)
	r := run(t, testEnv{}, "diagnose", "-f", path, "--category", "admission", "-o", "json")
	rep := r.report(t)
	keys := findingKeys(rep)
	slices.Sort(keys)
	want := []string{
		"webhook-matches-own-backend mutatingwebhookconfiguration/injector",
		"webhook-timeout-budget validatingwebhookconfiguration/policy",
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("findings %q, want %q\n%s", keys, want, r.stderr)
	}
	for _, f := range rep.Findings {
		if f.Check != "webhook-matches-own-backend" {
			continue
		}
		if len(f.Locations) == 0 || f.Locations[0].File != path || f.Locations[0].Line != 1 {
			t.Errorf("locations %v, want %s:1", f.Locations, path)
		}
		// Its kube-system exposure is part of the same finding.
		if !slices.ContainsFunc(f.Evidence, func(e string) bool { return strings.Contains(e, "intercepts CREATE pods in kube-system and mesh") }) {
			t.Errorf("evidence %q", f.Evidence)
		}
	}
	if !strings.Contains(r.stderr, "1 check that judges live status (conditions, restarts, usage) is left out for manifests") {
		t.Errorf("the backend check is not said to be left out of -f: %s", r.stderr)
	}
}
