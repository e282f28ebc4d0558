//go:build e2e

package cmd

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// The traffic path on a control plane of its own, with the scenario of
// checks/traffic/testdata/e2e-scenario.yaml (the demo's cluster has no Ingress): Ingress api in
// front of unready pods, Ingress shop in front of a Service one label off its pods. Diagnosed as
// an on-call engineer would, and every request the tool made is a read.
func TestTrafficPathOnItsOwnControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	traffic := scenarioControlPlane(ctx, t, "traffic")

	res := run(t, testEnv{}, "diagnose", "-o", "json", "--category", "traffic,workloads", "--kubeconfig", traffic.Kubeconfig)
	if res.code != 1 {
		t.Fatalf("exit %d, want 1 (critical findings)\n%s", res.code, res.stderr)
	}
	r := res.report(t)
	var got []string
	for _, f := range r.Findings {
		if f.Incident {
			got = append(got, fixture.Summary(f))
		}
	}
	slices.Sort(got)
	// The Deployment api's outage is the root cause of Ingress api's, a finding of its own.
	want := []string{
		"critical deployment-unavailable shop/deployment/api",
		"critical ingress-backend-broken shop/ingress/api,shop/service/api,shop/deployment/api",
		"critical ingress-backend-broken shop/ingress/shop,shop/service/web",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("findings\n got  %q\n want %q", got, want)
	}
	for _, f := range r.Findings {
		evidence := strings.Join(f.Evidence, "\n")
		if f.Check != "ingress-backend-broken" {
			continue
		}
		switch f.Objects[0].Name {
		case "api":
			if len(r.Incidents) != 1 || !slices.Contains(r.Incidents[0].Symptoms, f.ID) {
				t.Errorf("Ingress api's finding is not a symptom of Deployment api's outage: %+v", r.Incidents)
			}
			for _, part := range []string{
				"EndpointSlices: 0 ready, 2 not-ready endpoints",
				"pod api-7c9b-ccccc on node node-a: Ready=False (ContainersNotReady)",
				"containers with unready status: [api]",
				"also reported by service-no-ready-endpoints",
			} {
				if !strings.Contains(evidence, part) {
					t.Errorf("api evidence lacks %q:\n%s", part, evidence)
				}
			}
		case "shop":
			if !strings.Contains(f.Message, "Service web selects no pod") ||
				!strings.Contains(evidence, "nearest: pod shop/web-0 has app=web-v2, the selector wants app=web") {
				t.Errorf("shop: %s\n%s", f.Message, evidence)
			}
		}
	}
	// The test API server serves no Gateway API: the HTTPRoute check says so, and the run is complete.
	gateway := slices.IndexFunc(r.NotEvaluated, func(n report.NotEvaluated) bool { return n.Check == "httproute-backend-broken" })
	if gateway < 0 || r.NotEvaluated[gateway].Code != report.NotApplicable ||
		!strings.Contains(r.NotEvaluated[gateway].Reason, "the Gateway API (gateway.networking.k8s.io/v1) is not served") {
		t.Errorf("not evaluated: %+v", r.NotEvaluated)
	}

	read := auditedReads(t, traffic)
	for _, resource := range []string{"networking.k8s.io/ingresses", "/services", "discovery.k8s.io/endpointslices", "/pods", "gateway.networking.k8s.io/httproutes"} {
		if !read[resource] {
			t.Errorf("no %s were read: %v", resource, read)
		}
	}
}
