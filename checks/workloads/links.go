package workloads

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The causal links this family declares: what a workload's failing pods, a NotReady node and a
// node under pressure explain. The engine groups each cause's finding with the findings they
// reach into one incident, the cause first.

// ControllerChecks are the checks that report a workload short of replicas, the usual symptom
// of a cause elsewhere; other families' links name them.
func ControllerChecks() []string {
	return []string{"deployment-unavailable", "statefulset-unavailable", "daemonset-unavailable"}
}

// PodFailureLink: a workload's pods that crash, cannot pull or cannot be scheduled are why it
// is short of replicas (its stuck rollout included); the same workload, so the same objects.
func PodFailureLink() check.Link {
	return check.SameObjects("the workload whose pods fail", ControllerChecks()...)
}

// nodeNotReadyLink: a workload is down because of the node when all its replicas ran there.
func nodeNotReadyLink() check.Link {
	return check.Link{
		Explains: append(ControllerChecks(), "pod-crashloop"),
		How:      "the workloads whose scheduled pods all ran on these nodes",
		Reach:    onlyOnNodes,
	}
}

// onlyOnNodes is the workloads with a pod on the finding's nodes and none scheduled elsewhere.
func onlyOnNodes(s *snapshot.Snapshot, f check.Finding) []snapshot.Ref {
	nodes := check.NodesOf(f)
	elsewhere := map[snapshot.Ref]bool{}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if pod.Spec.NodeName != "" && !nodes[pod.Spec.NodeName] {
			elsewhere[s.TopOwner(pod)] = true
		}
	}
	return check.OwnersOfPods(s, func(pod *corev1.Pod) bool {
		return nodes[pod.Spec.NodeName] && !elsewhere[s.TopOwner(pod)]
	})
}

// nodePressureLink: a node under pressure evicts pods and, under memory pressure, the kernel
// kills their containers: the workloads of the pods on it that were evicted or restarted.
func nodePressureLink() check.Link {
	return check.Link{
		Explains: append(ControllerChecks(), "pod-crashloop", "container-oomkilled"),
		How:      "the workloads whose pods on these nodes were evicted or restarted",
		Reach: func(s *snapshot.Snapshot, f check.Finding) []snapshot.Ref {
			nodes := check.NodesOf(f)
			return check.OwnersOfPods(s, func(pod *corev1.Pod) bool {
				return nodes[pod.Spec.NodeName] && (evicted(pod) || restarted(pod))
			})
		},
	}
}

func evicted(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed && pod.Status.Reason == "Evicted"
}

func restarted(pod *corev1.Pod) bool {
	for _, cs := range snapshot.ContainerStatuses(pod) {
		if cs.RestartCount > 0 {
			return true
		}
	}
	return false
}
