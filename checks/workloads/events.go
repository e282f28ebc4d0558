package workloads

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

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

// preemptionRecent is how long ago a preemption may be and still explain a shortfall now.
const preemptionRecent = time.Hour

// preemptorUID finds the preemptor in the scheduler's message ("Preempted by pod <uid> on node
// <node>").
var preemptorUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// preemptionEvidence says which of owner's pods the scheduler took away in the last hour for
// pods of higher priority, and for which: "2 pods preempted in the last hour, the newest 3m ago:
// web-7c9f8d-x2k4q for pod batch/train-0 (priority 1000000, class urgent) on node n1"; "" for
// none. The Preempted events are Normal ones the collector reads apart from the Warning ones.
func preemptionEvidence(s *snapshot.Snapshot, owner snapshot.Ref) string {
	prefixes := podNamePrefixes(s, owner)
	var preempted []*corev1.Event
	for _, e := range s.PreemptedPods(owner.Namespace) {
		if !s.CollectedAt.IsZero() && s.CollectedAt.Sub(snapshot.LastSeen(&e)) > preemptionRecent {
			break // newest first: the rest are older
		}
		if slices.ContainsFunc(prefixes, func(p podNamePrefix) bool { return p.names(e.InvolvedObject.Name) }) {
			preempted = append(preempted, &e)
		}
	}
	if len(preempted) == 0 {
		return ""
	}
	newest := preempted[0]
	line := fmt.Sprintf("%s preempted in the last hour, the newest %s: %s", check.Plural(len(preempted), "pod", "pods"),
		check.Ago(snapshot.LastSeen(newest), s.CollectedAt), newest.InvolvedObject.Name)
	if by := preemptor(s, newest.Message); by != "" {
		line += " for " + by
	} else {
		line += " (" + check.OneLine(newest.Message, 120) + ")"
	}
	return line
}

// preemptor names the pod a Preempted event's message gives by UID, with its priority; "" when it
// is not among the pods read.
func preemptor(s *snapshot.Snapshot, message string) string {
	uid := preemptorUID.FindString(message)
	if uid == "" {
		return ""
	}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if string(pod.UID) != uid {
			continue
		}
		what := "pod " + pod.Namespace + "/" + pod.Name
		var priority []string
		if pod.Spec.Priority != nil {
			priority = append(priority, fmt.Sprintf("priority %d", *pod.Spec.Priority))
		}
		if pod.Spec.PriorityClassName != "" {
			priority = append(priority, "class "+pod.Spec.PriorityClassName)
		}
		if len(priority) > 0 {
			what += " (" + strings.Join(priority, ", ") + ")"
		}
		if pod.Spec.NodeName != "" {
			what += " on node " + pod.Spec.NodeName
		}
		return what
	}
	return ""
}

// podNamePrefix is how a controller names its pods: name-<5 random characters> when it generates
// them (ReplicaSets, DaemonSets, Jobs, ReplicationControllers), name-<ordinal> for a StatefulSet.
type podNamePrefix struct {
	name    string
	ordinal bool
}

func (p podNamePrefix) names(pod string) bool {
	rest, ok := strings.CutPrefix(pod, p.name+"-")
	if !ok || rest == "" {
		return false
	}
	if p.ordinal {
		return strings.Trim(rest, "0123456789") == ""
	}
	return len(rest) == 5 && !strings.Contains(rest, "-")
}

// podNamePrefixes are the names owner's pods are given: a Deployment's through its ReplicaSets, a
// CronJob's through its Jobs.
func podNamePrefixes(s *snapshot.Snapshot, owner snapshot.Ref) []podNamePrefix {
	controlled := func(o metav1.Object) bool {
		c := metav1.GetControllerOfNoCopy(o)
		return o.GetNamespace() == owner.Namespace && c != nil && c.Kind == owner.Kind && c.Name == owner.Name
	}
	switch owner.Kind {
	case "Deployment":
		return controlledPrefixes(s.ReplicaSets, controlled)
	case "CronJob":
		return controlledPrefixes(s.Jobs, controlled)
	case "StatefulSet":
		return []podNamePrefix{{name: owner.Name, ordinal: true}}
	case "Pod":
		return nil // a bare pod preempted is gone, and nothing recreates it to report on
	}
	return []podNamePrefix{{name: owner.Name}}
}

// controlledPrefixes are the pod names of the objects among items that controlled accepts.
func controlledPrefixes[T any, PT interface {
	*T
	metav1.Object
}](items []T, controlled func(metav1.Object) bool) []podNamePrefix {
	var prefixes []podNamePrefix
	for i := range items {
		if o := PT(&items[i]); controlled(o) {
			prefixes = append(prefixes, podNamePrefix{name: o.GetName()})
		}
	}
	return prefixes
}
