package resources

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// oomRaiseFactor raises an OOM-killed container's limit when no usage measurement says better.
const oomRaiseFactor = 2

// usageHeadroom is applied to measured usage when proposing a new limit.
const usageHeadroom = 1.5

// nearLimitRatio is the share of the memory limit above which usage is reported.
const nearLimitRatio = 0.9

// usage indexes metrics.k8s.io working sets by namespace, pod and container.
type usage map[string]resource.Quantity

func usageIndex(s *snapshot.Snapshot) usage {
	u := usage{}
	for i := range s.PodMetrics {
		pm := &s.PodMetrics[i]
		for _, c := range pm.Containers {
			if q, ok := c.Usage[corev1.ResourceMemory]; ok {
				u[pm.Namespace+"/"+pm.Name+"/"+c.Name] = q
			}
		}
	}
	return u
}

// usagePeak is the highest usage measured for one container of one workload.
type usagePeak struct {
	memory   int64
	cpuMilli int64
}

// peakUsage maps each workload's containers to the highest usage the metrics API reports for
// any of its pods.
func peakUsage(s *snapshot.Snapshot) map[ownerContainer]usagePeak {
	peaks := map[ownerContainer]usagePeak{}
	if len(s.PodMetrics) == 0 {
		return peaks
	}
	pods := make(map[string]*corev1.Pod, len(s.Pods))
	for i := range s.Pods {
		pods[s.Pods[i].Namespace+"/"+s.Pods[i].Name] = &s.Pods[i]
	}
	for i := range s.PodMetrics {
		pm := &s.PodMetrics[i]
		pod, ok := pods[pm.Namespace+"/"+pm.Name]
		if !ok {
			continue
		}
		owner := s.TopOwner(pod)
		for _, c := range pm.Containers {
			key := ownerContainer{owner, c.Name}
			p := peaks[key]
			if q, ok := c.Usage[corev1.ResourceMemory]; ok {
				p.memory = max(p.memory, q.Value())
			}
			if q, ok := c.Usage[corev1.ResourceCPU]; ok {
				p.cpuMilli = max(p.cpuMilli, q.MilliValue())
			}
			peaks[key] = p
		}
	}
	return peaks
}

func (u usage) of(pod *corev1.Pod, container string) (resource.Quantity, bool) {
	q, ok := u[pod.Namespace+"/"+pod.Name+"/"+container]
	return q, ok
}

func containerLimit(pod *corev1.Pod, name string) (resource.Quantity, bool) {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range list {
			if c.Name == name {
				q, ok := c.Resources.Limits[corev1.ResourceMemory]
				return q, ok
			}
		}
	}
	return resource.Quantity{}, false
}

// ownerContainer keys observations by top-level owner and container.
type ownerContainer struct {
	owner     snapshot.Ref
	container string
}

// OOMKilled finds containers the kernel killed for exceeding their memory limit.
type OOMKilled struct{}

func (OOMKilled) Meta() check.Meta {
	return check.Meta{
		ID:       "container-oomkilled",
		Title:    "Containers were OOMKilled",
		Category: check.CategoryResources,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindPods},
		Optional: []snapshot.Kind{snapshot.KindReplicaSets, snapshot.KindJobs, snapshot.KindPodMetrics},
		LiveOnly: true,
		Description: "Looks for containers whose current or last termination reason is OOMKilled, with restart counts " +
			"and when it happened, per workload and container. The proposed limit comes from measured usage " +
			"(metrics.k8s.io) plus 50% where available, never below the largest limit it was killed at plus 25%; " +
			"else that limit times 2. Only the limit is raised: a higher request could leave new pods Pending.",
		Why: "The process was killed mid-work: requests in flight fail, and a container that is killed again and " +
			"again ends in CrashLoopBackOff. It happens because the memory limit is below what the workload needs.",
		Remediation: "Raise the container's memory limit, or find the leak if usage grows without bound. The evidence " +
			"shows the limit it was killed at; raise the request later, once the cluster has room for it.",
		References: []string{"https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/#exceed-a-container-s-memory-limit"},
		// A workload whose containers are killed is short of replicas because of it.
		Links: []check.Link{check.SameObjects("the workload whose containers were killed",
			"deployment-unavailable", "statefulset-unavailable", "daemonset-unavailable")},
	}
}

