// Package capacity judges whether workloads fit and keep running: quotas at their limit, defaults
// that fit no node, pods the scheduler cannot place, preemption, pod addresses running out, and
// replicas that one node's failure would take down together.
package capacity

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Checks is every check of the family, as the catalog lists it.
func Checks() []check.Check {
	return []check.Check{QuotaExhausted{}, LimitRangeUnschedulable{}, PodsPending{}, PriorityPreemption{},
		PodIPExhausted{}, PodCIDRTooSmall{}, ReplicasConcentrated{}}
}

// ownerKinds name a pod's or a controller's top-level owner (a Deployment rather than its
// ReplicaSet, a CronJob rather than its Job); without them the nearest owner is named.
func ownerKinds() []snapshot.Kind {
	return []snapshot.Kind{snapshot.KindReplicaSets, snapshot.KindJobs, snapshot.KindDeployments, snapshot.KindStatefulSets,
		snapshot.KindDaemonSets, snapshot.KindCronJobs}
}

// workloadFindings are the workloads family's findings about a workload short of pods, which a
// cause this family finds explains.
func workloadFindings() []string {
	return []string{"deployment-unavailable", "statefulset-unavailable", "daemonset-unavailable", "job-cannot-create-pods"}
}

// eventRecent is how recent an event must be to say its cause still holds: controllers and the
// kubelet retry within minutes, so an hour-old complaint not repeated is over.
const eventRecent = time.Hour

// recent says an event happened within d of the snapshot (always, when its time is unknown).
func recent(s *snapshot.Snapshot, e *corev1.Event, d time.Duration) bool {
	return s.CollectedAt.IsZero() || s.CollectedAt.Sub(snapshot.LastSeen(e)) <= d
}

// ownerOf is the object a person manages for a controller an event is about: a ReplicaSet's
// Deployment, a Job's CronJob, when the snapshot holds them; else the object itself.
func ownerOf(s *snapshot.Snapshot, ref snapshot.Ref) snapshot.Ref {
	meta, ok := s.ObjectMeta(ref)
	if !ok {
		return ref
	}
	c := metav1.GetControllerOfNoCopy(meta)
	if c == nil || (c.Kind != "Deployment" && c.Kind != "CronJob") {
		return ref
	}
	parent := snapshot.Ref{APIVersion: c.APIVersion, Kind: c.Kind, Namespace: ref.Namespace, Name: c.Name}
	if _, ok := s.ObjectMeta(parent); !ok {
		return ref
	}
	return parent
}

// eventRef is the object an event is about, as a ref.
func eventRef(e *corev1.Event) snapshot.Ref {
	o := e.InvolvedObject
	return snapshot.Ref{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
}

// unschedulable is the scheduler's PodScheduled condition of a Pending pod it could not place;
// nil for any other pod.
func unschedulable(pod *corev1.Pod) *corev1.PodCondition {
	if pod.Status.Phase != corev1.PodPending || pod.Spec.NodeName != "" {
		return nil
	}
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c
		}
	}
	return nil
}

// podRequests is what the scheduler reserves for a pod, as Kubernetes' own helper computes it:
// containers and sidecars, or an init container's when larger, the pod-level resources when
// set, and the pod's overhead.
func podRequests(pod *corev1.Pod) corev1.ResourceList {
	return resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
}

// occupies says a pod holds its requests on its node: assigned and not finished.
func occupies(pod *corev1.Pod) bool {
	return pod.Spec.NodeName != "" && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

type freeKey struct{}

// freeByNode is, for each node, its allocatable minus the requests of the pods it holds: what
// the scheduler can still give. Computed once for the snapshot, in one pass over the pods.
func freeByNode(s *snapshot.Snapshot) map[string]corev1.ResourceList {
	return snapshot.Derived(s, freeKey{}, func() map[string]corev1.ResourceList {
		free := make(map[string]corev1.ResourceList, len(s.Nodes))
		for i := range s.Nodes {
			free[s.Nodes[i].Name] = s.Nodes[i].Status.Allocatable.DeepCopy()
		}
		for i := range s.Pods {
			pod := &s.Pods[i]
			left, ok := free[pod.Spec.NodeName]
			if !ok || !occupies(pod) {
				continue
			}
			for name, q := range podRequests(pod) {
				if have, ok := left[name]; ok {
					have.Sub(q)
					left[name] = have
				}
			}
		}
		return free
	})
}

// quantity renders an amount of a resource as kubectl shows it: CPU in cores or millicores,
// memory in binary units.
func quantity(name corev1.ResourceName, q resource.Quantity) string {
	if name == corev1.ResourceMemory || name == corev1.ResourceEphemeralStorage || strings.HasSuffix(string(name), ".memory") {
		if v := q.Value(); v >= 1<<20 && v%(1<<20) == 0 {
			for _, unit := range []struct {
				suffix string
				size   int64
			}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}} {
				if v%unit.size == 0 {
					return fmt.Sprintf("%d%s", v/unit.size, unit.suffix)
				}
			}
		}
	}
	return q.String()
}

// amounts renders a resource list in a stable order, "cpu 2, memory 4Gi"; only the names given
// when names is not empty.
func amounts(list corev1.ResourceList, names ...corev1.ResourceName) string {
	if len(names) == 0 {
		names = namesOf(list)
	}
	var parts []string
	for _, name := range names {
		if q, ok := list[name]; ok {
			parts = append(parts, string(name)+" "+quantity(name, q))
		}
	}
	return strings.Join(parts, ", ")
}

// nodeTaken says a node takes no new pod: not Ready, or cordoned.
func nodeTaken(node *corev1.Node) bool { return node.Spec.Unschedulable || !snapshot.NodeReady(node) }

// fitsOtherwise says the scheduler could place pod on node but for its resources: the node is
// Ready and not cordoned, its NoSchedule and NoExecute taints are tolerated, and its labels match
// the pod's nodeSelector. (Affinity terms are not judged: this bounds where the pod could go.)
func fitsOtherwise(pod *corev1.Pod, node *corev1.Node) bool {
	if nodeTaken(node) {
		return false
	}
	for key, value := range pod.Spec.NodeSelector {
		if node.Labels[key] != value {
			return false
		}
	}
	for i := range node.Spec.Taints {
		taint := &node.Spec.Taints[i]
		if taint.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !slices.ContainsFunc(pod.Spec.Tolerations, func(t corev1.Toleration) bool { return tolerates(t, taint) }) {
			return false
		}
	}
	return true
}

// refsOf sorts refs by their names, without repeats.
func sortedRefs(refs []snapshot.Ref) []snapshot.Ref {
	slices.SortFunc(refs, func(a, b snapshot.Ref) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(refs)
}

// describeAll names refs, "deployment shop/web, cronjob shop/nightly", the first few of many.
func describeAll(refs []snapshot.Ref) string {
	const shown = 5
	names := make([]string, 0, min(len(refs), shown))
	for _, r := range refs[:min(len(refs), shown)] {
		names = append(names, r.Describe())
	}
	if len(refs) > shown {
		names = append(names, fmt.Sprintf("and %d more", len(refs)-shown))
	}
	return strings.Join(names, ", ")
}

// tolerates says a toleration lets a pod onto a node with taint: the same key (or an empty key
// with Exists, which matches every taint), the same value unless Exists, the same effect or none.
func tolerates(t corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key == "" {
		return t.Operator == corev1.TolerationOpExists
	}
	if t.Key != taint.Key {
		return false
	}
	return t.Operator == corev1.TolerationOpExists || t.Value == taint.Value
}

// namesOf are the resources of list, sorted.
func namesOf(list corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(list))
	for n := range list {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
