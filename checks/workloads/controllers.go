package workloads

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/changes"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Pods and events explain a controller's missing replicas; without them the finding still stands.
func controllerOptional() []snapshot.Kind {
	return withEvents([]snapshot.Kind{snapshot.KindPods, snapshot.KindReplicaSets})
}

const unavailableWhy = "Fewer replicas serve than were asked for: capacity is reduced and one more failure may take the " +
	"service down. Critical when no replica is available."

// eventsDescription is what the controller checks make of events.
const eventsDescription = "Quotes the newest Warning event about the controller, its ReplicaSets or its pods; with fewer " +
	"pods than it wants, its FailedCreate first (a quota exceeded, a webhook or Pod Security refusing), which no pod shows. " +
	"A FailedMount, FailedAttachVolume or FailedCreatePodSandBox of the last 15 minutes makes it high: waiting does not resolve those. " +
	"Pods the scheduler preempted in the last hour for pods of higher priority are named, with the preemptor and its priority."

const unavailableReferences = "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status"

// shortfall is what the three controller checks have in common once their status is read.
type shortfall struct {
	ref       snapshot.Ref
	message   string
	desired   int32
	available int32
	detail    []string
	// selector selects the controller's pods for kubectl -l; "" when there is none to give.
	selector string
	// since is when the shortfall began, as the cluster records it; zero when unknown.
	since time.Time
	// stuck is set when the controller says progress has stopped, or a pod is failing.
	stuck bool
	// rollback is what can be rolled back to when a rollout may be the cause.
	rollback rollback
	// undo is the exact rollback when the newest revision is the one failing (exactRollback);
	// "" otherwise.
	undo string
	// event is the newest Warning event about the controller's objects, as evidence; "" for none.
	event string
	// preempted says which of its pods the scheduler took away for others lately; "" for none.
	preempted string
}

// rollback says whether kubectl rollout undo has an earlier revision to go back to.
type rollback int

const (
	// noRollout: nothing suggests a rollout caused it; no rollback is offered.
	noRollout rollback = iota
	// revisionUnknown: a rollout may be the cause, but whether an earlier revision exists cannot
	// be told from the snapshot; rollout history shows it.
	revisionUnknown
	// revisionKnown: an earlier revision exists, so rollout undo has somewhere to go.
	revisionKnown
)

func (sf shortfall) finding(meta check.Meta) check.Finding {
	f := check.New(meta, sf.message, sf.ref)
	f.Incident = true
	switch {
	case sf.available == 0 && sf.desired > 0:
		f.Severity = check.Critical
	case sf.stuck:
		f.Severity = check.High
	default:
		// Short of replicas but still progressing: often a rollout or a scale-up under way.
		f.Severity = check.Medium
	}
	f.Evidence = withEvent(withEvent(check.LimitEvidence(sf.detail), sf.event), sf.preempted)
	f.Since = check.Earliest(sf.since)
	target := check.InNamespace(sf.ref)
	f.Fix = []string{"kubectl describe " + target}
	if sf.selector != "" {
		f.Fix = append(f.Fix, fmt.Sprintf("kubectl get pods -n %s -l %s -o wide", check.Quote(sf.ref.Namespace), check.Quote(sf.selector)))
	}
	switch {
	case sf.undo != "":
		f.Fix = append(f.Fix, sf.undo)
	case sf.rollback == revisionKnown:
		f.Fix = append(f.Fix, fmt.Sprintf("kubectl rollout undo %s   # if a recent rollout caused it", target))
	case sf.rollback == revisionUnknown:
		f.Fix = append(f.Fix, fmt.Sprintf("kubectl rollout history %s   # if a recent rollout caused it: the revisions to roll back to", target))
	}
	return f
}

// explainByEvents adds the newest Warning event about the controller's objects to sf. When
// fewer pods exist than it wants (missingPods), a controller that cannot create them comes first,
// and its message says why: no pod's state shows a quota exceeded or an admission refusal.
func (sf *shortfall) explainByEvents(s *snapshot.Snapshot, missingPods bool) {
	refs := workloadObjects(s, sf.ref)
	sf.preempted = preemptionEvidence(s, sf.ref)
	if missingPods {
		if e, about := newestEvent(s, refs, cannotCreate); e != nil {
			sf.message += "; pods cannot be created: " + check.OneLine(e.Message, 200)
			sf.stuck = true
			sf.event = eventLine(s, e, about)
			return
		}
	}
	if e, about := newestEvent(s, refs, anyWarning); e != nil {
		sf.event = eventLine(s, e, about)
		// The kubelet retries a mount or a sandbox every few minutes while it fails: one not
		// repeated for a while is over.
		recent := s.CollectedAt.IsZero() || s.CollectedAt.Sub(snapshot.LastSeen(e)) <= stuckEventsRecent
		sf.stuck = sf.stuck || (recent && stuckReasons()(e))
	}
}

