package cmd

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/checks/traffic"
	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// trafficFixture names a fixture of the traffic checks, as internal/fixture finds it from here.
func trafficFixture(name string) string {
	return filepath.Join("..", "..", "..", "checks", "traffic", "testdata", name)
}

// One outage, one finding: Deployment api has no available replica, so Service api has no
// ready endpoint, so Ingress api serves nothing. The whole catalog reports it once, headed by
// what it cuts off (the Ingress, critical), with the workload's cause and fixes folded in.
func TestTrafficOutageIsReportedOnceAsWhatItCutsOff(t *testing.T) {
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
	if strings.Join(about, ",") != "ingress-backend-broken" {
		t.Fatalf("findings about api: %q, want only ingress-backend-broken", about)
	}
	// The Service behind Ingress canary selects nothing: its own finding is superseded.
	for _, f := range r.Findings {
		if f.Check == "service-selector-no-match" {
			t.Errorf("not folded into the Ingress's finding: %s %v", f.Check, f.Objects)
		}
	}
	for _, f := range r.Findings {
		if f.Check != "ingress-backend-broken" || f.Objects[0].Name != "api" {
			continue
		}
		evidence := strings.Join(f.Evidence, "\n")
		for _, want := range []string{"deployment shop/api", "also reported by deployment-unavailable, service-no-ready-endpoints"} {
			if !strings.Contains(evidence, want) {
				t.Errorf("evidence lacks %q:\n%s", want, evidence)
			}
		}
		if f.Severity != "critical" {
			t.Errorf("severity %s", f.Severity)
		}
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
