package conntrack

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// timeouts are how probes and clients word a connection that got no answer, in lower case.
var timeouts = []string{"timeout", "timed out", "deadline exceeded", "connection reset"}

// fullTableLink: a node dropping packets for a full table makes its pods' connections time
// out. The pods' events are the evidence: workloads on the node that fail otherwise stay on
// their own.
func fullTableLink() check.Link {
	return check.Link{
		Explains: []string{"deployment-unavailable", "statefulset-unavailable", "daemonset-unavailable", "pod-crashloop"},
		How:      "the workloads whose pods on these nodes report timeouts in their events",
		Reach: func(s *snapshot.Snapshot, f check.Finding) []snapshot.Ref {
			nodes := check.NodesOf(f)
			return check.OwnersOfPods(s, func(pod *corev1.Pod) bool {
				return nodes[pod.Spec.NodeName] && check.PodEventSays(s, pod, timeouts...)
			})
		},
	}
}
