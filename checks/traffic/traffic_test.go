package traffic

import (
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestChecksOnFixtures(t *testing.T) {
	var cases []fixture.Case
	// The healthy path gives no finding of any check.
	for _, c := range Checks() {
		cases = append(cases, fixture.Case{Check: c, Fixture: "healthy.yaml"})
	}
	cases = append(cases,
		fixture.Case{Check: IngressBackend{}, Base: "healthy.yaml", Fixture: "ingress-backend-broken.yaml", Want: []string{
			"critical ingress-backend-broken shop/ingress/ghost",
			"critical ingress-backend-broken shop/ingress/wrong-port,shop/service/web",
			"critical ingress-backend-broken shop/ingress/api,shop/service/api,shop/deployment/api",
			"critical ingress-backend-broken shop/ingress/canary,shop/service/canary",
		}},
		// HTTPRoutes come from a probe of the Gateway API, as the collector reads them.
		fixture.Case{Check: HTTPRouteBackend{}, Base: "healthy.yaml", Fixture: "ingress-backend-broken.yaml", Probes: withRoutes, Want: []string{
			"critical httproute-backend-broken shop/httproute/api,shop/service/api,shop/deployment/api",
			"critical httproute-backend-broken shop/httproute/split,shop/service/web",
		}},
		fixture.Case{Check: HTTPRouteBackend{}, Fixture: "healthy.yaml", Probes: func(s *snapshot.Snapshot) {
			s.HTTPRoutes = []snapshot.HTTPRoute{httpRoute("shop", "web", backendRef("web", 80))}
		}},
		fixture.Case{Check: SelectorNoMatch{}, Base: "healthy.yaml", Fixture: "ingress-backend-broken.yaml", Want: []string{
			"high service-selector-no-match shop/service/canary",
		}},
		fixture.Case{Check: SelectorNoMatch{}, Base: "healthy.yaml", Fixture: "service-selector-no-match.yaml", Want: []string{
			"high service-selector-no-match shop/service/web",
			"low service-selector-no-match shop/service/reports,shop/deployment/reports",
			"high service-selector-no-match shop/service/search,shop/deployment/search",
		}},
		// peers publishes its unready pods: no readiness finding.
		fixture.Case{Check: NoReadyEndpoints{}, Base: "healthy.yaml", Fixture: "service-selector-no-match.yaml"},
		fixture.Case{Check: NoReadyEndpoints{}, Base: "healthy.yaml", Fixture: "service-no-ready-endpoints.yaml", Want: []string{
			"high service-no-ready-endpoints shop/service/web,shop/deployment/web",
			"critical service-no-ready-endpoints shop/service/web-public,shop/deployment/web",
		}},
		fixture.Case{Check: NoReadyEndpoints{}, Base: "healthy.yaml", Fixture: "ingress-backend-broken.yaml", Want: []string{
			"high service-no-ready-endpoints shop/service/api,shop/deployment/api",
		}},
		fixture.Case{Check: TargetPortMissing{}, Base: "healthy.yaml", Fixture: "service-target-port-missing.yaml", Want: []string{
			"high service-target-port-missing shop/service/web,shop/deployment/web",
			"medium service-target-port-missing shop/service/mixed,shop/deployment/web,shop/pod/worker-0",
			"low service-target-port-missing shop/service/metrics,shop/deployment/web",
		}},
		fixture.Case{Check: LocalTrafficNodes{}, Base: "healthy.yaml", Fixture: "service-local-traffic-nodes.yaml", Want: []string{
			"low service-local-traffic-nodes shop/service/web-public,shop/deployment/web",
			"medium service-local-traffic-nodes shop/service/web-nodeport,shop/deployment/web",
		}},
		// No endpoint ready anywhere is service-no-ready-endpoints, not this.
		fixture.Case{Check: LocalTrafficNodes{}, Base: "healthy.yaml", Fixture: "service-no-ready-endpoints.yaml"},
	)
	fixture.RunCases(t, check.CategoryTraffic, Checks(), cases)
}

func find(t *testing.T, findings []check.Finding, object string) check.Finding {
	t.Helper()
	for _, f := range findings {
		if f.Objects[0].Name == object {
			return f
		}
	}
	t.Fatalf("no finding about %s in %d findings", object, len(findings))
	return check.Finding{}
}

func hasLine(lines []string, part string) bool {
	for _, l := range lines {
		if strings.Contains(l, part) {
			return true
		}
	}
	return false
}

// Each Ingress finding names the hop that broke and the reason there.
func TestIngressNamesTheBrokenHop(t *testing.T) {
	findings := IngressBackend{}.Run(fixture.LoadOverlay(t, "healthy.yaml", "ingress-backend-broken.yaml"))
	for object, want := range map[string]string{
		"ghost":      "ghost.example/ -> service ghost:80: the Service does not exist",
		"wrong-port": "shop.example/v2 -> service web:8080: the Service has no such port (its ports: 80/http)",
		"api":        "api.example/ -> service api:http: Service api has no ready endpoint: none of its 2 pods (deployment shop/api) is ready",
		"canary":     "canary.example/ -> service canary:80: Service canary selects no pod: nothing in namespace shop has labels app=web,track=canary",
	} {
		if f := find(t, findings, object); !strings.Contains(f.Message, want) || !f.Incident {
			t.Errorf("%s: message %q does not say %q", object, f.Message, want)
		}
	}
	api := find(t, findings, "api")
	for _, want := range []string{
		"Ingress shop/api is served at lb.example",
		"EndpointSlices: 0 ready, 2 not-ready endpoints",
		"pod api-7c9b-ccccc on node node-a: Ready=False (ContainersNotReady) for 20m: containers with unready status: [api]; " +
			"event Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503 (x42)",
	} {
		if !hasLine(api.Evidence, want) {
			t.Errorf("api evidence lacks %q: %q", want, api.Evidence)
		}
	}
	if api.Since == nil || api.Since.Format("15:04") != "09:40" {
		t.Errorf("api since %v, want when the first pod stopped being ready", api.Since)
	}
	wrong := find(t, findings, "wrong-port")
	if !hasLine(wrong.Fix, `kubectl patch ingress -n shop wrong-port --type=json -p '[{"op":"replace","path":"/spec/rules/0/http/paths/0/backend/service/port","value":{"number":80}}]'`) {
		t.Errorf("wrong-port fix: %q", wrong.Fix)
	}
}

func TestSelectorNamesTheLabelThatDiffers(t *testing.T) {
	f := find(t, SelectorNoMatch{}.Run(fixture.LoadOverlay(t, "healthy.yaml", "service-selector-no-match.yaml")), "web")
	if !hasLine(f.Evidence, "nearest: deployment shop/web has app=web-v2, the selector wants app=web") {
		t.Errorf("evidence: %q", f.Evidence)
	}
	if !hasLine(f.Fix, `kubectl patch service -n shop web -p '{"spec":{"selector":{"app":"web-v2"}}}'`) {
		t.Errorf("fix: %q", f.Fix)
	}
}

func TestTargetPortFixNamesTheDeclaredPort(t *testing.T) {
	f := find(t, TargetPortMissing{}.Run(fixture.LoadOverlay(t, "healthy.yaml", "service-target-port-missing.yaml")), "web")
	if !hasLine(f.Evidence, "deployment shop/web declares container ports: web=8080/TCP") || !f.Incident {
		t.Errorf("evidence: %q", f.Evidence)
	}
	if !hasLine(f.Fix, `kubectl patch service -n shop web --type=json -p '[{"op":"replace","path":"/spec/ports/0/targetPort","value":"web"}]'`) {
		t.Errorf("fix: %q", f.Fix)
	}
}

// With -f the Services are matched against the workloads' templates, and what the manifests do
// not show (a Service from another file, readiness) is not judged.
func TestManifests(t *testing.T) {
	load := func(complete bool) *snapshot.Snapshot {
		loader := &snapshot.Loader{}
		s, err := loader.LoadFiles([]string{"testdata/manifests.yaml"})
		if err != nil {
			t.Fatal(err)
		}
		s.Complete = complete
		return s
	}
	for _, tc := range []struct {
		check    check.Check
		complete bool
		want     []string
	}{
		{IngressBackend{}, false, []string{
			"high ingress-backend-broken shop/ingress/shop,shop/service/web,shop/deployment/web",
			"high ingress-backend-broken shop/ingress/admin,shop/service/admin",
		}},
		{IngressBackend{}, true, []string{
			"high ingress-backend-broken shop/ingress/shop,shop/service/web,shop/deployment/web",
			"high ingress-backend-broken shop/ingress/admin,shop/service/admin",
			"high ingress-backend-broken shop/ingress/blog",
		}},
		{SelectorNoMatch{}, false, []string{"high service-selector-no-match shop/service/api"}},
		{SelectorNoMatch{}, true, []string{"high service-selector-no-match shop/service/api", "high service-selector-no-match shop/service/cache"}},
		{TargetPortMissing{}, false, []string{"high service-target-port-missing shop/service/web,shop/deployment/web"}},
		{NoReadyEndpoints{}, true, nil},
	} {
		s := load(tc.complete)
		got := fixture.Summaries(tc.check.Run(s))
		want := append([]string{}, tc.want...)
		if strings.Join(got, "\n") != strings.Join(sorted(want), "\n") {
			t.Errorf("%s (complete %v):\n got  %q\n want %q", tc.check.Meta().ID, tc.complete, got, sorted(want))
		}
		for _, f := range tc.check.Run(s) {
			if f.Incident {
				t.Errorf("%s: a manifest's flaw is a risk, not an incident", f.Check)
			}
		}
	}
}

func sorted(lines []string) []string {
	out := append([]string{}, lines...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func backendRef(name string, port int32) snapshot.HTTPBackendRef {
	return snapshot.HTTPBackendRef{Name: name, Port: &port}
}

func httpRoute(namespace, name string, refs ...snapshot.HTTPBackendRef) snapshot.HTTPRoute {
	return snapshot.HTTPRoute{Namespace: namespace, Name: name, Rules: []snapshot.HTTPRouteRules{{BackendRefs: refs}}}
}

// withRoutes adds routes to the Ingress fixture's Services: api's pods are not ready; split sends
// to web (fine), to a Service that does not exist, and to a port web does not have; bucket's
// backend is not a Service.
func withRoutes(s *snapshot.Snapshot) {
	bucket, group := "Bucket", "storage.example"
	s.HTTPRoutes = []snapshot.HTTPRoute{
		httpRoute("shop", "api", backendRef("api", 80)),
		httpRoute("shop", "split", backendRef("web", 80), backendRef("ghost", 80), backendRef("web", 9999)),
		httpRoute("shop", "bucket", snapshot.HTTPBackendRef{Group: &group, Kind: &bucket, Name: "assets"}),
	}
}

func TestHTTPRouteNamesTheBrokenHop(t *testing.T) {
	s := fixture.LoadOverlay(t, "healthy.yaml", "ingress-backend-broken.yaml")
	withRoutes(s)
	f := find(t, HTTPRouteBackend{}.Run(s), "split")
	for _, want := range []string{
		"HTTPRoute shop/split serves 2 paths with no working backend",
		"rule 1 -> service ghost:80: the Service does not exist",
		"rule 1 -> service web:9999: the Service has no such port (its ports: 80/http)",
	} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("message %q lacks %q", f.Message, want)
		}
	}
	if !hasLine(f.Fix, `kubectl patch httproute -n shop split --type=json -p '[{"op":"replace","path":"/spec/rules/0/backendRefs/2/port","value":80}]'`) {
		t.Errorf("fix %q", f.Fix)
	}
}

// A run limited by -n read no other namespace's Services: a route to one is not judged, never
// reported as a Service that does not exist.
func TestHTTPRouteToAnotherNamespaceUnderN(t *testing.T) {
	s := fixture.LoadOverlay(t, "healthy.yaml", "ingress-backend-broken.yaml")
	other := "payments"
	ref := backendRef("gateway", 80)
	ref.Namespace = &other
	s.HTTPRoutes = []snapshot.HTTPRoute{httpRoute("shop", "cross", ref)}
	s.Source, s.Namespace = snapshot.SourceCluster, "shop"
	if findings := (HTTPRouteBackend{}).Run(s); len(findings) != 0 {
		t.Errorf("findings about a Service -n did not read: %q", findings[0].Message)
	}
	// Across the whole cluster, the missing Service is reported.
	s.Namespace = ""
	if findings := (HTTPRouteBackend{}).Run(s); len(findings) != 1 || !strings.Contains(findings[0].Message, "payments") && !strings.Contains(findings[0].Message, "gateway") {
		t.Errorf("whole cluster: %d findings", len(findings))
	}
}
