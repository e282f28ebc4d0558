// Package workloads finds live incidents in workloads and nodes: crash loops, image pulls that
// fail, pods that cannot be scheduled, unhealthy nodes and controllers short of replicas.
package workloads

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func podKinds() []snapshot.Kind { return []snapshot.Kind{snapshot.KindPods} }

// Owner lookups sharpen pod findings (a Deployment rather than a ReplicaSet) but are not needed.
func ownerKinds() []snapshot.Kind {
	return []snapshot.Kind{snapshot.KindReplicaSets, snapshot.KindJobs}
}

// containerProblem is one container of one pod in a given waiting state.
type containerProblem struct {
	pod       *corev1.Pod
	container string
	image     string
	status    corev1.ContainerStatus
}

// waitingContainers returns, in snapshot order, every container whose waiting reason is one of
// reasons, init containers included.
func waitingContainers(s *snapshot.Snapshot, reasons ...string) []containerProblem {
	want := map[string]bool{}
	for _, r := range reasons {
		want[r] = true
	}
	var out []containerProblem
	for i := range s.Pods {
		pod := &s.Pods[i]
		for _, cs := range snapshot.ContainerStatuses(pod) {
			if cs.State.Waiting != nil && want[cs.State.Waiting.Reason] {
				out = append(out, containerProblem{pod: pod, container: cs.Name, image: cs.Image, status: cs})
			}
		}
	}
	return out
}

// byOwner groups problems under the top-level owner of their pods.
func byOwner(s *snapshot.Snapshot, problems []containerProblem) *check.Groups[snapshot.Ref, containerProblem] {
	var g check.Groups[snapshot.Ref, containerProblem]
	for _, p := range problems {
		g.Add(s.TopOwner(p.pod), p)
	}
	return &g
}

// distinctPods counts the pods among problems.
func distinctPods(problems []containerProblem) []*corev1.Pod {
	seen := map[*corev1.Pod]bool{}
	var pods []*corev1.Pod
	for _, p := range problems {
		if !seen[p.pod] {
			seen[p.pod] = true
			pods = append(pods, p.pod)
		}
	}
	return pods
}

func distinctContainers(problems []containerProblem) []string {
	seen := map[string]bool{}
	var names []string
	for _, p := range problems {
		if !seen[p.container] {
			seen[p.container] = true
			names = append(names, p.container)
		}
	}
	sort.Strings(names)
	return names
}

// isController reports whether the owner is something that keeps replicas running, as opposed
// to a bare pod.
func isController(r snapshot.Ref) bool {
	switch r.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController":
		return true
	}
	return false
}

// hasEditableTemplate reports whether `kubectl set image|resources` can change the owner's pod
// template: a Job's template is immutable and a bare pod has none.
func hasEditableTemplate(r snapshot.Ref) bool {
	return r.Kind == "CronJob" || (isController(r) && r.Kind != "ReplicationController")
}

// Checks is every check of the family, as the catalog lists it.
func Checks() []check.Check {
	return []check.Check{CrashLoop{}, ImagePull{}, Unschedulable{}, NodeNotReady{}, NodePressure{},
		DeploymentUnavailable{}, StatefulSetUnavailable{}, DaemonSetUnavailable{}}
}
