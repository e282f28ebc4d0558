package resources

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// BestEffort finds workloads whose pods get the BestEffort QoS class beside workloads that set
// resources, so they are the first to be evicted there.
type BestEffort struct{}

func (BestEffort) Meta() check.Meta {
	return check.Meta{
		ID:       "besteffort-pod",
		Title:    "Workloads run BestEffort beside workloads that set resources",
		Category: check.CategoryResources,
		Severity: check.Low,
		Requires: templateKinds(),
		// Measured usage sizes the requests the fix proposes.
		Optional: append([]snapshot.Kind{snapshot.KindPodMetrics}, snapshot.LegacyWorkloadKinds()...),
		Description: "Looks for workloads whose pods would get the BestEffort QoS class (no CPU or memory request or " +
			"limit on any container, after LimitRange defaults) in namespaces where other workloads are Burstable or " +
			"Guaranteed. A namespace where every workload is BestEffort is a deliberate choice and is not reported.",
		Why: "Under node pressure the kubelet evicts BestEffort pods first and the kernel kills them first; beside " +
			"workloads that declared what they need, these are the ones that disappear.",
		Remediation: "Give the containers CPU and memory requests (and a memory limit), or a LimitRange with defaults.",
		References:  []string{"https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/"},
	}
}

func (c BestEffort) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	type entry struct {
		workload   snapshot.Workload
		bestEffort bool
	}
	byNamespace := map[string][]entry{}
	var namespaces []string
	for _, w := range s.Workloads() {
		if _, seen := byNamespace[w.Ref.Namespace]; !seen {
			namespaces = append(namespaces, w.Ref.Namespace)
		}
		byNamespace[w.Ref.Namespace] = append(byNamespace[w.Ref.Namespace], entry{w, bestEffort(w.Spec, defaultsFor(s, w.Ref.Namespace))})
	}
	var findings []check.Finding
	peaks := peakUsage(s)
	for _, ns := range namespaces {
		entries := byNamespace[ns]
		others := 0
		for _, e := range entries {
			if !e.bestEffort {
				others++
			}
		}
		if others == 0 {
			continue
		}
		for _, e := range entries {
			if !e.bestEffort {
				continue
			}
			f := check.New(meta, fmt.Sprintf("%s runs BestEffort beside %s in namespace %s that set resources: it is evicted first",
				e.workload.Ref.Describe(), check.Plural(others, "workload", "workloads"), ns), e.workload.Ref)
			f.Fix = missingFixes(e.workload.Ref, runningContainers(e.workload.Spec), setting{corev1.ResourceMemory, false}, peaks, check.MetricsServed(s))
			findings = append(findings, f)
		}
	}
	return findings
}

// MemoryOvercommit finds containers whose memory limit is far above their request.
type MemoryOvercommit struct {
	Ratio float64
}

func (c MemoryOvercommit) Meta() check.Meta {
	return check.Meta{
		ID:       "memory-overcommit",
		Title:    "Memory limits are far above requests",
		Category: check.CategoryResources,
		Severity: check.Low,
		Requires: templateKinds(),
		Optional: snapshot.LegacyWorkloadKinds(),
		Description: fmt.Sprintf("Looks for running containers whose memory limit is more than %g times their memory "+
			"request (--memory-overcommit-ratio), after LimitRange defaults.", c.ratio()),
		Why: "The scheduler packs nodes by requests, but the containers may grow to their limits. When several do at " +
			"once the node runs out of memory and the kernel OOM-kills, and the victims are hard to predict.",
		Remediation: "Raise the request toward the real working set, or lower the limit toward the request. Equal " +
			"request and limit (Guaranteed memory) is the predictable choice for anything stateful.",
		References: []string{"https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"},
	}
}

func (c MemoryOvercommit) ratio() float64 {
	if c.Ratio <= 0 {
		return DefaultOptions().MemoryOvercommitRatio
	}
	return c.Ratio
}

func (c MemoryOvercommit) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, w := range s.Workloads() {
		defaults := defaultsFor(s, w.Ref.Namespace)
		var evidence, fixes []string
		for _, ctr := range runningContainers(w.Spec) {
			limit, hasLimit := defaults.effectiveLimit(ctr, corev1.ResourceMemory)
			request, hasRequest := defaults.effectiveRequest(ctr, corev1.ResourceMemory)
			if !hasLimit || !hasRequest || request.IsZero() {
				continue
			}
			ratio := float64(limit.Value()) / float64(request.Value())
			if ratio <= c.ratio() {
				continue
			}
			evidence = append(evidence, fmt.Sprintf("container %s: memory request %s, limit %s (%.1fx)", ctr.Name, request.String(), limit.String(), ratio))
			if settable(w.Ref) {
				fixes = append(fixes, fmt.Sprintf("kubectl set resources %s -c %s --requests=memory=%s",
					check.InNamespace(w.Ref), check.Quote(ctr.Name), mebibytes(int64(float64(limit.Value())/c.ratio()))))
			}
		}
		if len(evidence) == 0 {
			continue
		}
		f := check.New(meta, fmt.Sprintf("%s: %s a memory limit more than %gx the request", w.Ref.Describe(),
			check.Plural(len(evidence), "container has", "containers have"), c.ratio()), w.Ref)
		f.Evidence = evidence
		f.Fix = fixes
		findings = append(findings, f)
	}
	return findings
}
