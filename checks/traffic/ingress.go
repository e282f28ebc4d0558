package traffic

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// IngressBackend reports Ingress backends whose Service path is broken.
type IngressBackend struct{}

func (IngressBackend) Meta() check.Meta {
	return check.Meta{
		ID:       "ingress-backend-broken",
		Title:    "Ingress routes to a backend that cannot serve",
		Category: check.CategoryTraffic,
		Severity: check.Critical,
		Requires: append([]snapshot.Kind{snapshot.KindIngresses}, serviceKinds()...),
		Optional: ownerKinds(snapshot.KindEndpointSlices, snapshot.KindEvents),
		// The Service's own findings are hops of this path; the workload's outage is its cause.
		Supersedes: []string{"service-selector-no-match", "service-no-ready-endpoints", "service-target-port-missing"},
		Description: "Follows each Ingress backend (the default backend and every rule's paths) to its Service and " +
			"reports the first broken hop: the Service does not exist, it has no port of that number or name, its " +
			"selector matches no pod, no selected container declares its named targetPort, or (live) none of its " +
			"endpoints is ready, with the pods' readiness failures. Critical on a cluster: the paths it names serve " +
			"errors. With -f the structure is judged (high), and a Service missing from the manifests only with " +
			"--complete. Resource backends and ExternalName or selector-less Services are not followed.",
		Why: "The Ingress controller has nowhere to send the requests of a broken backend: clients get 503s (or " +
			"404s from the default backend) although the Ingress looks configured.",
		Remediation: "Fix the first broken hop the message names: create or rename the Service, point the backend " +
			"at a port the Service has, align the selector with the pod labels, or make the pods ready.",
		References: []string{"https://kubernetes.io/docs/concepts/services-networking/ingress/#the-ingress-resource"},
	}
}

// backendUse is one place an Ingress names a Service.
type backendUse struct {
	where string
	// portPath is the JSON patch path of the backend's service port.
	portPath string
	backend  *networkingv1.IngressServiceBackend
}

func backendUses(ing *networkingv1.Ingress) []backendUse {
	var uses []backendUse
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		uses = append(uses, backendUse{"default backend", "/spec/defaultBackend/service/port", b.Service})
	}
	for i, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for j, path := range rule.HTTP.Paths {
			if path.Backend.Service == nil {
				continue
			}
			host := rule.Host
			if host == "" {
				host = "*"
			}
			uses = append(uses, backendUse{fmt.Sprintf("%s%s", host, path.Path),
				fmt.Sprintf("/spec/rules/%d/http/paths/%d/backend/service/port", i, j), path.Backend.Service})
		}
	}
	return uses
}

func (c IngressBackend) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	m := modelOf(s)
	var findings []check.Finding
	for i := range s.Ingresses {
		ing := &s.Ingresses[i]
		r := newRoute(snapshot.RefTo(snapshot.KindIngresses, ing.Namespace, ing.Name))
		for _, use := range backendUses(ing) {
			b := use.backend
			r.follow(s, m, backend{where: use.where, namespace: ing.Namespace, service: b.Name, port: b.Port,
				portFix: func(svc *corev1.Service) string { return ingressPortFix(ing, use, svc) }})
		}
		if f, ok := r.finding(meta, m, fmt.Sprintf("Ingress %s/%s", ing.Namespace, ing.Name), lbAddresses(ing)); ok {
			findings = append(findings, f)
		}
	}
	return findings
}

// servicePort finds the Service port an Ingress backend names, by number or by name.
func servicePort(svc *corev1.Service, port networkingv1.ServiceBackendPort) (corev1.ServicePort, bool) {
	for _, p := range svc.Spec.Ports {
		if (port.Name != "" && p.Name == port.Name) || (port.Name == "" && p.Port == port.Number) {
			return p, true
		}
	}
	return corev1.ServicePort{}, false
}

func backendPort(port networkingv1.ServiceBackendPort) string {
	if port.Name != "" {
		return port.Name
	}
	return fmt.Sprint(port.Number)
}

// ingressPortFix points the backend at the Service's only port, or shows the ports to choose from.
func ingressPortFix(ing *networkingv1.Ingress, use backendUse, svc *corev1.Service) string {
	if len(svc.Spec.Ports) != 1 {
		return fmt.Sprintf("kubectl get service -n %s %s -o jsonpath='{.spec.ports}'   # then point the backend at one of these ports",
			check.Quote(svc.Namespace), check.Quote(svc.Name))
	}
	patch := fmt.Sprintf(`[{"op":"replace","path":%q,"value":{"number":%d}}]`, use.portPath, svc.Spec.Ports[0].Port)
	return fmt.Sprintf("kubectl patch ingress -n %s %s --type=json -p %s", check.Quote(ing.Namespace), check.Quote(ing.Name), check.Quote(patch))
}

func lbAddresses(ing *networkingv1.Ingress) string {
	var out []string
	for _, lb := range ing.Status.LoadBalancer.Ingress {
		if lb.Hostname != "" {
			out = append(out, lb.Hostname)
		} else if lb.IP != "" {
			out = append(out, lb.IP)
		}
	}
	return strings.Join(out, ", ")
}
