package resources

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// setting is one resource setting a container should carry.
type setting struct {
	resource corev1.ResourceName
	limit    bool // a limit, or else a request
}

func (st setting) String() string {
	kind := "request"
	if st.limit {
		kind = "limit"
	}
	return fmt.Sprintf("%s %s", st.resource, kind)
}

// findMissing reports, per workload, the running containers that lack a setting after
// LimitRange defaulting, unless the pod sets it for all its containers (spec.resources).
func findMissing(s *snapshot.Snapshot, meta check.Meta, st setting) []check.Finding {
	var findings []check.Finding
	peaks := peakUsage(s)
	metrics := check.MetricsServed(s)
	for _, w := range s.Workloads() {
		if podLevel(w.Spec, st.resource, st.limit) {
			continue
		}
		defaults := defaultsFor(s, w.Ref.Namespace)
		var names []string
		var containers []*corev1.Container
		for _, c := range runningContainers(w.Spec) {
			var ok bool
			if st.limit {
				_, ok = defaults.effectiveLimit(c, st.resource)
			} else {
				_, ok = defaults.effectiveRequest(c, st.resource)
			}
			if !ok {
				names = append(names, c.Name)
				containers = append(containers, c)
			}
		}
		if len(names) == 0 {
			continue
		}
		f := check.New(meta, fmt.Sprintf("%s: %s no %s (%s)", w.Ref.Describe(),
			check.Plural(len(names), "container has", "containers have"), st, strings.Join(names, ", ")), w.Ref)
		if s.Source == snapshot.SourceManifests {
			f.Evidence = append(f.Evidence, fmt.Sprintf("no LimitRange in the input sets a default %s for namespace %s; "+
				"if the cluster has one, the API server fills it in", st, w.Ref.Namespace))
		}
		f.Fix = missingFixes(w.Ref, containers, st, peaks, metrics)
		findings = append(findings, f)
	}
	return findings
}

// proposal is a value to set and how it was derived.
type proposal struct {
	value string
	why   string
}

// propose derives a value from measured usage where the metrics API gave one: a request near
// the peak, a memory limit with headroom over the peak and never below the request. Without a
// measurement it names a placeholder and how to fill it in, rather than guess: a limit guessed
// too low is an OOM kill on the next rollout.
func propose(c *corev1.Container, st setting, peak usagePeak, metrics bool) proposal {
	kind := "REQUEST"
	if st.limit {
		kind = "LIMIT"
	}
	placeholder := strings.ToUpper(string(st.resource)) + "_" + kind
	switch {
	case st.resource == corev1.ResourceMemory && peak.memory > 0 && st.limit:
		value := int64(float64(peak.memory) * usageHeadroom)
		if req, ok := lookup(c.Resources.Requests, corev1.ResourceMemory); ok {
			value = max(value, req.Value())
		}
		return proposal{mebibytes(value), fmt.Sprintf("peak usage %s plus 50%%, at least the request", mebibytes(peak.memory))}
	case st.resource == corev1.ResourceMemory && peak.memory > 0:
		return proposal{mebibytes(peak.memory), "the measured working set"}
	case st.resource == corev1.ResourceCPU && peak.cpuMilli > 0:
		return proposal{fmt.Sprintf("%dm", max(peak.cpuMilli, 10)), "the measured usage"}
	}
	return proposal{placeholder, fmt.Sprintf("%s: the container's peak %s plus headroom (%s)", placeholder, st.resource, peakSource(metrics))}
}

// missingFixes proposes the command for workloads kubectl can set resources on, and the YAML to
// add otherwise. metrics says whether kubectl top can show the usage to size a value by.
func missingFixes(ref snapshot.Ref, containers []*corev1.Container, st setting, peaks map[ownerContainer]usagePeak, metrics bool) []string {
	var fixes []string
	for _, c := range containers {
		p := propose(c, st, peaks[ownerContainer{ref, c.Name}], metrics)
		flag, field := "--requests", "requests"
		if st.limit {
			flag, field = "--limits", "limits"
		}
		if settable(ref) {
			fixes = append(fixes, fmt.Sprintf("kubectl set resources %s -c %s %s=%s=%s   # %s",
				check.InNamespace(ref), check.Quote(c.Name), flag, st.resource, p.value, p.why))
		} else {
			fixes = append(fixes, check.Comment(fmt.Sprintf("in the pod spec of %s, container %s (%s):", ref.Describe(), c.Name, p.why))+
				fmt.Sprintf("\nresources:\n  %s:\n    %s: %s", field, st.resource, p.value))
		}
	}
	return fixes
}

