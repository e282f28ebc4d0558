package netpol

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// EgressBlocksDNS reports egress-isolated workloads whose policies do not let them reach the
// cluster DNS.
type EgressBlocksDNS struct{}

func (EgressBlocksDNS) Meta() check.Meta {
	return check.Meta{
		ID:       "netpol-egress-blocks-dns",
		Title:    "Egress policies block DNS",
		Category: check.CategoryNetpol,
		Severity: check.High,
		Requires: withWorkloads(),
		Optional: append([]snapshot.Kind{snapshot.KindNamespaces, snapshot.KindServices}, snapshot.LegacyWorkloadKinds()...),
		// The workloads it reports cannot resolve a name: when they are down, this is why.
		Links: []check.Link{check.SameObjects("the workloads whose egress it isolates",
			"deployment-unavailable", "statefulset-unavailable", "daemonset-unavailable", "pod-crashloop")},
		Description: "For every pod isolated for egress that resolves through the cluster DNS (dnsPolicy " +
			"ClusterFirst or ClusterFirstWithHostNet, or None naming the DNS Service), looks for an egress rule, in " +
			"the policies that select it, admitting the DNS pods' port (53, or what their dns ports say, e.g. 5353 " +
			"on OpenShift; by number, range or name) to the DNS pods: a rule without to, a peer selecting their " +
			"namespace and labels, or an ipBlock holding their address or the DNS Service's. High when UDP is " +
			"blocked; medium when only TCP is (answers too large for UDP then fail). What is not in view (the DNS " +
			"pods, their namespace's labels, under -n or in manifests) is assumed to match, so only a sure break " +
			"is reported; where no DNS pod is in view they are taken to be kube-system's k8s-app=kube-dns. With " +
			"NodeLocal DNSCache pods ask their own node, which policies always allow, and nothing is reported.",
		Why: "A pod that cannot reach DNS cannot resolve any Service name: it fails as soon as it connects to " +
			"anything, a classic self-inflicted outage after adding a default-deny egress policy.",
		Remediation: "Add an egress rule allowing UDP and TCP port 53 to the DNS pods: to: namespaceSelector " +
			"kubernetes.io/metadata.name: kube-system with podSelector k8s-app: kube-dns.",
		References: []string{reference},
	}
}

func (c EgressBlocksDNS) Run(s *snapshot.Snapshot) []check.Finding {
	m := newModel(s)
	if nodeLocalDNS(s) {
		// NodeLocal DNSCache answers on the pod's own node, and traffic to its own node is
		// always allowed to a pod, whatever the policies say.
		return nil
	}
	dns := dnsTargets(m)
	var noUDP, noTCP []endpoint
	for _, e := range m.endpoints {
		if e.hostNetwork() || !dns.usedBy(e.spec) {
			continue
		}
		policies := m.policiesFor(e, networkingv1.PolicyTypeEgress)
		if len(policies) == 0 {
			continue
		}
		switch {
		case !m.reachesDNS(policies, dns, corev1.ProtocolUDP):
			noUDP = append(noUDP, e)
		case !m.reachesDNS(policies, dns, corev1.ProtocolTCP):
			noTCP = append(noTCP, e)
		}
	}
	var findings []check.Finding
	for _, group := range []struct {
		endpoints []endpoint
		severity  check.Severity
		what      string
	}{
		{noUDP, check.High, "cannot reach the cluster DNS: name resolution fails"},
		{noTCP, check.Medium, "can reach the cluster DNS over UDP but not TCP: answers too large for UDP fail"},
	} {
		if len(group.endpoints) == 0 {
			continue
		}
		var objects []snapshot.Ref
		var evidence []string
		for _, e := range owners(group.endpoints) {
			objects = append(objects, e.owner)
			evidence = append(evidence, fmt.Sprintf("%s: egress isolated by %s", e.owner,
				policyNames(m.policiesFor(e, networkingv1.PolicyTypeEgress))))
		}
		f := check.New(c.Meta(), fmt.Sprintf("%s %s.", check.Plural(len(objects), "workload", "workloads"), group.what), objects...)
		f.Severity = group.severity
		f.Incident = s.Source != snapshot.SourceManifests
		f.Evidence = check.LimitEvidence(evidence)
		if s.LimitedToNamespace() && !slices.Contains(snapshot.ClusterDNSNamespaces(), s.Namespace) {
			// NodeLocal DNSCache would make this moot, and its DaemonSet is beyond what -n read.
			f.Evidence = append(f.Evidence, fmt.Sprintf("NodeLocal DNSCache, with which pods ask their own node whatever the "+
				"policies, would run in kube-system, which this run (limited to namespace %s) did not read", s.Namespace))
		}
		var namespaces []string
		for _, e := range group.endpoints {
			if !slices.Contains(namespaces, e.namespace) {
				namespaces = append(namespaces, e.namespace)
			}
		}
		slices.Sort(namespaces)
		f.Fix = applyInEach(namespaces, allowDNSPolicy(dns))
		findings = append(findings, f)
	}
	return findings
}