// stuckEventsRecent is how recent an event of a pod that cannot start must be to mean it still
// cannot.
const stuckEventsRecent = 15 * time.Minute

// podSelector is a controller's selector as kubectl -l takes it; "" for one that is invalid or
// selects every pod.
func podSelector(sel *metav1.LabelSelector) string {
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || selector.Empty() {
		return "" // invalid, or selecting everything: no -l would show the controller's own pods
	}
	return selector.String()
}

// podReasons says, for each live pod of owner that is not ready, what state it is stuck in and
// for how long, whether any of them is failing rather than merely starting, and when the first
// of them began failing (podFailingSince).
func podReasons(s *snapshot.Snapshot, owner snapshot.Ref) (lines []string, failing bool, since time.Time) {
	for _, pod := range s.PodsOf(owner) {
		if !snapshot.IsLive(pod) || snapshot.PodReady(pod) {
			continue
		}
		state, bad := podState(pod)
		line := fmt.Sprintf("pod %s: %s", pod.Name, state)
		if t := snapshot.NotReadySince(pod); !t.IsZero() {
			line += " (not ready " + check.For(t, s.CollectedAt) + ")"
		}
		if t := podFailingSince(pod); !t.IsZero() && (since.IsZero() || t.Before(since)) {
			since = t
		}
		lines = append(lines, line)
		failing = failing || bad
	}
	return lines, failing, since
}

// isFailingWaitReason tells container states that do not resolve by waiting from those of a
// container that is merely starting.
func isFailingWaitReason(reason string) bool {
	switch reason {
	case "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull",
		"CreateContainerConfigError", "CreateContainerError", "RunContainerError":
		return true
	}
	return false
}

// podState is the most telling reason a pod is not ready (a container's waiting or terminated
// reason, else the scheduling condition, else the phase) and whether it is a failure.
func podState(pod *corev1.Pod) (string, bool) {
	for _, cs := range snapshot.ContainerStatuses(pod) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return fmt.Sprintf("container %s %s", cs.Name, w.Reason), isFailingWaitReason(w.Reason)
		}
		if t := cs.State.Terminated; t != nil && t.Reason != "" {
			return fmt.Sprintf("container %s terminated (%s)", cs.Name, t.Reason), t.ExitCode != 0
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return "not scheduled: " + c.Message, c.Reason == corev1.PodReasonUnschedulable
		}
	}
	if pod.Status.Phase == "" {
		return "no status reported", false
	}
	return string(pod.Status.Phase) + ", not ready", false
}

func replicasOrOne(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// DeploymentUnavailable finds Deployments with fewer available replicas than desired.
type DeploymentUnavailable struct{}

func (DeploymentUnavailable) Meta() check.Meta {
	return check.Meta{
		ID:       "deployment-unavailable",
		Title:    "Deployments are short of available replicas",
		Category: check.CategoryWorkloads,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindDeployments},
		Optional: controllerOptional(),
		LiveOnly: true,
		Description: "Compares each Deployment's available replicas with spec.replicas, reads its Available, " +
			"Progressing and ReplicaFailure conditions (ProgressDeadlineExceeded means the rollout is stuck, even while " +
			"old replicas still serve), and names the state of each pod that is not ready. Medium while a rollout may " +
			"still be progressing, high once it is stuck or a pod is failing. " + eventsDescription,
		Why:         unavailableWhy,
		Remediation: "Find why the new pods do not become ready (see the pod states in the evidence). If a rollout caused it, roll back, fix the spec, and roll forward.",
		References:  []string{unavailableReferences},
		Links:       []check.Link{servedLink()},
	}
}

