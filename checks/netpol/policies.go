package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Dangling reports policies whose podSelector selects nothing.
type Dangling struct{}

func (Dangling) Meta() check.Meta {
	return check.Meta{
		ID:       "netpol-dangling",
		Title:    "NetworkPolicies that select no pod",
		Category: check.CategoryNetpol,
		Severity: check.Low,
		Requires: withWorkloads(),
		Optional: snapshot.LegacyWorkloadKinds(),
		Description: "Reports policies whose podSelector matches no pod and no workload's pod template in their " +
			"namespace. An empty podSelector ({}) is never reported: it is a namespace-wide rule waiting for pods. " +
			"Manifests are judged only when diagnose --complete says they are everything that runs: otherwise the " +
			"pods an operator creates from a custom resource (a Prometheus, an Alertmanager) are not in them, and " +
			"no policy is reported.",
		Why: "A policy that selects nothing protects nothing; usually its labels no longer match the workload " +
			"(renamed, or a typo), and the workload it was meant for is open.",
		Remediation: "Fix the podSelector to match the workload's pod labels, or delete the policy.",
		References:  []string{reference},
	}
}

func (c Dangling) Run(s *snapshot.Snapshot) []check.Finding {
	if s.Source == snapshot.SourceManifests && !s.Complete {
		// In a partial input, selecting nothing there is no sign of selecting nothing where it runs.
		return nil
	}
	m := newModel(s)
	var findings []check.Finding
	for i := range s.NetworkPolicies {
		p := &s.NetworkPolicies[i]
		sel := selector(&p.Spec.PodSelector)
		if sel.Empty() {
			continue
		}
		matches := func(e endpoint) bool { return selects(p, e) }
		if slices.ContainsFunc(m.endpoints, matches) || slices.ContainsFunc(m.templates, matches) {
			continue
		}
		f := check.New(c.Meta(), fmt.Sprintf("NetworkPolicy %s/%s selects no pod: no pod or pod template in "+
			"namespace %s has labels matching %s.", p.Namespace, p.Name, p.Namespace, sel), policyRef(p))
		f.Fix = []string{"kubectl get pods --show-labels -n " + check.Quote(p.Namespace), editPolicy(p)}
		findings = append(findings, f)
	}
	return findings
}

// PeerMatchesNothing reports rule peers whose selectors match nothing in the cluster.
type PeerMatchesNothing struct{}

func (PeerMatchesNothing) Meta() check.Meta {
	return check.Meta{
		ID:       "netpol-peer-matches-nothing",
		Title:    "NetworkPolicy peers that match nothing",
		Category: check.CategoryNetpol,
		Severity: check.Low,
		Requires: withWorkloads(snapshot.KindNamespaces),
		Optional: snapshot.LegacyWorkloadKinds(),
		LiveOnly: true, WholeCluster: true,
		Description: "Reports from/to peers whose namespaceSelector matches no namespace, or whose podSelector " +
			"matches no pod or pod template in the namespaces the peer covers (the policy's own, or those its " +
			"namespaceSelector matches). Empty selectors match everything and are not reported.",
		Why: "A peer that matches nothing allows nothing: the traffic the rule was written for is dropped, " +
			"usually because of a typo in a label or a label that changed.",
		Remediation: "Compare the peer's selectors with the labels of the namespaces and pods it should match " +
			"(kubectl get namespaces --show-labels).",
		References: []string{reference + "#behavior-of-to-and-from-selectors"},
	}
}