// dnsTarget is where pods send their lookups: the cluster DNS pods (or, when none is in view,
// what they conventionally are) and the Service in front of them.
type dnsTarget struct {
	servers []endpoint
	// serviceIPs are the DNS Service's cluster IPs; pods resolve through them.
	serviceIPs []netip.Addr
	// seen is false when no DNS pod is in view: their addresses and their namespace's labels are
	// then unknown, and a peer that could match them is given the benefit of the doubt.
	seen bool
}

func dnsTargets(m *model) dnsTarget {
	var t dnsTarget
	for i := range m.s.Pods {
		pod := &m.s.Pods[i]
		if snapshot.IsClusterDNSPod(pod) && snapshot.IsLive(pod) {
			t.servers = append(t.servers, endpoint{namespace: pod.Namespace, name: pod.Name, labels: pod.Labels, spec: &pod.Spec, ips: podIPs(pod)})
		}
	}
	t.seen = len(t.servers) > 0
	if !t.seen {
		t.servers = []endpoint{{namespace: "kube-system", name: "kube-dns", labels: map[string]string{"k8s-app": "kube-dns"},
			spec: &corev1.PodSpec{Containers: []corev1.Container{{Name: "coredns", Ports: []corev1.ContainerPort{
				{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
			}}}}}}
	}
	for i := range m.s.Services {
		svc := &m.s.Services[i]
		if !slices.Contains(snapshot.ClusterDNSNamespaces(), svc.Namespace) || len(svc.Spec.Selector) == 0 {
			continue
		}
		if !slices.ContainsFunc(t.servers, func(e endpoint) bool {
			return e.namespace == svc.Namespace && labels.SelectorFromSet(svc.Spec.Selector).Matches(e.labels)
		}) {
			continue
		}
		for _, text := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
			if ip, err := netip.ParseAddr(text); err == nil && !slices.Contains(t.serviceIPs, ip) {
				t.serviceIPs = append(t.serviceIPs, ip)
			}
		}
	}
	return t
}

// usedBy tells whether a pod resolves names through the cluster DNS: by the kubelet's rules, or
// with dnsPolicy None naming the DNS Service. The node's resolvers are no business of policies.
func (t dnsTarget) usedBy(spec *corev1.PodSpec) bool {
	switch snapshot.ResolverOf(spec) {
	case snapshot.ResolverClusterDNS:
		return true
	case snapshot.ResolverDNSConfig:
		return spec.DNSConfig != nil && slices.ContainsFunc(spec.DNSConfig.Nameservers, func(ns string) bool {
			ip, err := netip.ParseAddr(ns)
			return err == nil && slices.Contains(t.serviceIPs, ip)
		})
	}
	return false
}

// dnsPort is the port a DNS server listens on for protocol: policies see the pod's port, after
// the Service has translated 53 into it (5353 on OpenShift).
func dnsPort(server endpoint, protocol corev1.Protocol) int32 {
	for _, c := range server.spec.Containers {
		for _, p := range c.Ports {
			if cmp.Or(p.Protocol, corev1.ProtocolTCP) == protocol && (p.Name == "dns" || p.Name == "dns-tcp" || p.ContainerPort == 53) {
				return p.ContainerPort
			}
		}
	}
	return 53
}

