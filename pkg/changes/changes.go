// Package changes builds the timeline of what changed about an incident's objects before it
// started, from evidence the snapshot holds: a Deployment's new revision and its pod-template
// diff, updates to the ConfigMaps its pods read, the NetworkPolicies and admission webhooks that
// apply to them, their nodes' transitions, and the first Warning events.
package changes

import (
	"cmp"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// MaxChanges bounds an incident's timeline: the changes nearest to its start say the most, and
// a longer list is not read during an incident.
const MaxChanges = 10

// Change is one thing that changed about an incident's objects before it started.
type Change struct {
	Time    time.Time    `json:"time"`
	Object  snapshot.Ref `json:"object"`
	Kind    string       `json:"kind"`    // "rollout", "config", "node", "policy", "webhook", "event", ...
	Summary string       `json:"summary"` // one line: "image app:1.4 -> app:1.5", "updated by helm"
	Manager string       `json:"manager,omitempty"`
	Undo    string       `json:"undo,omitempty"` // an exact command, e.g. kubectl rollout undo ... --to-revision=3
}

// The kinds of Change.
const (
	KindRollout = "rollout"
	KindConfig  = "config"
	KindNode    = "node"
	KindPolicy  = "policy"
	KindWebhook = "webhook"
	KindEvent   = "event"
)

// Kinds are what the timeline reads that no check needs: every ConfigMap's writers (a
// whole-cluster run reads ConfigMaps whole only in the add-on namespaces) and the StatefulSets'
// and DaemonSets' revisions. A run that cannot read them tells less, and judges the same.
func Kinds() []snapshot.Kind {
	return []snapshot.Kind{snapshot.KindConfigMapMetadata, snapshot.KindControllerRevisions}
}

// Before lists, oldest first, the changes to objects (and the objects they reference) in window
// before started: at most MaxChanges, the nearest to started (Timeline also says how many more).
func Before(s *snapshot.Snapshot, objects []snapshot.Ref, started time.Time, window time.Duration) []Change {
	changes, _ := Timeline(s, objects, started, window)
	return changes
}

// Timeline is Before, and how many changes it left out past MaxChanges.
//
// Pods stand for their top owner (snapshot.TopOwner); a workload brings in its pods' Warning
// events, its Deployment's ReplicaSets, the ConfigMaps its pod template reads (volumes, envFrom,
// env valueFrom), the NetworkPolicies selecting its pods and the webhooks that admit pods in its
// namespace. A change at started itself counts: the API server's times are whole seconds.
// Only what the snapshot holds is told: a live run without -n reads the ConfigMaps of the
// add-on namespaces whole and every other one's metadata alone (snapshot.KindConfigMapMetadata),
// which says who updated it when; where that was refused, it tells no application ConfigMap's.
func Timeline(s *snapshot.Snapshot, objects []snapshot.Ref, started time.Time, window time.Duration) ([]Change, int) {
	t := &timeline{s: s, from: started.Add(-window), to: started, seen: map[snapshot.Ref]bool{},
		added: map[changeKey]bool{}, firstEvents: map[eventGroup]Change{}, namespaces: map[string]bool{}}
	for _, ref := range objects {
		t.follow(ref)
	}
	t.admittingWebhooks()
	for _, c := range t.firstEvents {
		t.add(c)
	}
	return bound(t.changes, MaxChanges)
}

// bound keeps the max changes nearest to the end (the newest), oldest first, and says how many
// it left out.
func bound(changes []Change, limit int) ([]Change, int) {
	slices.SortFunc(changes, func(a, b Change) int { return compareChanges(b, a) })
	left := max(len(changes)-limit, 0)
	changes = changes[:min(len(changes), limit)]
	slices.SortFunc(changes, compareChanges)
	return changes, left
}

// compareChanges orders changes oldest first, and those of the same second by kind, object and
// summary, so that the timeline does not depend on the order objects were read in.
func compareChanges(a, b Change) int {
	return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Object.String(), b.Object.String()),
		cmp.Compare(a.Summary, b.Summary), cmp.Compare(a.Manager, b.Manager))
}

type timeline struct {
	s        *snapshot.Snapshot
	from, to time.Time
	changes  []Change
	// seen marks the objects already followed: two pods of one Deployment bring it in once.
	seen  map[snapshot.Ref]bool
	added map[changeKey]bool
	// firstEvents keeps the earliest Warning event of each reason about each object followed
	// (pods counted as their owner's): the first BackOff tells when, not the hundredth.
	firstEvents map[eventGroup]Change
	// namespaces are those of the workloads followed, whose pods' creation webhooks may refuse.
	namespaces map[string]bool
}

type changeKey struct {
	time                   int64
	object                 snapshot.Ref
	kind, summary, manager string
}

type eventGroup struct {
	owner  snapshot.Ref
	reason string
}

