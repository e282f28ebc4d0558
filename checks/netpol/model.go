// Package netpol checks NetworkPolicy coverage by the Kubernetes semantics, to the letter: which
// pods a policy selects and isolates, which peers and ports its rules admit, and whether the
// CNI enforces any of it.
package netpol

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const reference = "https://kubernetes.io/docs/concepts/services-networking/network-policies/"

// Options say which namespaces the coverage checks leave alone.
type Options struct {
	// SystemNamespaces hold the cluster's own components, which policies rarely cover and users
	// rarely own; the coverage checks skip them (the DNS egress check does not).
	SystemNamespaces []string
}

// DefaultOptions skips the namespaces Kubernetes itself creates.
func DefaultOptions() Options {
	return Options{SystemNamespaces: []string{"kube-system", "kube-public", "kube-node-lease"}}
}

func (o Options) isSystem(ns string) bool { return slices.Contains(o.SystemNamespaces, ns) }

// endpoint is something traffic reaches or leaves: a live pod or, for manifests, a workload's
// pod template.
type endpoint struct {
	owner     snapshot.Ref
	namespace string
	name      string
	labels    labels.Set
	spec      *corev1.PodSpec
	// ips are the pod's addresses (one per family), when known.
	ips []netip.Addr
}

// hostNetwork pods share the node's network namespace: NetworkPolicy does not apply to them.
func (e endpoint) hostNetwork() bool { return e.spec.HostNetwork }

// model indexes a snapshot for policy evaluation.
type model struct {
	s *snapshot.Snapshot
	// endpoints are live pods on a cluster, pod templates (and bare pods) in manifests.
	endpoints []endpoint
	// templates are every workload's pod template, also on a cluster: a policy for a workload
	// scaled to zero still selects something.
	templates  []endpoint
	namespaces map[string]labels.Set
	policies   map[string][]*networkingv1.NetworkPolicy
}

// newModel is shared by the family's checks: built once per snapshot, never modified.
func newModel(s *snapshot.Snapshot) *model {
	return snapshot.Derived(s, modelKey{}, func() *model { return buildModel(s) })
}

type modelKey struct{}

func buildModel(s *snapshot.Snapshot) *model {
	m := &model{s: s, namespaces: map[string]labels.Set{}, policies: map[string][]*networkingv1.NetworkPolicy{}}
	for i := range s.Namespaces {
		m.namespaces[s.Namespaces[i].Name] = namespaceLabels(s.Namespaces[i].Name, s.Namespaces[i].Labels)
	}
	for i := range s.NetworkPolicies {
		p := &s.NetworkPolicies[i]
		m.policies[p.Namespace] = append(m.policies[p.Namespace], p)
	}
	m.templates = templates(s)
	if s.Source == snapshot.SourceManifests {
		m.endpoints = m.templates
	} else {
		for i := range s.Pods {
			pod := &s.Pods[i]
			if !snapshot.IsLive(pod) {
				continue
			}
			e := endpoint{owner: s.TopOwner(pod), namespace: pod.Namespace, name: pod.Name, labels: pod.Labels, spec: &pod.Spec,
				ips: podIPs(pod)}
			m.endpoints = append(m.endpoints, e)
		}
	}
	return m
}

// podIPs are a pod's addresses, both families on a dual-stack cluster.
func podIPs(pod *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	for _, candidate := range append([]corev1.PodIP{{IP: pod.Status.PodIP}}, pod.Status.PodIPs...) {
		if ip, err := netip.ParseAddr(candidate.IP); err == nil && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

// namespaceLabels adds the label the API server puts on every namespace, so selectors on it
// match namespaces that manifests declare without it (or do not declare at all).
func namespaceLabels(name string, own map[string]string) labels.Set {
	set := labels.Set{"kubernetes.io/metadata.name": name}
	for k, v := range own {
		set[k] = v
	}
	return set
}

// templates lists every workload's pod template, and the pods that stand in for a template the
// snapshot lacks, as endpoints.
func templates(s *snapshot.Snapshot) []endpoint {
	workloads := s.Workloads()
	out := make([]endpoint, 0, len(workloads))
	for _, w := range workloads {
		out = append(out, endpoint{owner: w.Ref, namespace: w.Ref.Namespace, name: w.Ref.Name, labels: w.Labels, spec: w.Spec})
	}
	return out
}

// selector converts a label selector: nil selects nothing, {} everything, as the API defines.
func selector(sel *metav1.LabelSelector) labels.Selector {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return labels.Nothing() // the API server rejects invalid selectors; one that slips through selects nothing
	}
	return s
}

// selects tells whether a policy applies to an endpoint: same namespace, podSelector matches.
func selects(p *networkingv1.NetworkPolicy, e endpoint) bool {
	return p.Namespace == e.namespace && selector(&p.Spec.PodSelector).Matches(e.labels)
}

// policyTypes are the directions a policy isolates. Unset, Ingress always, and Egress when the
// policy has egress rules.
func policyTypes(p *networkingv1.NetworkPolicy) []networkingv1.PolicyType {
	if len(p.Spec.PolicyTypes) > 0 {
		return p.Spec.PolicyTypes
	}
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(p.Spec.Egress) > 0 {
		types = append(types, networkingv1.PolicyTypeEgress)
	}
	return types
}

func isolates(p *networkingv1.NetworkPolicy, dir networkingv1.PolicyType) bool {
	return slices.Contains(policyTypes(p), dir)
}

// policiesFor lists the policies that select e and isolate it in dir, in snapshot order.
func (m *model) policiesFor(e endpoint, dir networkingv1.PolicyType) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, p := range m.policies[e.namespace] {
		if isolates(p, dir) && selects(p, e) {
			out = append(out, p)
		}
	}
	return out
}