// MemoryLimitMissing finds containers that may use all of a node's memory.
type MemoryLimitMissing struct{}

func (MemoryLimitMissing) Meta() check.Meta {
	return check.Meta{
		ID:       "memory-limit-missing",
		Title:    "Containers have no memory limit",
		Category: check.CategoryResources,
		Severity: check.Medium,
		Requires: templateKinds(),
		Optional: append([]snapshot.Kind{snapshot.KindPodMetrics, snapshot.KindReplicaSets}, snapshot.LegacyWorkloadKinds()...),
		Description: "Looks at every workload's pod template (and at bare pods) for running containers and sidecars " +
			"without a memory limit, after the defaults the namespace's LimitRanges fill in, unless the pod sets one " +
			"for all its containers. Ordinary init containers and ephemeral containers are not judged. One finding " +
			"per workload. The proposed limit comes from measured usage (metrics.k8s.io) where available.",
		Why: "A container without a memory limit can grow until the node runs out of memory; the kernel then kills " +
			"processes across the node, and the kubelet evicts neighbours that did nothing wrong.",
		Remediation: "Set a memory limit on each container above its observed peak usage, with headroom: memory cannot " +
			"be throttled, so a limit below what the container needs is an OOM kill. A LimitRange default limit is safe " +
			"only once every container's usage is known.",
		References: []string{
			"https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/",
			"https://kubernetes.io/docs/concepts/policy/limit-range/",
		},
	}
}

func (c MemoryLimitMissing) Run(s *snapshot.Snapshot) []check.Finding {
	return findMissing(s, c.Meta(), setting{corev1.ResourceMemory, true})
}

// MemoryRequestMissing finds containers the scheduler places as if they used no memory.
type MemoryRequestMissing struct{}

func (MemoryRequestMissing) Meta() check.Meta {
	return check.Meta{
		ID:       "memory-request-missing",
		Title:    "Containers have no memory request",
		Category: check.CategoryResources,
		Severity: check.Medium,
		Requires: templateKinds(),
		Optional: append([]snapshot.Kind{snapshot.KindPodMetrics, snapshot.KindReplicaSets}, snapshot.LegacyWorkloadKinds()...),
		Description: "Looks for running containers and sidecars with neither a memory request nor a limit, after " +
			"LimitRange defaults. One finding per workload. A container with a limit but no request is not reported, " +
			"unlike in some other tools: the API server copies the limit into the missing request.",
		Why: "The scheduler places pods by their requests. A container that requests no memory is packed onto nodes " +
			"as if it used none, which overcommits them; under pressure it is among the first evicted.",
		Remediation: "Set a memory request near the container's typical working set (kubectl top pod shows it), or give " +
			"the namespace a LimitRange with a default request.",
		References: []string{"https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#how-pods-with-resource-requests-are-scheduled"},
	}
}

func (c MemoryRequestMissing) Run(s *snapshot.Snapshot) []check.Finding {
	return findMissing(s, c.Meta(), setting{corev1.ResourceMemory, false})
}

// CPURequestMissing finds containers with no CPU share under contention.
type CPURequestMissing struct{}

func (CPURequestMissing) Meta() check.Meta {
	return check.Meta{
		ID:       "cpu-request-missing",
		Title:    "Containers have no CPU request",
		Category: check.CategoryResources,
		Severity: check.Low,
		Requires: templateKinds(),
		Optional: append([]snapshot.Kind{snapshot.KindPodMetrics, snapshot.KindReplicaSets}, snapshot.LegacyWorkloadKinds()...),
		Description: "Looks for running containers and sidecars with neither a CPU request nor a CPU limit, after " +
			"LimitRange defaults (a limit alone is copied into the request by the API server, so it is not reported). " +
			"A missing CPU limit is deliberately not reported: CPU limits throttle a container " +
			"even when the node has idle CPU, which causes latency incidents of their own; a request is what " +
			"guarantees a share.",
		Why: "Without a CPU request a container gets the smallest share of CPU when the node is busy, and the " +
			"scheduler does not account for it, so a busy neighbour can starve it.",
		Remediation: "Set a CPU request near the container's typical usage. Prefer no CPU limit unless you need hard " +
			"isolation.",
		References: []string{"https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#how-pods-with-resource-limits-are-run"},
	}
}

func (c CPURequestMissing) Run(s *snapshot.Snapshot) []check.Finding {
	return findMissing(s, c.Meta(), setting{corev1.ResourceCPU, false})
}
