package snapshot

import (
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// ClusterDNSNamespaces are where distributions put the cluster DNS server: kube-system almost
// everywhere, openshift-dns on OpenShift.
func ClusterDNSNamespaces() []string { return []string{"kube-system", "openshift-dns"} }

// DNSOutOfScope says why a run limited to a namespace (-n) cannot see the cluster DNS server, or
// "" when it can.
func DNSOutOfScope(namespace string) string {
	if namespace == "" || slices.Contains(ClusterDNSNamespaces(), namespace) {
		return ""
	}
	return "the cluster DNS server runs in " + strings.Join(ClusterDNSNamespaces(), " or ") + ", beyond namespace " + namespace +
		", to which the run was limited (-n)"
}

// IsClusterDNSPod tells the pods of the cluster DNS server by the labels distributions give them:
// k8s-app=kube-dns (kubeadm, EKS, AKS, GKE, k3s, RKE2) or dns.operator.openshift.io/daemonset-dns
// (OpenShift). The collector uses it to know which pods and nodes to probe.
func IsClusterDNSPod(pod *corev1.Pod) bool {
	if !slices.Contains(ClusterDNSNamespaces(), pod.Namespace) {
		return false
	}
	if _, openshift := pod.Labels["dns.operator.openshift.io/daemonset-dns"]; openshift {
		return true
	}
	switch pod.Labels["k8s-app"] {
	case "kube-dns", "coredns":
		return true
	}
	return false
}

// IsNodeLocalDNS tells NodeLocal DNSCache's DaemonSet: node-local-dns upstream, nodelocaldns in
// Kubespray, by name or by k8s-app label.
func IsNodeLocalDNS(ds *appsv1.DaemonSet) bool {
	names := []string{"node-local-dns", "nodelocaldns"}
	return slices.Contains(names, ds.Name) || slices.Contains(names, ds.Labels["k8s-app"])
}

// Resolver is where a pod's /etc/resolv.conf comes from, by the kubelet's rules.
type Resolver int

const (
	// ResolverNode is the node's resolvers (the kubelet's resolvConf file).
	ResolverNode Resolver = iota
	// ResolverClusterDNS is the cluster DNS Service, with the search domains and ndots:5.
	ResolverClusterDNS
	// ResolverDNSConfig is only what the pod's dnsConfig lists (dnsPolicy None).
	ResolverDNSConfig
)

// ResolverOf applies the kubelet's dnsPolicy rules: Default uses the node's resolvers, None only
// dnsConfig, ClusterFirstWithHostNet the cluster DNS, and ClusterFirst (also when unset) the
// cluster DNS unless the pod is on the host network, which then falls back to the node's.
func ResolverOf(spec *corev1.PodSpec) Resolver {
	switch spec.DNSPolicy {
	case corev1.DNSDefault:
		return ResolverNode
	case corev1.DNSNone:
		return ResolverDNSConfig
	case corev1.DNSClusterFirstWithHostNet:
		return ResolverClusterDNS
	}
	if spec.HostNetwork {
		return ResolverNode
	}
	return ResolverClusterDNS
}

// PodReady tells whether a pod's Ready condition is true.
func PodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// NodeReady tells whether a node's Ready condition is true.
func NodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PortProtocol is a port's protocol as the API server defaults it: TCP when unset.
func PortProtocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// NotReadySince is when a pod that is not ready stopped being ready (or never was), as its
// conditions record it: the Ready condition's last transition, else, for a pod never placed on a
// node, the PodScheduled one. Zero when the pod is ready or nothing records it.
func NotReadySince(pod *corev1.Pod) time.Time {
	for _, t := range []corev1.PodConditionType{corev1.PodReady, corev1.PodScheduled} {
		for _, c := range pod.Status.Conditions {
			if c.Type == t && c.Status != corev1.ConditionTrue {
				return c.LastTransitionTime.Time
			}
		}
	}
	return time.Time{}
}

// DNSMetrics is one scrape of a cluster DNS pod's Prometheus endpoint, reduced to the counters
// the checks judge. Counters run since the pod's process started.
type DNSMetrics struct {
	Pod Ref `json:"pod"`
	// Error says why the scrape failed; the counters are then zero.
	Error string `json:"error,omitempty"`
	// Responses counts answers by response code (NOERROR, NXDOMAIN, SERVFAIL, ...).
	Responses map[string]float64 `json:"responses,omitempty"`
	// ForwardHealthcheckFailures counts failed health checks of upstream servers.
	ForwardHealthcheckFailures float64 `json:"forwardHealthcheckFailures,omitempty"`
	// ForwardHealthcheckBroken counts the times every upstream was down at once.
	ForwardHealthcheckBroken float64 `json:"forwardHealthcheckBroken,omitempty"`
}

// KubeletConfig is the part of a node's running kubelet configuration the checks read.
type KubeletConfig struct {
	Node string `json:"node"`
	// Error says why the configuration could not be read.
	Error string `json:"error,omitempty"`
	// ResolvConf is the file whose nameservers pods with dnsPolicy Default (CoreDNS among them)
	// inherit; empty means the kubelet gives such pods no upstream.
	ResolvConf string `json:"resolvConf"`
}