// peerSelects tells whether a peer of a policy in namespace policyNS admits the endpoint e (as
// source for ingress, destination for egress). namespaceSelector and podSelector in one peer
// must both match; podSelector alone means the policy's namespace; namespaceSelector alone means
// every pod of the matching namespaces; ipBlock is about addresses, see peerAdmitsIP.
func (m *model) peerSelects(policyNS string, peer networkingv1.NetworkPolicyPeer, e endpoint) bool {
	if peer.IPBlock != nil || (peer.NamespaceSelector == nil && peer.PodSelector == nil) {
		return false
	}
	if peer.NamespaceSelector == nil {
		if e.namespace != policyNS {
			return false
		}
	} else if !selector(peer.NamespaceSelector).Matches(m.namespaceLabels(e.namespace)) {
		return false
	}
	return peer.PodSelector == nil || selector(peer.PodSelector).Matches(e.labels)
}

func (m *model) namespaceLabels(ns string) labels.Set {
	if set, ok := m.namespaces[ns]; ok {
		return set
	}
	return namespaceLabels(ns, nil)
}

// namespaceKnown tells whether a namespace's own labels are in view, beyond the one the API
// server sets on every namespace.
func (m *model) namespaceKnown(ns string) bool {
	_, ok := m.namespaces[ns]
	return ok
}

// peerAdmitsIP tells whether an ipBlock peer covers an address: inside its CIDR and outside
// every except.
func peerAdmitsIP(peer networkingv1.NetworkPolicyPeer, ip netip.Addr) bool {
	if peer.IPBlock == nil || !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	cidr, err := netip.ParsePrefix(peer.IPBlock.CIDR)
	if err != nil || !cidr.Contains(ip) {
		return false
	}
	for _, except := range peer.IPBlock.Except {
		if ex, err := netip.ParsePrefix(except); err == nil && ex.Contains(ip) {
			return false
		}
	}
	return true
}

// portAdmits tells whether a rule's ports admit traffic to port/protocol on endpoint dest. No
// ports means every port; a port without protocol is TCP; a named port is looked up among the
// destination's container ports; endPort makes a range.
func portAdmits(ports []networkingv1.NetworkPolicyPort, protocol corev1.Protocol, port int32, dest *corev1.PodSpec) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if proto != protocol {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.Int:
			from, to := p.Port.IntVal, p.Port.IntVal
			if p.EndPort != nil {
				to = *p.EndPort
			}
			if from <= port && port <= to {
				return true
			}
		default:
			if namedPort(dest, p.Port.StrVal, protocol) == port {
				return true
			}
		}
	}
	return false
}

// namedPort resolves a port name among a pod's container ports, or 0.
func namedPort(spec *corev1.PodSpec, name string, protocol corev1.Protocol) int32 {
	if spec == nil {
		return 0
	}
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name && cmp.Or(p.Protocol, corev1.ProtocolTCP) == protocol {
				return p.ContainerPort
			}
		}
	}
	return 0
}

// policyNames lists policies as "name", sorted.
func policyNames(policies []*networkingv1.NetworkPolicy) string {
	names := make([]string, len(policies))
	for i, p := range policies {
		names[i] = p.Name
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func policyRef(p *networkingv1.NetworkPolicy) snapshot.Ref {
	return snapshot.RefTo(snapshot.KindNetworkPolicies, p.Namespace, p.Name)
}

// owners groups endpoints by owner, keeping the first endpoint of each, in snapshot order.
func owners(endpoints []endpoint) []endpoint {
	seen := map[snapshot.Ref]bool{}
	var out []endpoint
	for _, e := range endpoints {
		if !seen[e.owner] {
			seen[e.owner] = true
			out = append(out, e)
		}
	}
	return out
}

// Checks is every check of the family, configured by opts, as the catalog lists it.
func Checks(opts Options) []check.Check {
	return []check.Check{
		Unisolated{Direction: networkingv1.PolicyTypeIngress, Options: opts},
		Unisolated{Direction: networkingv1.PolicyTypeEgress, Options: opts},
		NoDefaultDeny{Options: opts}, Dangling{}, PeerMatchesNothing{}, EgressBlocksDNS{}, IngressFromAnywhere{},
		CNINotEnforcing{},
	}
}