// nodeLocalDNS tells whether NodeLocal DNSCache runs.
func nodeLocalDNS(s *snapshot.Snapshot) bool {
	for i := range s.DaemonSets {
		if snapshot.IsNodeLocalDNS(&s.DaemonSets[i]) {
			return true
		}
	}
	return false
}

// reachesDNS tells whether some egress rule of the policies admits the DNS port over protocol to
// some DNS server. What cannot be seen (the DNS namespace's labels, the servers' addresses) is
// assumed to match: this check reports only what is sure to break.
func (m *model) reachesDNS(policies []*networkingv1.NetworkPolicy, dns dnsTarget, protocol corev1.Protocol) bool {
	for _, p := range policies {
		for _, rule := range p.Spec.Egress {
			for _, server := range dns.servers {
				if !portAdmits(rule.Ports, protocol, dnsPort(server, protocol), server.spec) {
					continue
				}
				if len(rule.To) == 0 || slices.ContainsFunc(rule.To, func(peer networkingv1.NetworkPolicyPeer) bool {
					return m.peerMayReach(p.Namespace, peer, server, dns)
				}) {
					return true
				}
			}
		}
	}
	return false
}

func (m *model) peerMayReach(policyNS string, peer networkingv1.NetworkPolicyPeer, server endpoint, dns dnsTarget) bool {
	if peer.IPBlock != nil {
		if !dns.seen && len(dns.serviceIPs) == 0 {
			return true // no address to test the block against
		}
		return slices.ContainsFunc(append(append([]netip.Addr{}, server.ips...), dns.serviceIPs...), func(ip netip.Addr) bool {
			return peerAdmitsIP(peer, ip)
		})
	}
	if m.peerSelects(policyNS, peer, server) {
		return true
	}
	// A namespaceSelector on labels this snapshot does not show may well match the DNS namespace.
	unknownNamespace := peer.NamespaceSelector != nil && !m.namespaceKnown(server.namespace)
	unknownPods := !dns.seen && peer.PodSelector != nil
	if !unknownNamespace && !unknownPods {
		return false
	}
	if peer.NamespaceSelector == nil && policyNS != server.namespace {
		return false
	}
	podsMayMatch := peer.PodSelector == nil || unknownPods || selector(peer.PodSelector).Matches(server.labels)
	namespaceMayMatch := peer.NamespaceSelector == nil || unknownNamespace || selector(peer.NamespaceSelector).Matches(m.namespaceLabels(server.namespace))
	return podsMayMatch && namespaceMayMatch
}

// allowDNSPolicy is the policy that lets every pod of a namespace reach the cluster DNS pods, as
// dns knows them: their namespace, their k8s-app label (or OpenShift's), and the ports they
// listen on, which is what policies see (5353 on OpenShift, behind the Service's 53).
func allowDNSPolicy(dns dnsTarget) string {
	server := endpoint{namespace: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"}, spec: &corev1.PodSpec{}}
	if len(dns.servers) > 0 {
		server = dns.servers[0]
	}
	// Block style keeps each line short enough for an 80-column terminal.
	peer := fmt.Sprintf("    - namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: %s}\n", yamlScalar(server.namespace))
	for _, key := range []string{"k8s-app", "dns.operator.openshift.io/daemonset-dns"} {
		if v, ok := server.labels[key]; ok {
			peer += fmt.Sprintf("      podSelector:\n        matchLabels: {%s: %s}\n", key, yamlScalar(v))
			break
		}
	}
	return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-dns\nspec:\n" +
		"  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n" + peer +
		fmt.Sprintf("    ports: [{protocol: UDP, port: %d}, {protocol: TCP, port: %d}]\n",
			dnsPort(server, corev1.ProtocolUDP), dnsPort(server, corev1.ProtocolTCP))
}

// yamlScalar writes a name from the cluster as a YAML scalar: plain when it is a plain name,
// else double-quoted, so that no value can end the manifest or the heredoc around it.
func yamlScalar(s string) string {
	plain := s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") == "" &&
		strings.Trim(s, "0123456789.-") != "" && !strings.HasPrefix(s, "-")
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "y", "n", "on", "off", "null", "~":
		plain = false // YAML would read a boolean or null where a string belongs
	}
	if plain {
		return s
	}
	return strconv.Quote(s)
}