func (c PeerMatchesNothing) Run(s *snapshot.Snapshot) []check.Finding {
	m := newModel(s)
	candidates := append(append([]endpoint{}, m.endpoints...), m.templates...)
	var findings []check.Finding
	for i := range s.NetworkPolicies {
		p := &s.NetworkPolicies[i]
		var evidence []string
		inspect := func(direction string, rule int, peers []networkingv1.NetworkPolicyPeer) {
			for j, peer := range peers {
				if why := m.peerMatchesNothing(p.Namespace, peer, candidates); why != "" {
					evidence = append(evidence, fmt.Sprintf("%s rule %d, peer %d: %s", direction, rule+1, j+1, why))
				}
			}
		}
		for r, rule := range p.Spec.Ingress {
			inspect("ingress", r, rule.From)
		}
		for r, rule := range p.Spec.Egress {
			inspect("egress", r, rule.To)
		}
		if len(evidence) == 0 {
			continue
		}
		f := check.New(c.Meta(), fmt.Sprintf("NetworkPolicy %s/%s has %s nothing in the cluster: the "+
			"traffic %s written for is not allowed.", p.Namespace, p.Name,
			check.Plural(len(evidence), "peer that matches", "peers that match"), check.PluralForm(len(evidence), "it was", "they were")), policyRef(p))
		f.Evidence = check.LimitEvidence(evidence)
		f.Fix = []string{"kubectl get namespaces --show-labels", editPolicy(p)}
		findings = append(findings, f)
	}
	return findings
}

// peerMatchesNothing says why a peer matches nothing, or "" if it matches something (or is an
// ipBlock, which is about addresses).
func (m *model) peerMatchesNothing(policyNS string, peer networkingv1.NetworkPolicyPeer, candidates []endpoint) string {
	if peer.IPBlock != nil {
		return ""
	}
	namespaces := []string{policyNS}
	if peer.NamespaceSelector != nil {
		nsSel := selector(peer.NamespaceSelector)
		if nsSel.Empty() {
			return ""
		}
		namespaces = nil
		for name, set := range m.namespaces {
			if nsSel.Matches(set) {
				namespaces = append(namespaces, name)
			}
		}
		if len(namespaces) == 0 {
			return fmt.Sprintf("namespaceSelector %s matches no namespace", nsSel)
		}
	}
	if peer.PodSelector == nil {
		return ""
	}
	podSel := selector(peer.PodSelector)
	if podSel.Empty() {
		return ""
	}
	for _, e := range candidates {
		if slices.Contains(namespaces, e.namespace) && podSel.Matches(e.labels) {
			return ""
		}
	}
	slices.Sort(namespaces)
	return fmt.Sprintf("podSelector %s matches no pod in namespace %s", podSel, strings.Join(namespaces, ", "))
}

// IngressFromAnywhere reports policies that admit every source to pods that nothing exposes.
type IngressFromAnywhere struct{}

func (IngressFromAnywhere) Meta() check.Meta {
	return check.Meta{
		ID:       "netpol-ingress-from-anywhere",
		Title:    "NetworkPolicies admit every source to internal workloads",
		Category: check.CategoryNetpol,
		Severity: check.Medium,
		Requires: withWorkloads(snapshot.KindServices, snapshot.KindIngresses),
		// Where these cannot be read the check still runs, and says the exemption is unknown.
		Optional: append(apiServerClientKinds(), snapshot.LegacyWorkloadKinds()...),
		Description: "Reports ingress rules that admit every source (a rule without from, a namespaceSelector {} " +
			"without a narrowing podSelector, or an ipBlock of 0.0.0.0/0 or ::/0) on policies selecting pods " +
			"that nothing exposes: no LoadBalancer or NodePort Service, no Service with externalIPs or behind an " +
			"Ingress, no hostPort. Pods behind a Service that an APIService (an aggregated API) or a validating " +
			"or mutating webhook configuration names are not reported: the API server calls them from its own " +
			"network, which no pod or namespace selector names, so admitting every source is required. Gateway " +
			"API routes and OpenShift Routes are not read: pods exposed only through them are taken for internal.",
		Why: "Such a rule undoes the isolation the policy was written for: every pod in the cluster (and beyond, " +
			"for an ipBlock) can reach a workload that is meant to be internal.",
		Remediation: "Narrow the rule to the namespaces and pods that are the workload's clients.",
		References:  []string{reference + "#behavior-of-to-and-from-selectors"},
	}
}