func (c DeploymentUnavailable) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for i := range s.Deployments {
		d := &s.Deployments[i]
		desired := replicasOrOne(d.Spec.Replicas)
		var conditions []string
		stuck := false
		var since time.Time
		for _, cond := range d.Status.Conditions {
			failed := (cond.Type == appsv1.DeploymentProgressing && cond.Reason == "ProgressDeadlineExceeded") ||
				(cond.Type == appsv1.DeploymentReplicaFailure && cond.Status == corev1.ConditionTrue)
			stuck = stuck || failed
			if failed || cond.Status != corev1.ConditionTrue {
				line := fmt.Sprintf("condition %s=%s (%s)", cond.Type, cond.Status, cond.Reason)
				if !cond.LastTransitionTime.IsZero() {
					line += " " + check.For(cond.LastTransitionTime.Time, s.CollectedAt)
					// Unavailable since Available turned False, stuck since the rollout was declared so.
					if since.IsZero() || cond.LastTransitionTime.Time.Before(since) {
						since = cond.LastTransitionTime.Time
					}
				}
				conditions = append(conditions, line+": "+cond.Message)
			}
		}
		short := d.Status.AvailableReplicas < desired
		// A stuck rollout matters even while the old replicas still serve: the next failure
		// of one of them cannot be replaced.
		if !short && !stuck {
			continue
		}
		ref := snapshot.RefTo(snapshot.KindDeployments, d.Namespace, d.Name)
		pods, failing, podsSince := podReasons(s, ref)
		if since.IsZero() {
			since = podsSince
		}
		sf := shortfall{ref: ref, desired: desired, available: d.Status.AvailableReplicas, stuck: stuck || failing,
			selector: podSelector(d.Spec.Selector), since: since, rollback: deploymentRollback(s, ref)}
		sf.undo, _ = exactRollback(s, ref, notReadyPods(s, ref))
		sf.message = fmt.Sprintf("deployment %s/%s has %d of %d %s available", d.Namespace, d.Name,
			d.Status.AvailableReplicas, desired, check.PluralForm(int(desired), "replica", "replicas"))
		if !short {
			sf.message = fmt.Sprintf("deployment %s/%s: the rollout is stuck; the %d available %s from before it", d.Namespace, d.Name,
				d.Status.AvailableReplicas, check.PluralForm(int(d.Status.AvailableReplicas), "replica is", "replicas are"))
		}
		sf.detail = append([]string{fmt.Sprintf("replicas: %d desired, %d updated, %d ready, %d available",
			desired, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas)}, append(conditions, pods...)...)
		sf.explainByEvents(s, d.Status.Replicas < desired)
		findings = append(findings, sf.finding(meta))
	}
	return findings
}

// deploymentRollback tells whether the Deployment has an earlier revision: more than one of its
// ReplicaSets carries a revision number. Without ReplicaSets in the snapshot it cannot be told.
func deploymentRollback(s *snapshot.Snapshot, d snapshot.Ref) rollback {
	if _, unread := s.Unavailable[snapshot.KindReplicaSets]; unread {
		return revisionUnknown
	}
	if len(changes.Revisions(s, d)) > 1 {
		return revisionKnown
	}
	return noRollout
}

// notReadyPods are the live pods of owner that are not ready.
func notReadyPods(s *snapshot.Snapshot, owner snapshot.Ref) []*corev1.Pod {
	var out []*corev1.Pod
	for _, pod := range s.PodsOf(owner) {
		if snapshot.IsLive(pod) && !snapshot.PodReady(pod) {
			out = append(out, pod)
		}
	}
	return out
}

// StatefulSetUnavailable finds StatefulSets with fewer ready replicas than desired.
type StatefulSetUnavailable struct{}

func (StatefulSetUnavailable) Meta() check.Meta {
	return check.Meta{
		ID:       "statefulset-unavailable",
		Title:    "StatefulSets are short of ready replicas",
		Category: check.CategoryWorkloads,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindStatefulSets},
		Optional: controllerOptional(),
		LiveOnly: true,
		Description: "Compares each StatefulSet's available (or, on older servers, ready) replicas with spec.replicas, and " +
			"names the state of each pod that is not ready. StatefulSets start pods in order, so one stuck pod blocks the " +
			"rest. Medium while pods are only starting, high once one is failing. " + eventsDescription,
		Why:         unavailableWhy + " A StatefulSet with OrderedReady pod management stops at the first pod that does not become ready.",
		Remediation: "Fix the first pod that is not ready (its state is in the evidence); check its PersistentVolumeClaim if it is Pending.",
		References:  []string{"https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/"},
		Links:       []check.Link{servedLink()},
	}
}

