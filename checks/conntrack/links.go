package conntrack

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// timeouts are how probes and clients word a connection that got no answer, in lower case.
var timeouts = []string{"timeout", "timed out", "deadline exceeded", "connection reset"}

// timedOut are the findings of workloads whose connections a node losing packets makes fail.
func timedOut() []string {
	return []string{"deployment-unavailable", "statefulset-unavailable", "daemonset-unavailable", "pod-crashloop"}
}

// fullTableLink: a node dropping packets for a full table makes its pods' connections time
// out. The pods' events are the evidence: workloads on the node that fail otherwise stay on
// their own.
func fullTableLink() check.Link {
	return check.Link{
		Explains: timedOut(),
		How:      "the workloads whose pods on these nodes report timeouts in their events",
		Reach: func(s *snapshot.Snapshot, f check.Finding) []snapshot.Ref {
			return timingOutOn(s, check.NodesOf(f))
		},
	}
}

// measuredLink is fullTableLink for the measured findings, about the nodes losing connections
// now: those dropping packets as measured, or whose table is full to the critical level. A node
// that only filled up to a warning level, or dropped packets since boot but not while measured,
// explains nothing happening now.
func measuredLink() check.Link {
	return check.Link{
		Explains: timedOut(),
		How:      "the workloads whose pods on the nodes measured dropping packets, or full, report timeouts in their events",
		Reach: func(s *snapshot.Snapshot, f check.Finding) []snapshot.Ref {
			return timingOutOn(s, losingNow(s, check.NodesOf(f)))
		},
	}
}

// losingNow are the nodes among named whose measurement shows connections lost now.
func losingNow(s *snapshot.Snapshot, named map[string]bool) map[string]bool {
	out := map[string]bool{}
	if s.Conntrack == nil {
		return out
	}
	for i := range s.Conntrack.Nodes {
		n := &s.Conntrack.Nodes[i]
		if named[n.Node] && (n.Rates.Any() || (n.Measured() && n.Ratio() >= usageCritical)) {
			out[n.Node] = true
		}
	}
	return out
}

// timingOutOn are the owners of the pods on nodes whose events report timeouts.
func timingOutOn(s *snapshot.Snapshot, nodes map[string]bool) []snapshot.Ref {
	if len(nodes) == 0 {
		return nil
	}
	return check.OwnersOfPods(s, func(pod *corev1.Pod) bool {
		return nodes[pod.Spec.NodeName] && check.PodEventSays(s, pod, timeouts...)
	})
}
