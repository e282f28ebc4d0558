package aggregated

import (
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestChecksOnFixtures(t *testing.T) {
	fixture.RunCases(t, check.CategoryAPIServer, Checks(), []fixture.Case{
		{Check: APIServiceUnavailable{}, Fixture: "apiservice-unavailable.yaml", Want: []string{
			"high apiservice-unavailable apiservice/v1beta1.metrics.k8s.io,kube-system/deployment/metrics-server,namespace/old-team",
			"high apiservice-unavailable apiservice/v1beta1.custom.metrics.k8s.io",
		}},
		{Check: NamespaceTerminatingStuck{}, Fixture: "namespace-terminating-stuck.yaml", Want: []string{
			"medium namespace-terminating-stuck namespace/leftovers",
			"medium namespace-terminating-stuck namespace/old-team",
		}},
	})
}

func TestAPIServiceUnavailableSaysWhatBreaks(t *testing.T) {
	byName := map[string]check.Finding{}
	for _, f := range (APIServiceUnavailable{}).Run(fixture.Load(t, "apiservice-unavailable.yaml")) {
		byName[f.Objects[0].Name] = f
	}
	metrics := byName["v1beta1.metrics.k8s.io"]
	for _, want := range []string{"Available=False (MissingEndpoints)", "kubectl top fails", "HPAs cannot scale on CPU or memory", "namespaces cannot finish deleting"} {
		if !strings.Contains(metrics.Message, want) {
			t.Errorf("metrics message lacks %q: %s", want, metrics.Message)
		}
	}
	for _, want := range []string{"Service kube-system/metrics-server has no ready endpoints (1 endpoint not ready)",
		"backend deployment kube-system/metrics-server: 0 of 1 replicas available",
		"deletion of namespace is stalled on discovery of metrics.k8s.io/v1beta1: old-team"} {
		if !slices.Contains(metrics.Evidence, want) {
			t.Errorf("metrics evidence lacks %q: %q", want, metrics.Evidence)
		}
	}
	if metrics.Since == nil || metrics.Since.Format("15:04") != "08:00" {
		t.Errorf("since %v, want the condition's transition", metrics.Since)
	}
	if last := metrics.Fix[len(metrics.Fix)-1]; !strings.HasPrefix(last, "# last resort") || !strings.Contains(last, "kubectl delete apiservice v1beta1.metrics.k8s.io") {
		t.Errorf("deleting the APIService is not a commented last resort: %q", last)
	}
	custom := byName["v1beta1.custom.metrics.k8s.io"]
	if !strings.Contains(custom.Message, "ServiceNotFound") || !slices.Contains(custom.Evidence, "Service monitoring/prometheus-adapter does not exist") {
		t.Errorf("custom metrics: %s %q", custom.Message, custom.Evidence)
	}
}

func TestNamespaceTerminatingStuckNamesTheCause(t *testing.T) {
	for _, f := range (NamespaceTerminatingStuck{}).Run(fixture.Load(t, "namespace-terminating-stuck.yaml")) {
		switch f.Objects[0].Name {
		case "leftovers":
			// Finalizers are the first thing to read of the two conditions.
			if !strings.Contains(f.Message, "terminating for 24h: NamespaceFinalizersRemaining: ") ||
				!strings.Contains(f.Evidence[0], "NamespaceContentRemaining (SomeResourcesRemain)") {
				t.Errorf("leftovers: %s %q", f.Message, f.Evidence)
			}
			if f.Fix[0] != "kubectl -n leftovers get widgets.example.com -o custom-columns=NAME:.metadata.name,FINALIZERS:.metadata.finalizers" {
				t.Errorf("leftovers fix %q", f.Fix)
			}
		case "old-team":
			if !strings.Contains(f.Message, "NamespaceDeletionDiscoveryFailure: Discovery failed") || !strings.HasPrefix(f.Fix[0], "kubectl get apiservices") {
				t.Errorf("old-team: %s %q", f.Message, f.Fix)
			}
		}
	}
}

// Without the Services, or limited to another namespace, the backend is not judged: a Service
// that was not read is not one that does not exist.
func TestAPIServiceBackendUnseen(t *testing.T) {
	unread := fixture.Load(t, "apiservice-unavailable.yaml")
	unread.MarkUnavailable(snapshot.KindServices, "forbidden")
	limited := fixture.Load(t, "apiservice-unavailable.yaml")
	limited.Namespace = "shop"
	for name, s := range map[string]*snapshot.Snapshot{"unread": unread, "limited": limited} {
		for _, f := range (APIServiceUnavailable{}).Run(s) {
			evidence := strings.Join(f.Evidence, "\n")
			if !strings.Contains(evidence, "not judged: ") || strings.Contains(evidence, "does not exist") {
				t.Errorf("%s: %s: %q", name, f.Objects[0], f.Evidence)
			}
		}
	}
}
