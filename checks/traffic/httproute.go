package traffic

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// HTTPRouteBackend reports Gateway API HTTPRoutes whose Service backends are broken.
type HTTPRouteBackend struct{}

func (HTTPRouteBackend) Meta() check.Meta {
	return check.Meta{
		ID:       "httproute-backend-broken",
		Title:    "HTTPRoute sends requests to a backend that cannot serve",
		Category: check.CategoryTraffic,
		Severity: check.Critical,
		Requires: append([]snapshot.Kind{snapshot.KindHTTPRoutes}, serviceKinds()...),
		Optional: ownerKinds(snapshot.KindEndpointSlices, snapshot.KindEvents),
		LiveOnly: true,
		// As for an Ingress: the Service's findings are hops of this path, the workload's its cause.
		Supersedes: []string{"service-selector-no-match", "service-no-ready-endpoints", "service-target-port-missing"},
		Description: "Where the API server serves the Gateway API (gateway.networking.k8s.io/v1), follows each " +
			"HTTPRoute rule's Service backendRefs (in the route's namespace unless the ref names another) like " +
			"ingress-backend-broken follows an Ingress: the Service does not exist, has no such port, selects no " +
			"pod, no selected container declares its named targetPort, or none of its endpoints is ready. " +
			"backendRefs to other kinds are not followed, nor is it judged whether a ReferenceGrant admits a " +
			"reference across namespaces. Not applicable where the Gateway API is not served.",
		Why: "The gateway has nowhere to send the requests a broken backend should take: clients get 500s for " +
			"that rule (or its share of them, when the rule splits traffic by weight).",
		Remediation: "Fix the first broken hop the message names: create or rename the Service, point the " +
			"backendRef at a port the Service has, align the selector with the pod labels, or make the pods ready.",
		References: []string{"https://gateway-api.sigs.k8s.io/api-types/httproute/#backendrefs-optional"},
	}
}

func (c HTTPRouteBackend) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	m := modelOf(s)
	var findings []check.Finding
	for _, hr := range s.HTTPRoutes {
		ref := snapshot.Ref{APIVersion: snapshot.GatewayGroupVersion, Kind: "HTTPRoute", Namespace: hr.Namespace, Name: hr.Name}
		r := newRoute(ref)
		for i, rule := range hr.Rules {
			for j, b := range rule.BackendRefs {
				if (b.Group != nil && *b.Group != "") || (b.Kind != nil && *b.Kind != "Service") || b.Port == nil {
					continue // another kind of backend, or one the API server would have refused
				}
				namespace := hr.Namespace
				if b.Namespace != nil && *b.Namespace != "" {
					namespace = *b.Namespace
				}
				path := fmt.Sprintf("/spec/rules/%d/backendRefs/%d/port", i, j)
				r.follow(s, m, backend{where: fmt.Sprintf("rule %d", i+1), namespace: namespace, service: b.Name,
					port:    networkingv1.ServiceBackendPort{Number: *b.Port},
					portFix: func(svc *corev1.Service) string { return routePortFix(hr, path, svc) }})
			}
		}
		if f, ok := r.finding(meta, m, fmt.Sprintf("HTTPRoute %s/%s", hr.Namespace, hr.Name), ""); ok {
			findings = append(findings, f)
		}
	}
	return findings
}

// routePortFix points a backendRef at the Service's only port, or shows the ports to choose from.
func routePortFix(hr snapshot.HTTPRoute, path string, svc *corev1.Service) string {
	if len(svc.Spec.Ports) != 1 {
		return fmt.Sprintf("kubectl get service -n %s %s -o jsonpath='{.spec.ports}'   # then point the backendRef at one of these ports",
			check.Quote(svc.Namespace), check.Quote(svc.Name))
	}
	patch := fmt.Sprintf(`[{"op":"replace","path":%q,"value":%d}]`, path, svc.Spec.Ports[0].Port)
	return fmt.Sprintf("kubectl patch httproute -n %s %s --type=json -p %s", check.Quote(hr.Namespace), check.Quote(hr.Name), check.Quote(patch))
}
