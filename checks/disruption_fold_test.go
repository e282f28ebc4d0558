package checks

import (
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/checks/aggregated"
	"github.com/alertmend/kubectl-alertmend/checks/disruption"
	"github.com/alertmend/kubectl-alertmend/checks/hygiene"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// An autoscaler blind because its metrics API is down is part of that API's outage: its finding
// folds into apiservice-unavailable's, which names it; one blind for another reason stays apart.
func TestBlindAutoscalersFoldUnderTheirMetricsAPI(t *testing.T) {
	s := loadFixture(t, "disruption/testdata/hpa-metrics-unavailable.yaml")
	plan, err := engine.Select(slices.Concat(aggregated.Checks(), disruption.Checks()), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		t.Fatal(err)
	}
	r := engine.Run(s, plan, fixNow)
	var apiservice string
	var hpas []string
	for _, f := range r.Findings {
		switch f.Check {
		case "apiservice-unavailable":
			apiservice = summary(f) + "\n" + strings.Join(f.Evidence, "\n") + "\n" + strings.Join(f.Fix, "\n")
		case "hpa-metrics-unavailable":
			hpas = append(hpas, f.Objects[1].Name)
		}
	}
	for _, want := range []string{"shop/horizontalpodautoscaler/cart", "1 HorizontalPodAutoscaler cannot scale without it: shop/cart",
		"HorizontalPodAutoscaler shop/cart cannot scale deployment shop/cart", "also reported by hpa-metrics-unavailable; folded into this finding"} {
		if !strings.Contains(apiservice, want) {
			t.Errorf("the APIService's finding lacks %q:\n%s", want, apiservice)
		}
	}
	if slices.Sort(hpas); !slices.Equal(hpas, []string{"gone", "orders", "queue", "report", "search"}) {
		t.Errorf("autoscalers reported apart: %q", hpas)
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