func (c StatefulSetUnavailable) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for i := range s.StatefulSets {
		st := &s.StatefulSets[i]
		desired := replicasOrOne(st.Spec.Replicas)
		available := st.Status.AvailableReplicas
		if available == 0 && st.Status.ReadyReplicas > 0 {
			available = st.Status.ReadyReplicas
		}
		if desired == 0 || available >= desired {
			continue
		}
		ref := snapshot.RefTo(snapshot.KindStatefulSets, st.Namespace, st.Name)
		pods, failing, since := podReasons(s, ref)
		sf := shortfall{ref: ref, desired: desired, available: available, stuck: failing,
			selector: podSelector(st.Spec.Selector), since: since}
		if st.Status.UpdateRevision != "" && st.Status.CurrentRevision != "" && st.Status.CurrentRevision != st.Status.UpdateRevision {
			// Mid-rollout the controller keeps both revisions, the current one its older pods run
			// and the update: there is an earlier revision to go back to.
			sf.rollback = revisionKnown
		}
		sf.message = fmt.Sprintf("statefulset %s/%s has %d of %d %s available", st.Namespace, st.Name,
			available, desired, check.PluralForm(int(desired), "replica", "replicas"))
		sf.detail = append([]string{fmt.Sprintf("replicas: %d desired, %d current, %d updated, %d ready, %d available",
			desired, st.Status.CurrentReplicas, st.Status.UpdatedReplicas, st.Status.ReadyReplicas, st.Status.AvailableReplicas)}, pods...)
		sf.explainByEvents(s, st.Status.Replicas < desired)
		findings = append(findings, sf.finding(meta))
	}
	return findings
}

// DaemonSetUnavailable finds DaemonSets that do not run an available pod on every node they should.
type DaemonSetUnavailable struct{}

func (DaemonSetUnavailable) Meta() check.Meta {
	return check.Meta{
		ID:       "daemonset-unavailable",
		Title:    "DaemonSets are missing from nodes",
		Category: check.CategoryWorkloads,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindDaemonSets},
		Optional: controllerOptional(),
		LiveOnly: true,
		Description: "Compares each DaemonSet's available pods with the number of nodes that should run one " +
			"(desiredNumberScheduled), and names the state of each pod that is not ready. Medium while a rolling " +
			"update is under way and no pod is failing, high otherwise. " + eventsDescription,
		Why: "DaemonSets carry node-level duties: networking, storage, log shipping, monitoring. A node without its " +
			"CNI or storage agent breaks every pod scheduled there. Critical when no node has an available pod.",
		Remediation: "Look at the DaemonSet's pods on the affected nodes; a taint the DaemonSet does not tolerate, or a crash " +
			"on some kernels or images, are common causes.",
		References: []string{"https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"},
		Links:      []check.Link{servedLink()},
	}
}

func (c DaemonSetUnavailable) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for i := range s.DaemonSets {
		ds := &s.DaemonSets[i]
		desired, available := ds.Status.DesiredNumberScheduled, ds.Status.NumberAvailable
		if desired == 0 || available >= desired {
			continue
		}
		ref := snapshot.RefTo(snapshot.KindDaemonSets, ds.Namespace, ds.Name)
		pods, failing, since := podReasons(s, ref)
		rolling := ds.Status.UpdatedNumberScheduled < desired
		sf := shortfall{ref: ref, desired: desired, available: available, stuck: failing || !rolling,
			selector: podSelector(ds.Spec.Selector), since: since}
		switch {
		case ds.Status.UpdatedNumberScheduled < ds.Status.CurrentNumberScheduled:
			// Some nodes still run pods of an earlier revision, which the controller keeps while
			// they run: there is one to go back to.
			sf.rollback = revisionKnown
		case rolling:
			sf.rollback = revisionUnknown
		}
		sf.message = fmt.Sprintf("daemonset %s/%s has an available pod on %d of %d %s", ds.Namespace, ds.Name,
			available, desired, check.PluralForm(int(desired), "node", "nodes"))
		sf.detail = append([]string{fmt.Sprintf("nodes: %d should run it, %d do, %d updated, %d available, %d unavailable, %d misscheduled",
			desired, ds.Status.CurrentNumberScheduled, ds.Status.UpdatedNumberScheduled, available, ds.Status.NumberUnavailable, ds.Status.NumberMisscheduled)}, pods...)
		sf.explainByEvents(s, ds.Status.CurrentNumberScheduled < desired)
		findings = append(findings, sf.finding(meta))
	}
	return findings
}
