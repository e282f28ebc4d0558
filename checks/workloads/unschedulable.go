package workloads

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Unschedulable finds pods the scheduler could not place on any node.
type Unschedulable struct{}

func (Unschedulable) Meta() check.Meta {
	return check.Meta{
		ID:       "pod-unschedulable",
		Title:    "Pods are pending because no node can take them",
		Category: check.CategoryWorkloads,
		Severity: check.High,
		Requires: podKinds(),
		Optional: ownerKinds(),
		LiveOnly: true,
		Description: "Looks for Pending pods whose PodScheduled condition is False with reason Unschedulable, and reports " +
			"the scheduler's explanation (insufficient CPU or memory, taints, node selectors or affinity, volumes), with its newest " +
			"FailedScheduling event: how often and how recently it tried.",
		Why: "The workload runs short of replicas, or not at all, until the cluster or the pod spec changes; " +
			"a scale-up or a rollout that cannot schedule is often the first sign of a full cluster.",
		Remediation: "Act on the scheduler's message: for insufficient resources, lower the pod's requests or add capacity; " +
			"for taints, add a toleration or use other nodes; for node selectors or affinity, fix the labels; for volumes, " +
			"check that the PersistentVolumeClaim binds in the pod's zone.",
		Links: []check.Link{PodFailureLink()},
		References: []string{
			"https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/",
			"https://kubernetes.io/docs/tasks/debug/debug-application/debug-pods/#my-pod-stays-pending",
		},
	}
}

func (c Unschedulable) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	// Pending pods the scheduler gave up on, with its explanation, under their owners.
	var pending check.Groups[snapshot.Ref, *corev1.Pod]
	messages := map[*corev1.Pod]string{}
	since := map[*corev1.Pod]time.Time{}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if pod.Status.Phase != corev1.PodPending {
			continue
		}
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				pending.Add(s.TopOwner(pod), pod)
				messages[pod] = cond.Message
				since[pod] = cond.LastTransitionTime.Time
			}
		}
	}
	var findings []check.Finding
	for _, owner := range pending.Keys() {
		pods := pending.Get(owner)
		var evidence []string
		var times []time.Time
		hints := map[string]bool{}
		for _, pod := range pods {
			line := "pod " + pod.Name
			if t := since[pod]; !t.IsZero() {
				line += " (pending " + check.For(t, s.CollectedAt) + ")"
				times = append(times, t)
			}
			evidence = append(evidence, line+": "+messages[pod])
			for _, h := range schedulingHints(messages[pod]) {
				hints[h] = true
			}
		}
		f := check.New(meta, fmt.Sprintf("%s of %s cannot be scheduled", check.Plural(len(pods), "pod", "pods"), owner.Describe()), owner)
		f.Incident = true
		f.Evidence = withEvent(withEvent(check.LimitEvidence(evidence), eventEvidence(s, podObjects(pods), reasons("FailedScheduling"))),
			preemptionEvidence(s, owner))
		if len(hints) > 0 {
			f.Remediation = strings.Join(slices.Sorted(maps.Keys(hints)), " ")
		}
		f.Since = check.Earliest(times...)
		f.Fix = append(describePods(pods), "kubectl describe nodes | grep -A 8 'Allocated resources'")
		findings = append(findings, f)
	}
	return findings
}

// schedulingHints turns the scheduler's reasons into the first thing to try.
func schedulingHints(message string) []string {
	var hints []string
	lower := strings.ToLower(message)
	if strings.Contains(lower, "insufficient cpu") || strings.Contains(lower, "insufficient memory") {
		hints = append(hints, "The nodes lack free CPU or memory for the pod's requests: lower the requests or add nodes.")
	}
	if strings.Contains(lower, "untolerated taint") || strings.Contains(lower, "had taint") {
		hints = append(hints, "The free nodes are tainted: add a matching toleration if the pod belongs there.")
	}
	if strings.Contains(lower, "node affinity") || strings.Contains(lower, "node selector") {
		hints = append(hints, "No node matches the pod's nodeSelector or node affinity: check the node labels.")
	}
	if strings.Contains(lower, "persistentvolumeclaim") || strings.Contains(lower, "volume node affinity") {
		hints = append(hints, "A volume cannot be bound or attached where the pod could run: check its PersistentVolumeClaim.")
	}
	return hints
}
