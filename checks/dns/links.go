package dns

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// resolutionFailures are how resolvers, probes and the kubelet word a lookup that failed, in
// lower case: Go's resolver, glibc's, curl's.
var resolutionFailures = []string{"no such host", "name resolution", "server misbehaving", "could not resolve host",
	"name or service not known", ":53: i/o timeout"}

// downLink: when the cluster DNS is down, or its pods restart (each restart drops the queries
// it holds), the workloads that resolve names through it and whose pods' events report failed
// lookups fail because of it. The events are the evidence: a workload failing for another
// reason meanwhile stays on its own.
func downLink() check.Link {
	return check.Link{
		Explains: []string{"deployment-unavailable", "statefulset-unavailable", "daemonset-unavailable", "pod-crashloop"},
		How:      "the workloads resolving names through the cluster DNS whose pods' events report failed lookups",
		Reach: func(s *snapshot.Snapshot, _ check.Finding) []snapshot.Ref {
			return check.OwnersOfPods(s, func(pod *corev1.Pod) bool {
				return resolvesThroughClusterDNS(pod) && check.PodEventSays(s, pod, resolutionFailures...)
			})
		},
	}
}

func resolvesThroughClusterDNS(pod *corev1.Pod) bool {
	switch pod.Spec.DNSPolicy {
	case "", corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		return true
	}
	return false
}
