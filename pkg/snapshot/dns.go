package snapshot

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// ClusterDNSNamespaces are where distributions put the cluster DNS server: kube-system almost
// everywhere, openshift-dns on OpenShift.
func ClusterDNSNamespaces() []string { return []string{"kube-system", "openshift-dns"} }

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