func (c IngressFromAnywhere) Run(s *snapshot.Snapshot) []check.Finding {
	m := newModel(s)
	exposed := exposedSelectors(s)
	called := apiServerCalled(s)
	var unknown []string
	for _, k := range apiServerClientKinds() {
		if why, ok := s.Unavailable[k]; ok {
			unknown = append(unknown, fmt.Sprintf("cannot read %s (%s): pods the API server calls could not be told apart", k, why))
		}
	}
	var findings []check.Finding
	for i := range s.NetworkPolicies {
		p := &s.NetworkPolicies[i]
		if !isolates(p, networkingv1.PolicyTypeIngress) {
			continue
		}
		var rules []string
		for r, rule := range p.Spec.Ingress {
			if why := fromAnywhere(rule); why != "" {
				rules = append(rules, fmt.Sprintf("ingress rule %d: %s", r+1, why))
			}
		}
		if len(rules) == 0 {
			continue
		}
		var internal, required []endpoint
		for _, e := range m.endpoints {
			if !selects(p, e) || e.hostNetwork() || isExposed(e, exposed) {
				continue
			}
			if called.selects(e) != "" {
				required = append(required, e)
				continue
			}
			internal = append(internal, e)
		}
		if len(internal) == 0 {
			continue
		}
		objects := []snapshot.Ref{policyRef(p)}
		evidence := append(rules, unknown...)
		for _, e := range owners(internal) {
			objects = append(objects, e.owner)
			evidence = append(evidence, fmt.Sprintf("%s: exposed by no LoadBalancer, NodePort or Ingress", e.owner))
		}
		for _, e := range owners(required) {
			evidence = append(evidence, fmt.Sprintf("%s: not reported, %s", e.owner, called.selects(e)))
		}
		f := check.New(c.Meta(), fmt.Sprintf("NetworkPolicy %s/%s admits every source to %s that nothing exposes "+
			"outside the cluster.", p.Namespace, p.Name, check.Plural(len(objects)-1, "workload", "workloads")), objects...)
		f.Evidence = check.LimitEvidence(evidence)
		f.Fix = []string{editPolicy(p) + "   # narrow from: to the clients' namespaceSelector and podSelector"}
		findings = append(findings, f)
	}
	return findings
}

// fromAnywhere says how a rule admits every source, or "".
func fromAnywhere(rule networkingv1.NetworkPolicyIngressRule) string {
	if len(rule.From) == 0 {
		return "no from: every source"
	}
	for _, peer := range rule.From {
		switch {
		case peer.IPBlock != nil:
			if prefix, err := netip.ParsePrefix(peer.IPBlock.CIDR); err == nil && prefix.Bits() == 0 {
				return "ipBlock " + peer.IPBlock.CIDR
			}
		case peer.NamespaceSelector != nil && selector(peer.NamespaceSelector).Empty() &&
			(peer.PodSelector == nil || selector(peer.PodSelector).Empty()):
			return "namespaceSelector {}: every pod of every namespace"
		}
	}
	return ""
}

// exposedSelectors are, per namespace, the selectors of Services reachable from outside the
// cluster: LoadBalancer and NodePort Services, and Services an Ingress routes to.
func exposedSelectors(s *snapshot.Snapshot) map[string][]labels.Selector {
	routed := map[string]bool{}
	for i := range s.Ingresses {
		ing := &s.Ingresses[i]
		if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
			routed[ing.Namespace+"/"+b.Service.Name] = true
		}
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, path := range rule.HTTP.Paths {
				if path.Backend.Service != nil {
					routed[ing.Namespace+"/"+path.Backend.Service.Name] = true
				}
			}
		}
	}
	out := map[string][]labels.Selector{}
	for i := range s.Services {
		svc := &s.Services[i]
		external := svc.Spec.Type == corev1.ServiceTypeLoadBalancer || svc.Spec.Type == corev1.ServiceTypeNodePort ||
			len(svc.Spec.ExternalIPs) > 0
		if len(svc.Spec.Selector) == 0 || (!external && !routed[svc.Namespace+"/"+svc.Name]) {
			continue
		}
		out[svc.Namespace] = append(out[svc.Namespace], labels.SelectorFromSet(svc.Spec.Selector))
	}
	return out
}