// in tells whether a time falls in the window.
func (t *timeline) in(at time.Time) bool {
	return !at.IsZero() && !at.Before(t.from) && !at.After(t.to)
}

func (t *timeline) add(c Change) {
	key := changeKey{c.Time.UnixNano(), c.Object, c.Kind, c.Summary, c.Manager}
	if !t.added[key] {
		t.added[key] = true
		t.changes = append(t.changes, c)
	}
}

// follow adds the changes about one of the incident's objects and those it references.
func (t *timeline) follow(ref snapshot.Ref) {
	if t.seen[ref] {
		return
	}
	t.seen[ref] = true
	switch ref.Kind {
	case "Pod":
		if pod, ok := lookup[*corev1.Pod](t.s, ref); ok {
			if owner := t.s.TopOwner(pod); owner != ref {
				t.eventsAbout(ref, owner)
				t.follow(owner)
				return
			}
		}
		t.workload(ref)
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob":
		t.workload(ref)
	case "Node":
		t.node(ref)
	case "ConfigMap":
		t.objectChanges(ref, KindConfig)
	case "NetworkPolicy":
		t.objectChanges(ref, KindPolicy)
	case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
		t.objectChanges(ref, KindWebhook)
	default:
		t.eventsAbout(ref, ref)
	}
}

// lookup finds an object of the snapshot by its ref, as its Go type.
func lookup[T any](s *snapshot.Snapshot, ref snapshot.Ref) (T, bool) {
	obj, found := s.ObjectMeta(ref)
	if !found {
		var zero T
		return zero, false
	}
	typed, ok := obj.(T)
	return typed, ok
}

// workload adds a workload's rollout, its pods' events and what its pod template references.
// A Deployment's revisions are its ReplicaSets; a StatefulSet's and a DaemonSet's are
// ControllerRevisions (snapshot.KindControllerRevisions).
func (t *timeline) workload(ref snapshot.Ref) {
	t.eventsAbout(ref, ref)
	var template *corev1.PodTemplateSpec
	obj, _ := t.s.ObjectMeta(ref)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		template = &o.Spec.Template
		revisions := deploymentRevisions(t.s, o)
		for _, r := range revisions {
			// A ReplicaSet's FailedCreate (a quota, a webhook refusing) is about it, not a pod.
			t.eventsAbout(snapshot.RefTo(snapshot.KindReplicaSets, r.ReplicaSet.Namespace, r.ReplicaSet.Name), ref)
		}
		t.rollout(ref, revisions)
	case *appsv1.StatefulSet:
		template = &o.Spec.Template
		t.controllerRollout(ref, controllerRevisions(t.s, ref, o))
	case *appsv1.DaemonSet:
		template = &o.Spec.Template
		t.controllerRollout(ref, controllerRevisions(t.s, ref, o))
	case *appsv1.ReplicaSet:
		template = &o.Spec.Template
	case *corev1.ReplicationController:
		template = o.Spec.Template
	case *batchv1.Job:
		template = &o.Spec.Template
	case *batchv1.CronJob:
		template = &o.Spec.JobTemplate.Spec.Template
	}
	pods := t.s.PodsOf(ref)
	for _, pod := range pods {
		t.eventsAbout(snapshot.RefTo(snapshot.KindPods, pod.Namespace, pod.Name), ref)
	}
	switch {
	case template != nil:
		t.podSpec(ref.Namespace, &template.Spec, template.Labels)
	case len(pods) > 0:
		// A bare pod, or one whose controller was not read: the pod is its own template.
		t.podSpec(ref.Namespace, &pods[0].Spec, pods[0].Labels)
	}
}

// podSpec follows what a pod spec references: its ConfigMaps, the NetworkPolicies selecting
// pods with labels, and (later, all at once) the webhooks admitting pods in namespace.
func (t *timeline) podSpec(namespace string, spec *corev1.PodSpec, labels map[string]string) {
	for _, name := range ConfigMapsOf(spec) {
		t.follow(snapshot.RefTo(snapshot.KindConfigMaps, namespace, name))
	}
	for _, ref := range policiesSelecting(t.s, namespace, labels) {
		t.follow(ref)
	}
	t.namespaces[namespace] = true
}

// eventsAbout keeps the earliest Warning event of each reason about object in the window, as
// one of owner's: the pods of one Deployment failing alike make one line.
func (t *timeline) eventsAbout(object, owner snapshot.Ref) {
	for _, e := range t.s.WarningEvents(object.Kind, object.Namespace, object.Name) {
		first := snapshot.FirstSeen(&e)
		if !t.in(first) {
			continue
		}
		c := Change{Time: first, Object: object, Kind: KindEvent, Summary: eventSummary(&e)}
		group := eventGroup{owner, e.Reason}
		if kept, ok := t.firstEvents[group]; !ok || compareChanges(c, kept) < 0 {
			t.firstEvents[group] = c
		}
	}
}
