package admission

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestChecksOnFixtures(t *testing.T) {
	fixture.RunCases(t, check.CategoryAdmission, Checks(), []fixture.Case{
		{Check: BackendUnavailable{}, Fixture: "webhook-backend-unavailable.yaml", Want: []string{
			"critical webhook-backend-unavailable validatingwebhookconfiguration/policy-gate,shop/deployment/cart",
			"high webhook-backend-unavailable mutatingwebhookconfiguration/sidecar-injector,mesh/deployment/injector",
			"medium webhook-backend-unavailable validatingwebhookconfiguration/widgets",
		}},
		{Check: FailClosedUnscoped{}, Fixture: "webhook-fail-closed-unscoped.yaml", Want: []string{
			"high webhook-fail-closed-unscoped validatingwebhookconfiguration/everything",
			"high webhook-fail-closed-unscoped validatingwebhookconfiguration/partial",
		}},
		{Check: MatchesOwnBackend{}, Fixture: "webhook-matches-own-backend.yaml", Want: []string{
			"high webhook-matches-own-backend mutatingwebhookconfiguration/self-inject,kyv/deployment/kyverno",
		}},
		{Check: TimeoutBudget{}, Fixture: "webhook-timeout-budget.yaml", Want: []string{
			"medium webhook-timeout-budget validatingwebhookconfiguration/validators,mutatingwebhookconfiguration/slow-mutators",
		}},
	})
}

func findings(t *testing.T, c check.Check, name string) map[string]check.Finding {
	t.Helper()
	out := map[string]check.Finding{}
	for _, f := range c.Run(fixture.Load(t, name)) {
		out[f.Objects[0].Name] = f
	}
	return out
}

// The message names what is blocked and where, the evidence quotes the webhook's own failures
// and nobody else's, and the fix lets writes through before anything drastic.
func TestBackendUnavailableSaysWhatItBlocks(t *testing.T) {
	got := findings(t, BackendUnavailable{}, "webhook-backend-unavailable.yaml")
	gate := got["policy-gate"]
	for _, want := range []string{`webhook "pods.policy.example.com"`, "its backend cannot answer: Service policy/policy-webhook does not exist",
		"CREATE of pods in every namespace"} {
		if !strings.Contains(gate.Message, want) {
			t.Errorf("policy-gate message lacks %q: %s", want, gate.Message)
		}
	}
	evidence := strings.Join(gate.Evidence, "\n")
	if !strings.Contains(evidence, `event FailedCreate on replicaset shop/cart-7d9 (x14), last 2m ago: Error creating: Internal error occurred: failed calling webhook "pods.policy.example.com"`) {
		t.Errorf("the failed call is not quoted:\n%s", evidence)
	}
	if strings.Contains(evidence, "other.example.com") {
		t.Errorf("another webhook's failure is quoted:\n%s", evidence)
	}
	if gate.Since == nil || gate.Since.Format("15:04") != "09:20" || !gate.Incident {
		t.Errorf("since %v, incident %v: want the first failed call, 09:20", gate.Since, gate.Incident)
	}
	wantFix := `kubectl patch validatingwebhookconfiguration/policy-gate --type=json -p '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]'`
	if !strings.HasPrefix(gate.Fix[0], wantFix+"  # ") {
		t.Errorf("first fix %q, want the failurePolicy patch", gate.Fix[0])
	}
	if last := gate.Fix[len(gate.Fix)-1]; !strings.HasPrefix(last, "# last resort") || !strings.Contains(last, "kubectl delete validatingwebhookconfiguration/policy-gate") {
		t.Errorf("deleting the webhook is not a commented last resort: %q", last)
	}

	injector := got["sidecar-injector"]
	if !strings.Contains(injector.Message, "in 1 namespace (shop) matching inject=enabled") ||
		!strings.Contains(injector.Message, "Service mesh/injector has no ready endpoints (1 endpoint not ready)") {
		t.Errorf("injector message: %s", injector.Message)
	}
	for _, want := range []string{"backend pod mesh/injector-5f6-abcde: Running, injector waiting (CrashLoopBackOff)",
		"backend deployment mesh/injector: 0 of 1 replicas available"} {
		if !slices.Contains(injector.Evidence, want) {
			t.Errorf("injector evidence lacks %q: %q", want, injector.Evidence)
		}
	}
	if !slices.Contains(injector.Fix, "kubectl scale -n mesh deployment/injector --replicas=1  # if it was scaled to zero") {
		t.Errorf("injector fix: %q", injector.Fix)
	}
}