func (c OOMKilled) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	used := usageIndex(s)
	type kill struct {
		pod    *corev1.Pod
		status corev1.ContainerStatus
		term   *corev1.ContainerStateTerminated
	}
	var g check.Groups[ownerContainer, kill]
	for i := range s.Pods {
		pod := &s.Pods[i]
		for _, cs := range snapshot.ContainerStatuses(pod) {
			term := cs.State.Terminated
			if term == nil || term.Reason != "OOMKilled" {
				term = cs.LastTerminationState.Terminated
			}
			if term != nil && term.Reason == "OOMKilled" {
				g.Add(ownerContainer{s.TopOwner(pod), cs.Name}, kill{pod, cs, term})
			}
		}
	}
	var findings []check.Finding
	for _, key := range g.Keys() {
		kills := g.Get(key)
		var evidence []string
		var limit resource.Quantity
		hasLimit := false
		var peak int64
		var killed []time.Time
		for _, k := range kills {
			line := fmt.Sprintf("pod %s: restarted %s", k.pod.Name, check.Plural(int(k.status.RestartCount), "time", "times"))
			if !k.term.FinishedAt.IsZero() {
				line += ", last OOM kill " + check.Ago(k.term.FinishedAt.Time, s.CollectedAt)
				killed = append(killed, k.term.FinishedAt.Time)
			}
			if q, ok := containerLimit(k.pod, key.container); ok {
				// Mid-rollout, pods may differ: never propose less than the largest limit.
				if !hasLimit || q.Cmp(limit) > 0 {
					limit = q
				}
				hasLimit = true
				line += ", limit " + q.String()
			}
			if q, ok := used.of(k.pod, key.container); ok {
				peak = max(peak, q.Value())
				line += ", now using " + mebibytes(q.Value())
			}
			evidence = append(evidence, line)
		}
		f := check.New(meta, fmt.Sprintf("container %s of %s was OOMKilled in %s", key.container, key.owner.Describe(),
			check.Plural(len(kills), "pod", "pods")), key.owner)
		f.Incident = true
		f.Evidence = check.LimitEvidence(evidence)
		// Each pod's latest kill is what the cluster still records; the earliest of them is
		// when the workload was last seen sound in all its pods.
		f.Since = check.Earliest(killed...)
		f.Fix = oomFix(key, hasLimit, limit, peak, check.MetricsServed(s))
		findings = append(findings, f)
	}
	return findings
}

// oomFix proposes a new limit: measured peak usage with headroom, but never below the limit it
// was killed at plus a quarter; without a measurement, the current limit times oomRaiseFactor.
// Only the limit is raised: a higher request could leave new pods Pending mid-incident.
func oomFix(key ownerContainer, hasLimit bool, limit resource.Quantity, peak int64, metrics bool) []string {
	var value, why string
	switch {
	case peak > 0 && int64(float64(peak)*usageHeadroom) >= limit.Value()+limit.Value()/4:
		value, why = mebibytes(int64(float64(peak)*usageHeadroom)), fmt.Sprintf("measured usage %s plus 50%%", mebibytes(peak))
	case peak > 0:
		value, why = mebibytes(limit.Value()+limit.Value()/4), fmt.Sprintf("the limit it was killed at plus 25%% (measured usage is %s)", mebibytes(peak))
	case hasLimit:
		value, why = mebibytes(limit.Value()*oomRaiseFactor), fmt.Sprintf("%dx the limit it was killed at", oomRaiseFactor)
	default:
		// Killed without a limit of its own: the node ran out of memory.
		return []string{check.Comment(fmt.Sprintf("container %s of %s had no memory limit: the node ran out of memory. Set a limit from its peak usage (%s).",
			key.container, key.owner.Describe(), peakSource(metrics)))}
	}
	if !settable(key.owner) {
		return []string{check.Comment(fmt.Sprintf("raise the memory limit of container %s in the pod spec of %s to %s (%s)", key.container, key.owner.Describe(), value, why))}
	}
	return []string{fmt.Sprintf("kubectl set resources %s -c %s --limits=memory=%s   # %s",
		check.InNamespace(key.owner), check.Quote(key.container), value, why)}
}

