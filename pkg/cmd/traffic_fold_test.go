package cmd

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/checks/traffic"
	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// trafficFixture names a fixture of the traffic checks, as internal/fixture finds it from here.
func trafficFixture(name string) string {
	return filepath.Join("..", "..", "..", "checks", "traffic", "testdata", name)
}

// One outage, one incident: Deployment api has no available replica, so Service api has no
// ready endpoint, so Ingress api serves nothing. The Deployment is the root cause; the Ingress,
// critical for what it cuts off, is its symptom, after it; the Service's own finding is a hop of
// the Ingress's path, folded into it.
func TestTrafficOutageIsOneIncidentRootedAtTheWorkload(t *testing.T) {
	s := fixture.LoadOverlay(t, trafficFixture("healthy.yaml"), trafficFixture("ingress-backend-broken.yaml"))
	plan, err := engine.Select(checks.All(checks.DefaultOptions()), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		t.Fatal(err)
	}
	r := engine.Run(s, plan, fixture.Now())
	var about []string
	for _, f := range r.Findings {
		if !f.Incident {
			continue // latent risks of the same objects (no memory limit) are other matters
		}
		for _, o := range f.Objects {
			if o.Name == "api" {
				about = append(about, f.Check)
				break
			}
		}
	}
	if strings.Join(about, ",") != "deployment-unavailable,ingress-backend-broken" {
		t.Fatalf("findings about api, in order: %q, want the Deployment's, then the Ingress's", about)
	}
	if len(r.Incidents) != 1 || !strings.HasPrefix(r.Incidents[0].Root, "deployment-unavailable-") {
		t.Fatalf("incidents %+v, want one rooted at the Deployment's finding", r.Incidents)
	}
	var ingress check.Finding
	for _, f := range r.Findings {
		if f.Check == "ingress-backend-broken" && f.Objects[0].Name == "api" {
			ingress = f
		}
	}
	if !slices.Contains(r.Incidents[0].Symptoms, ingress.ID) {
		t.Errorf("the Ingress's finding %s is not a symptom of the Deployment's: %+v", ingress.ID, r.Incidents[0])
	}
	if ingress.Severity != "critical" {
		t.Errorf("severity %s", ingress.Severity)
	}
	// The Service behind Ingress canary selects nothing: its own finding is superseded.
	for _, f := range r.Findings {
		if f.Check == "service-selector-no-match" {
			t.Errorf("not folded into the Ingress's finding: %s %v", f.Check, f.Objects)
		}
	}
	if evidence := strings.Join(ingress.Evidence, "\n"); !strings.Contains(evidence, "also reported by service-no-ready-endpoints") {
		t.Errorf("the Service's finding is not folded into the Ingress's:\n%s", evidence)
	}
}

// Without the pods, no Service's path can be followed: every traffic check says it could not
// see, rather than passing.
func TestTrafficChecksBlindWithoutPods(t *testing.T) {
	s := fixture.LoadOverlay(t, trafficFixture("healthy.yaml"), trafficFixture("ingress-backend-broken.yaml"))
	s.Pods = nil
	s.MarkUnavailable(snapshot.KindPods, `pods is forbidden: User "viewer" cannot list resource "pods"`)
	plan, err := engine.Select(checks.All(checks.DefaultOptions()), engine.Selection{Categories: []string{"traffic"}}, snapshot.SourceCluster)
	if err != nil {
		t.Fatal(err)
	}
	r := engine.Run(s, plan, fixture.Now())
	if len(r.Findings) != 0 || len(r.NotEvaluated) != len(traffic.Checks()) {
		t.Fatalf("findings %d, not evaluated %+v", len(r.Findings), r.NotEvaluated)
	}
	for _, n := range r.NotEvaluated {
		if n.Code != report.CouldNotSee || !strings.Contains(n.Reason, "cannot read pods") {
			t.Errorf("%+v", n)
		}
	}
}