// A rule names resources the way the API server matches them: "*" is every resource but no
// subresource, "*/*" everything, "pods/*" pods and all their subresources.
func TestRuleMatching(t *testing.T) {
	rule := func(resources ...string) hook {
		return hook{rules: ruleWith(resources...)}
	}
	cases := []struct {
		h    hook
		r    request
		want bool
	}{
		{rule("pods"), podCreate, true},
		{rule("*"), podCreate, true},
		{rule("*"), request{operation: "UPDATE", resource: "pods/status"}, false},
		{rule("*/*"), request{operation: "UPDATE", resource: "pods/status"}, true},
		{rule("pods/*"), podCreate, true},
		{rule("pods/*"), request{operation: "UPDATE", resource: "pods/status"}, true},
		{rule("pods/status"), request{operation: "UPDATE", resource: "pods/status"}, true},
		{rule("deployments"), podCreate, false},
		{rule("pods"), request{operation: "DELETE", resource: "pods"}, false},
	}
	for _, tc := range cases {
		if got := tc.h.matchesRequest(tc.r); got != tc.want {
			t.Errorf("%v against %s: %v, want %v", tc.h.rules[0].Resources, tc.r, got, tc.want)
		}
	}
}

// The fix keeps what the selector already asks: it appends to matchExpressions, adds them
// beside matchLabels, or sets the selector when there was none.
func TestExcludeNamespacesFixKeepsTheSelector(t *testing.T) {
	got := findings(t, FailClosedUnscoped{}, "webhook-fail-closed-unscoped.yaml")
	cases := map[string]string{
		"everything": `kubectl patch validatingwebhookconfiguration/everything --type=json -p '[{"op":"add","path":"/webhooks/0/namespaceSelector","value":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system","sec"]}]}}]'`,
		"partial":    `kubectl patch validatingwebhookconfiguration/partial --type=json -p '[{"op":"add","path":"/webhooks/0/namespaceSelector/matchExpressions/-","value":{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["sec3"]}}]'`,
	}
	for name, want := range cases {
		if fix := got[name].Fix; len(fix) != 1 || !strings.HasPrefix(fix[0], want+"  # ") {
			t.Errorf("%s fix %q\nwant %s", name, fix, want)
		}
	}
	if msg := got["partial"].Message; !strings.Contains(msg, "in sec3:") || strings.Contains(msg, "kube-system") {
		t.Errorf("partial leaves kube-system out: %s", msg)
	}
}

func TestTimeoutBudgetAddsMutatingAndTheLongestValidating(t *testing.T) {
	f := TimeoutBudget{}.Run(fixture.Load(t, "webhook-timeout-budget.yaml"))
	if len(f) != 1 {
		t.Fatalf("findings %d, want 1", len(f))
	}
	if want := "4 webhooks can take up to 40s in webhooks for CREATE pods, longer than the 34s"; !strings.HasPrefix(f[0].Message, want) {
		t.Errorf("message %q, want %q...", f[0].Message, want)
	}
}

// In manifests (-f) the risky shapes show, from the pod templates, without any live state.
func TestRiskChecksJudgeManifests(t *testing.T) {
	for _, c := range []check.Check{FailClosedUnscoped{}, MatchesOwnBackend{}, TimeoutBudget{}} {
		if c.Meta().LiveOnly {
			t.Errorf("%s is left out of -f", c.Meta().ID)
		}
	}
	if !(BackendUnavailable{}).Meta().LiveOnly {
		t.Error("manifests hold no endpoints: the backend check must be live only")
	}
	s := fixture.Load(t, "webhook-matches-own-backend.yaml")
	s.Source = snapshot.SourceManifests
	if got := fixture.Summaries(MatchesOwnBackend{}.Run(s)); !reflect.DeepEqual(got,
		[]string{"high webhook-matches-own-backend mutatingwebhookconfiguration/self-inject,kyv/deployment/kyverno"}) {
		t.Errorf("manifests: %q", got)
	}
}
