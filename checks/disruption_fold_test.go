package checks

import (
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/checks/aggregated"
	"github.com/alertmend/kubectl-alertmend/checks/disruption"
	"github.com/alertmend/kubectl-alertmend/checks/hygiene"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// An autoscaler blind because its metrics API is down is a symptom of that API's outage: the
// APIService's finding names it and leads the incident it is in; one blind for another reason
// stands alone.
func TestBlindAutoscalersAreSymptomsOfTheirMetricsAPI(t *testing.T) {
	s := loadFixture(t, "disruption/testdata/hpa-metrics-unavailable.yaml")
	plan, err := engine.Select(slices.Concat(aggregated.Checks(), disruption.Checks()), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		t.Fatal(err)
	}
	r := engine.Run(s, plan, fixNow)
	var apiservice string
	var symptoms, apart []string
	for _, f := range r.Findings {
		switch f.Check {
		case "apiservice-unavailable":
			apiservice = summary(f) + "\n" + strings.Join(f.Evidence, "\n") + "\n" + strings.Join(f.Fix, "\n")
		case "hpa-metrics-unavailable":
			if rootCheck(r, f) == "apiservice-unavailable" {
				symptoms = append(symptoms, f.Objects[1].Name)
			} else {
				apart = append(apart, f.Objects[1].Name)
			}
		}
	}
	for _, want := range []string{"shop/horizontalpodautoscaler/cart", "1 HorizontalPodAutoscaler cannot scale without it: shop/cart"} {
		if !strings.Contains(apiservice, want) {
			t.Errorf("the APIService's finding lacks %q:\n%s", want, apiservice)
		}
	}
	if len(r.Findings) == 0 || r.Findings[0].Check != "apiservice-unavailable" {
		t.Errorf("the APIService's outage is not first: %v", r.Findings)
	}
	if !slices.Equal(symptoms, []string{"cart"}) {
		t.Errorf("autoscalers under the APIService: %q, want cart", symptoms)
	}
	if slices.Sort(apart); !slices.Equal(apart, []string{"gone", "orders", "queue", "report", "search"}) {
		t.Errorf("autoscalers reported apart: %q", apart)
	}
}

// A drain stuck on a budget explains the budget's static finding: one finding, not two.
func TestStuckDrainSupersedesTheStaticBudgetFinding(t *testing.T) {
	s := loadFixture(t, "disruption/testdata/drain-blocked-by-pdb.yaml")
	plan, err := engine.Select(slices.Concat(hygiene.Checks(), disruption.Checks()), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		t.Fatal(err)
	}
	r := engine.Run(s, plan, fixNow)
	folded := false
	for _, f := range r.Findings {
		if f.Check == "pdb-blocks-eviction" {
			t.Errorf("not folded: %s", summary(f))
		}
		if f.Check == "drain-blocked-by-pdb" && f.Objects[0].Name == "cart" {
			folded = slices.Contains(f.Evidence, "also reported by pdb-blocks-eviction; folded into this finding")
		}
	}
	if !folded {
		t.Error("the stuck drain of cart does not say it took in pdb-blocks-eviction")
	}
}

// rootCheck is the check of the finding that leads f's incident, f's own when f leads one, ""
// when f is in none.
func rootCheck(r *report.Report, f check.Finding) string {
	if root := incidentRoot(r, f); root != nil {
		return root.Check
	}
	return ""
}
