// Package workloads finds live incidents in workloads and nodes: crash loops, image pulls that
// fail, pods that cannot be scheduled, unhealthy nodes and controllers short of replicas.
package workloads

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func podKinds() []snapshot.Kind { return []snapshot.Kind{snapshot.KindPods} }

// Owner lookups sharpen pod findings (a Deployment rather than a ReplicaSet), and events
// explain them, but neither is needed.
func ownerKinds() []snapshot.Kind {
	return withEvents([]snapshot.Kind{snapshot.KindReplicaSets, snapshot.KindJobs})
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

// failingSince is when the problem's pod stopped being ready, as its conditions record it, else
// when its container last ended: it has been failing at least since then.
func failingSince(p containerProblem) time.Time {
	if t := snapshot.NotReadySince(p.pod); !t.IsZero() {
		return t
	}
	if t := p.status.LastTerminationState.Terminated; t != nil {
		return t.FinishedAt.Time
	}
	return time.Time{}
}

// podFailingSince is failingSince for a whole pod: its not-ready transition, else the earliest
// last end of a container that is not running.
func podFailingSince(pod *corev1.Pod) time.Time {
	if t := snapshot.NotReadySince(pod); !t.IsZero() {
		return t
	}
	var first time.Time
	for _, cs := range snapshot.ContainerStatuses(pod) {
		if t := cs.LastTerminationState.Terminated; t != nil && cs.State.Running == nil && !t.FinishedAt.IsZero() &&
			(first.IsZero() || t.FinishedAt.Time.Before(first)) {
			first = t.FinishedAt.Time
		}
	}
	return first
}

// perContainer makes command once for each failing container of a workload, from the first pod
// where it fails: its replicas fail alike, its containers each for a reason of their own.
func perContainer(problems []containerProblem, command func(containerProblem) string) []string {
	var first []containerProblem
	seen := map[string]bool{}
	for _, p := range problems {
		if !seen[p.container] {
			seen[p.container] = true
			first = append(first, p)
		}
	}
	return check.FixEach(len(first), "containers", func(i int) string { return command(first[i]) })
}

// describePods is the command that shows the events of a workload's pods, which share its
// namespace.
func describePods(pods []*corev1.Pod) []string {
	names := make([]string, len(pods))
	for i, pod := range pods {
		names[i] = pod.Name
	}
	return check.FixNames(names, "pods", func(names string) string {
		return fmt.Sprintf("kubectl describe pod -n %s %s", check.Quote(pods[0].Namespace), names)
	})
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
		DeploymentUnavailable{}, StatefulSetUnavailable{}, DaemonSetUnavailable{}, JobCannotCreatePods{}}
}