func isExposed(e endpoint, exposed map[string][]labels.Selector) bool {
	for _, c := range e.spec.Containers {
		if slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.HostPort != 0 }) {
			return true // reachable on the node's address
		}
	}
	return slices.ContainsFunc(exposed[e.namespace], func(sel labels.Selector) bool { return sel.Matches(e.labels) })
}

// apiServerClientKinds are the objects that name Services the API server itself calls.
func apiServerClientKinds() []snapshot.Kind {
	return []snapshot.Kind{snapshot.KindAPIServices, snapshot.KindValidatingWebhookConfigurations, snapshot.KindMutatingWebhookConfigurations}
}

// calledServices are the selectors, per namespace, of the Services the API server calls (the
// backends of aggregated APIs and admission webhooks), each with why.
type calledServices map[string][]calledService

type calledService struct {
	selector labels.Selector
	why      string
}

// selects says why the API server calls an endpoint, or "".
func (c calledServices) selects(e endpoint) string {
	for _, svc := range c[e.namespace] {
		if svc.selector.Matches(e.labels) {
			return svc.why
		}
	}
	return ""
}

// apiServerCalled finds the Services that APIServices (spec.service) and webhook configurations
// (webhooks[].clientConfig.service) name, in the namespace they name. A webhook reached by URL
// names no Service and exempts nothing.
func apiServerCalled(s *snapshot.Snapshot) calledServices {
	callers := map[string][]string{}
	add := func(namespace, name, caller string) {
		key := namespace + "/" + name
		if !slices.Contains(callers[key], caller) {
			callers[key] = append(callers[key], caller)
		}
	}
	for i := range s.APIServices {
		a := &s.APIServices[i]
		if svc := a.Spec.Service; svc != nil {
			add(svc.Namespace, svc.Name, "APIService "+a.Name)
		}
	}
	for i := range s.ValidatingWebhookConfigurations {
		w := &s.ValidatingWebhookConfigurations[i]
		for _, hook := range w.Webhooks {
			if svc := hook.ClientConfig.Service; svc != nil {
				add(svc.Namespace, svc.Name, "ValidatingWebhookConfiguration "+w.Name)
			}
		}
	}
	for i := range s.MutatingWebhookConfigurations {
		w := &s.MutatingWebhookConfigurations[i]
		for _, hook := range w.Webhooks {
			if svc := hook.ClientConfig.Service; svc != nil {
				add(svc.Namespace, svc.Name, "MutatingWebhookConfiguration "+w.Name)
			}
		}
	}
	out := calledServices{}
	for i := range s.Services {
		svc := &s.Services[i]
		by := callers[svc.Namespace+"/"+svc.Name]
		if len(svc.Spec.Selector) == 0 || len(by) == 0 {
			continue
		}
		out[svc.Namespace] = append(out[svc.Namespace], calledService{selector: labels.SelectorFromSet(svc.Spec.Selector),
			why: fmt.Sprintf("behind Service %s/%s, which the API server calls for %s: admitting every source is required",
				svc.Namespace, svc.Name, strings.Join(by, ", "))})
	}
	return out
}

// editPolicy is the command that opens a policy in the editor.
func editPolicy(p *networkingv1.NetworkPolicy) string {
	return fmt.Sprintf("kubectl edit networkpolicy -n %s %s", check.Quote(p.Namespace), check.Quote(p.Name))
}
