package workloads

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Pods explain a controller's missing replicas; without them the finding still stands.
var controllerOptional = []snapshot.Kind{snapshot.KindPods, snapshot.KindReplicaSets}

const unavailableWhy = "Fewer replicas serve than were asked for: capacity is reduced and one more failure may take the " +
	"service down. Critical when no replica is available."

const unavailableReferences = "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status"

// shortfall is what the three controller checks have in common once their status is read.
type shortfall struct {
	ref       snapshot.Ref
	desired   int32
	available int32
	detail    []string
	// stuck is set when the controller itself says progress has stopped.
	stuck bool
}

func (sf shortfall) finding(meta check.Meta, s *snapshot.Snapshot, noun string) check.Finding {
	f := check.New(meta, fmt.Sprintf("%s %s has %d of %d %s available", noun, sf.ref.Namespace+"/"+sf.ref.Name,
		sf.available, sf.desired, pluralWord(int(sf.desired), "replica", "replicas")), sf.ref)
	f.Incident = true
	switch {
	case sf.available == 0:
		f.Severity = check.Critical
	case sf.stuck:
		f.Severity = check.High
	default:
		// Short of replicas but still progressing: often a rollout or a scale-up under way.
		f.Severity = check.Medium
	}
	f.Evidence = limitEvidence(append(sf.detail, podReasons(s, sf.ref)...))
	target := kubectlTarget(sf.ref)
	f.Fix = []string{
		fmt.Sprintf("kubectl describe -n %s %s", sf.ref.Namespace, target),
		fmt.Sprintf("kubectl get pods -n %s -o wide | grep %s", sf.ref.Namespace, sf.ref.Name),
	}
	if sf.ref.Kind != "DaemonSet" || sf.stuck {
		f.Fix = append(f.Fix, fmt.Sprintf("kubectl rollout undo -n %s %s   # if a recent rollout caused it", sf.ref.Namespace, target))
	}
	return f
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// podReasons says, for each pod of owner that is not ready, what state it is stuck in.
func podReasons(s *snapshot.Snapshot, owner snapshot.Ref) []string {
	var lines []string
	for i := range s.Pods {
		pod := &s.Pods[i]
		if s.TopOwner(pod) != owner || podReady(pod) {
			continue
		}
		lines = append(lines, fmt.Sprintf("pod %s: %s", pod.Name, podState(pod)))
	}
	return lines
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podState is the most telling reason a pod is not ready: a container's waiting or terminated
// reason, else the scheduling condition, else the phase.
func podState(pod *corev1.Pod) string {
	for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return fmt.Sprintf("container %s %s", cs.Name, w.Reason)
		}
		if t := cs.State.Terminated; t != nil && t.Reason != "" {
			return fmt.Sprintf("container %s terminated (%s)", cs.Name, t.Reason)
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return "not scheduled: " + c.Message
		}
	}
	if pod.Status.Phase == "" {
		return "no status reported"
	}
	return string(pod.Status.Phase) + ", not ready"
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
		Optional: controllerOptional,
		LiveOnly: true,
		Description: "Compares each Deployment's available replicas with spec.replicas, reads its Available and " +
			"Progressing conditions (ProgressDeadlineExceeded means the rollout is stuck), and names the state of each " +
			"pod that is not ready. Medium while a rollout may still be progressing, high once it is stuck.",
		Why:         unavailableWhy,
		Remediation: "Find why the new pods do not become ready (see the pod states in the evidence). If a rollout caused it, roll back, fix the spec, and roll forward.",
		References:  []string{unavailableReferences},
	}
}

func (c DeploymentUnavailable) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for i := range s.Deployments {
		d := &s.Deployments[i]
		desired := replicasOrOne(d.Spec.Replicas)
		if desired == 0 || d.Status.AvailableReplicas >= desired {
			continue
		}
		sf := shortfall{ref: snapshot.RefTo(snapshot.KindDeployments, d.Namespace, d.Name), desired: desired, available: d.Status.AvailableReplicas}
		sf.detail = append(sf.detail, fmt.Sprintf("replicas: %d desired, %d updated, %d ready, %d available",
			desired, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas))
		for _, cond := range d.Status.Conditions {
			if cond.Status == corev1.ConditionTrue && cond.Type != appsv1.DeploymentReplicaFailure {
				continue
			}
			sf.detail = append(sf.detail, fmt.Sprintf("condition %s=%s (%s): %s", cond.Type, cond.Status, cond.Reason, cond.Message))
			if cond.Type == appsv1.DeploymentProgressing && cond.Reason == "ProgressDeadlineExceeded" {
				sf.stuck = true
			}
			if cond.Type == appsv1.DeploymentReplicaFailure && cond.Status == corev1.ConditionTrue {
				sf.stuck = true
			}
		}
		findings = append(findings, sf.finding(meta, s, "deployment"))
	}
	return findings
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
		Optional: controllerOptional,
		LiveOnly: true,
		Description: "Compares each StatefulSet's available (or, on older servers, ready) replicas with spec.replicas, and " +
			"names the state of each pod that is not ready. StatefulSets start pods in order, so one stuck pod blocks the rest.",
		Why:         unavailableWhy + " A StatefulSet with OrderedReady pod management stops at the first pod that does not become ready.",
		Remediation: "Fix the first pod that is not ready (its state is in the evidence); check its PersistentVolumeClaim if it is Pending.",
		References:  []string{"https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/"},
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
		sf := shortfall{ref: snapshot.RefTo(snapshot.KindStatefulSets, st.Namespace, st.Name), desired: desired, available: available, stuck: true}
		sf.detail = append(sf.detail, fmt.Sprintf("replicas: %d desired, %d current, %d ready, %d available",
			desired, st.Status.CurrentReplicas, st.Status.ReadyReplicas, st.Status.AvailableReplicas))
		findings = append(findings, sf.finding(meta, s, "statefulset"))
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
		Optional: controllerOptional,
		LiveOnly: true,
		Description: "Compares each DaemonSet's available pods with the number of nodes that should run one " +
			"(desiredNumberScheduled), and reports pods scheduled where they should not be.",
		Why: "DaemonSets carry node-level duties: networking, storage, log shipping, monitoring. A node without its " +
			"CNI or storage agent breaks every pod scheduled there. Critical when no node has an available pod.",
		Remediation: "Look at the DaemonSet's pods on the affected nodes; a taint the DaemonSet does not tolerate, or a crash " +
			"on some kernels or images, are common causes.",
		References: []string{"https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"},
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
		sf := shortfall{ref: snapshot.RefTo(snapshot.KindDaemonSets, ds.Namespace, ds.Name), desired: desired, available: available,
			stuck: ds.Status.UpdatedNumberScheduled >= desired}
		sf.detail = append(sf.detail, fmt.Sprintf("nodes: %d should run it, %d do, %d available, %d unavailable, %d misscheduled",
			desired, ds.Status.CurrentNumberScheduled, available, ds.Status.NumberUnavailable, ds.Status.NumberMisscheduled))
		findings = append(findings, sf.finding(meta, s, "daemonset"))
	}
	return findings
}
