package netpol

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

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
		Optional: []snapshot.Kind{snapshot.KindNamespaces, snapshot.KindServices},
		Description: "For every pod isolated for egress, looks for an egress rule, in the policies that select it, " +
			"that admits port 53 (by number, range or name, resolved against the DNS pods' ports) to the cluster " +
			"DNS pods: a rule without to, a peer selecting their namespace and labels, or an ipBlock holding their " +
			"address or the kube-dns Service's. High when UDP 53 is blocked; medium when only TCP 53 is (answers " +
			"too large for UDP then fail). Where no DNS pod is in view (manifests), the DNS pods are taken to be " +
			"kube-system's k8s-app=kube-dns with ports dns (53/UDP) and dns-tcp (53/TCP).",
		Why: "A pod that cannot reach DNS cannot resolve any Service name: it fails as soon as it connects to " +
			"anything, a classic self-inflicted outage after adding a default-deny egress policy.",
		Remediation: "Add an egress rule allowing UDP and TCP port 53 to the DNS pods: to: namespaceSelector " +
			"kubernetes.io/metadata.name: kube-system with podSelector k8s-app: kube-dns.",
		References: []string{reference},
	}
}

func (c EgressBlocksDNS) Run(s *snapshot.Snapshot) []check.Finding {
	m := newModel(s)
	servers := dnsServers(m)
	serviceIP := dnsServiceIP(s)
	var noUDP, noTCP []endpoint
	for _, e := range m.endpoints {
		if e.hostNetwork() {
			continue
		}
		policies := m.policiesFor(e, networkingv1.PolicyTypeEgress)
		if len(policies) == 0 {
			continue
		}
		switch {
		case !m.reachesDNS(policies, servers, serviceIP, corev1.ProtocolUDP):
			noUDP = append(noUDP, e)
		case !m.reachesDNS(policies, servers, serviceIP, corev1.ProtocolTCP):
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
		f.Fix = []string{allowDNS(group.endpoints[0].namespace)}
		findings = append(findings, f)
	}
	return findings
}

// dnsServers are the cluster DNS pods in view, or the conventional kube-dns pod when none is.
func dnsServers(m *model) []endpoint {
	var out []endpoint
	for i := range m.s.Pods {
		pod := &m.s.Pods[i]
		if snapshot.IsClusterDNSPod(pod) && snapshot.IsLive(pod) {
			e := endpoint{namespace: pod.Namespace, name: pod.Name, labels: pod.Labels, spec: &pod.Spec}
			if ip, err := netip.ParseAddr(pod.Status.PodIP); err == nil {
				e.ip = ip
			}
			out = append(out, e)
		}
	}
	if len(out) > 0 {
		return out
	}
	return []endpoint{{namespace: "kube-system", name: "kube-dns", labels: map[string]string{"k8s-app": "kube-dns"},
		spec: &corev1.PodSpec{Containers: []corev1.Container{{Name: "coredns", Ports: []corev1.ContainerPort{
			{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
		}}}}}}
}

// dnsServiceIP is the kube-dns Service's cluster IP, if it is in view.
func dnsServiceIP(s *snapshot.Snapshot) netip.Addr {
	for i := range s.Services {
		svc := &s.Services[i]
		if svc.Namespace == "kube-system" && svc.Name == "kube-dns" {
			if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
				return ip
			}
		}
	}
	return netip.Addr{}
}

// reachesDNS tells whether some egress rule of the policies admits port 53 over protocol to
// some DNS server.
func (m *model) reachesDNS(policies []*networkingv1.NetworkPolicy, servers []endpoint, serviceIP netip.Addr, protocol corev1.Protocol) bool {
	for _, p := range policies {
		for _, rule := range p.Spec.Egress {
			for _, server := range servers {
				if !portAdmits(rule.Ports, protocol, 53, server.spec) {
					continue
				}
				if len(rule.To) == 0 || slices.ContainsFunc(rule.To, func(peer networkingv1.NetworkPolicyPeer) bool {
					return m.peerSelects(p.Namespace, peer, server) || peerAdmitsIP(peer, server.ip) || peerAdmitsIP(peer, serviceIP)
				}) {
					return true
				}
			}
		}
	}
	return false
}

// allowDNS is the policy that lets every pod of a namespace reach the cluster DNS.
func allowDNS(namespace string) string {
	return fmt.Sprintf("kubectl apply -n %s -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"+
		"metadata:\n  name: allow-dns\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n"+
		"    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}\n"+
		"      podSelector: {matchLabels: {k8s-app: kube-dns}}\n"+
		"    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]\nEOF", namespace)
}
