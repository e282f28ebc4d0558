package workloads

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Events explain findings but no finding needs them: without them, the finding stands on the
// objects' status alone.
func withEvents(kinds []snapshot.Kind) []snapshot.Kind {
	return append(slices.Clone(kinds), snapshot.KindEvents)
}

// eventMatch accepts the events that explain one kind of failure.
type eventMatch func(e *corev1.Event) bool

// reasons matches the events with one of the given reasons.
func reasons(rs ...string) eventMatch {
	return func(e *corev1.Event) bool { return slices.Contains(rs, e.Reason) }
}

// anyWarning matches every Warning event: whatever a controller's objects complain of explains
// why it is short of replicas.
func anyWarning(*corev1.Event) bool { return true }

// failedPull matches the kubelet's report of the registry's answer ("Failed to pull image ...:
// ... not found"), which says more than the pod's waiting message ("Back-off pulling image").
func failedPull(e *corev1.Event) bool {
	return e.Reason == "Failed" && strings.Contains(e.Message, "ailed to pull image")
}

// cannotCreate are the events of a controller that cannot make its pods, which no pod's state
// shows, as there is no pod: a quota exceeded, an admission webhook or Pod Security refusing.
func cannotCreate(e *corev1.Event) bool { return e.Reason == "FailedCreate" }

// stuckReasons are the events of pods that do not start however long one waits: their volumes
// cannot be mounted or attached, their sandbox cannot be made, or their controller cannot create
// them.
func stuckReasons() eventMatch {
	return reasons("FailedCreate", "FailedMount", "FailedAttachVolume", "FailedCreatePodSandBox")
}

// workloadObjects are the objects whose events tell about owner: itself, the ReplicaSets and
// Jobs it controls that still want pods, and its pods, finished ones included (an evicted pod
// says why it went).
func workloadObjects(s *snapshot.Snapshot, owner snapshot.Ref) []snapshot.Ref {
	refs := []snapshot.Ref{owner}
	controlled := func(o metav1.Object) bool {
		c := metav1.GetControllerOfNoCopy(o)
		return o.GetNamespace() == owner.Namespace && c != nil && c.Kind == owner.Kind && c.Name == owner.Name
	}
	if owner.Kind == "Deployment" {
		for i := range s.ReplicaSets {
			if rs := &s.ReplicaSets[i]; controlled(rs) && replicasOrOne(rs.Spec.Replicas) > 0 {
				refs = append(refs, snapshot.RefTo(snapshot.KindReplicaSets, rs.Namespace, rs.Name))
			}
		}
	}
	if owner.Kind == "CronJob" {
		for i := range s.Jobs {
			if job := &s.Jobs[i]; controlled(job) && job.Status.CompletionTime == nil {
				refs = append(refs, snapshot.RefTo(snapshot.KindJobs, job.Namespace, job.Name))
			}
		}
	}
	for _, pod := range s.PodsOf(owner) {
		refs = append(refs, snapshot.RefTo(snapshot.KindPods, pod.Namespace, pod.Name))
	}
	return refs
}

// podObjects are the pods among problems, as refs.
func podObjects(pods []*corev1.Pod) []snapshot.Ref {
	refs := make([]snapshot.Ref, len(pods))
	for i, pod := range pods {
		refs[i] = snapshot.RefTo(snapshot.KindPods, pod.Namespace, pod.Name)
	}
	return refs
}

// newestEvent is the newest Warning event about refs that the first of prefer to match any
// accepts, and the object it is about; nil when none does.
func newestEvent(s *snapshot.Snapshot, refs []snapshot.Ref, prefer ...eventMatch) (*corev1.Event, snapshot.Ref) {
	for _, match := range prefer {
		var newest *corev1.Event
		var about snapshot.Ref
		for _, ref := range refs {
			events := s.WarningEvents(ref.Kind, ref.Namespace, ref.Name)
			for i := range events {
				if !match(&events[i]) {
					continue
				}
				if newest == nil || snapshot.LastSeen(&events[i]).After(snapshot.LastSeen(newest)) {
					newest, about = &events[i], ref
				}
				break // newest first: this object's other matches are older
			}
		}
		if newest != nil {
			return newest, about
		}
	}
	return nil, snapshot.Ref{}
}

// eventEvidence is the newest event newestEvent finds as a line of evidence, "event on pod
// web-1: Unhealthy, last: 3m ago, x41: Readiness probe failed: ..."; "" when there is none.
func eventEvidence(s *snapshot.Snapshot, refs []snapshot.Ref, prefer ...eventMatch) string {
	e, about := newestEvent(s, refs, prefer...)
	if e == nil {
		return ""
	}
	return eventLine(s, e, about)
}

func eventLine(s *snapshot.Snapshot, e *corev1.Event, about snapshot.Ref) string {
	return "event on " + strings.ToLower(about.Kind) + " " + about.Name + ": " + check.EventLine(e, s.CollectedAt)
}

// withEvent adds an event line to evidence that LimitEvidence has bounded, so that the line
// is never among those cut.
func withEvent(evidence []string, line string) []string {
	if line == "" {
		return evidence
	}
	return append(slices.Clip(evidence), line)
}