// UsageNearLimit finds containers whose working set is close to their memory limit.
type UsageNearLimit struct{}

func (UsageNearLimit) Meta() check.Meta {
	return check.Meta{
		ID:       "memory-usage-near-limit",
		Title:    "Containers use more than 90% of their memory limit",
		Category: check.CategoryResources,
		Severity: check.Medium,
		Requires: []snapshot.Kind{snapshot.KindPods, snapshot.KindPodMetrics},
		Optional: []snapshot.Kind{snapshot.KindReplicaSets, snapshot.KindJobs},
		LiveOnly: true,
		Description: "Compares each container's working set from the metrics API (metrics.k8s.io, served by " +
			"metrics-server) with its memory limit. Without the metrics API the check is not evaluated.",
		Why: "The working set is what the kernel counts against the limit; above 90% a spike or slow growth ends in " +
			"an OOM kill.",
		Remediation: "Raise the memory limit with headroom over the observed peak, or find what grows.",
		References:  []string{"https://kubernetes.io/docs/tasks/debug/debug-cluster/resource-metrics-pipeline/"},
	}
}

func (c UsageNearLimit) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	used := usageIndex(s)
	type sample struct {
		pod          *corev1.Pod
		usage, limit int64
	}
	var g check.Groups[ownerContainer, sample]
	for i := range s.Pods {
		pod := &s.Pods[i]
		for _, ctr := range runningContainers(&pod.Spec) {
			limit, ok := lookup(ctr.Resources.Limits, corev1.ResourceMemory)
			if !ok {
				continue
			}
			u, ok := used.of(pod, ctr.Name)
			if ok && float64(u.Value()) > nearLimitRatio*float64(limit.Value()) {
				g.Add(ownerContainer{s.TopOwner(pod), ctr.Name}, sample{pod, u.Value(), limit.Value()})
			}
		}
	}
	var findings []check.Finding
	for _, key := range g.Keys() {
		samples := g.Get(key)
		sort.SliceStable(samples, func(i, j int) bool { return samples[i].usage > samples[j].usage })
		var evidence []string
		for _, sm := range samples {
			evidence = append(evidence, fmt.Sprintf("pod %s: %s of %s (%.0f%%)", sm.pod.Name, mebibytes(sm.usage), mebibytes(sm.limit),
				100*float64(sm.usage)/float64(sm.limit)))
		}
		top := samples[0]
		f := check.New(meta, fmt.Sprintf("container %s of %s uses %.0f%% of its memory limit in %s", key.container, key.owner.Describe(),
			100*float64(top.usage)/float64(top.limit), check.Plural(len(samples), "pod", "pods")), key.owner)
		f.Evidence = check.LimitEvidence(evidence)
		if settable(key.owner) {
			value := mebibytes(int64(float64(top.usage) * usageHeadroom))
			f.Fix = []string{fmt.Sprintf("kubectl set resources %s -c %s --limits=memory=%s   # peak usage plus 50%%",
				check.InNamespace(key.owner), check.Quote(key.container), value)}
		}
		findings = append(findings, f)
	}
	return findings
}

// peakSource says where a container's peak usage can be read: kubectl top where the metrics API
// answers, else the cluster's monitoring.
func peakSource(metrics bool) string {
	if metrics {
		return "kubectl top pod --containers"
	}
	return "from your monitoring: the metrics API did not answer"
}
