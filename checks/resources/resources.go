// Package resources finds wrong or missing CPU and memory settings: what is OOM-killing now,
// what will (usage near the limit, overcommitted nodes), and the settings that let one workload
// starve its neighbours.
package resources

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const mebibyte = 1 << 20

// Options are the thresholds of this family.
type Options struct {
	// MemoryOvercommitRatio is how far a memory limit may exceed its request before
	// memory-overcommit reports it.
	MemoryOvercommitRatio float64
}

// DefaultOptions are the thresholds used unless the user sets others.
func DefaultOptions() Options { return Options{MemoryOvercommitRatio: 2} }

// templateKinds are what the spec checks read: every workload's pod template, bare pods, and
// LimitRanges for the defaults the API server fills in.
func templateKinds() []snapshot.Kind {
	return append(snapshot.WorkloadKinds(), snapshot.KindLimitRanges)
}

// runningContainers are the containers that run for the pod's life: regular containers and
// sidecars (init containers with restartPolicy Always). Ordinary init containers run one at a
// time before them and ephemeral containers cannot have resources, so neither is judged.
func runningContainers(spec *corev1.PodSpec) []*corev1.Container {
	// Pointers into the spec: containers are large, and every check of the family walks them.
	out := make([]*corev1.Container, 0, len(spec.Containers)+len(spec.InitContainers))
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	for i := range spec.InitContainers {
		if c := &spec.InitContainers[i]; c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, c)
		}
	}
	return out
}

// limitDefaults are what the namespace's LimitRanges fill into containers at admission.
type limitDefaults struct {
	limit   corev1.ResourceList
	request corev1.ResourceList
}

// defaultsFor applies the API server's defaulting of LimitRange items, so manifests are judged
// as the cluster would store them: a missing default limit becomes max, a missing default
// request becomes the default limit, or else min.
func defaultsFor(s *snapshot.Snapshot, namespace string) limitDefaults {
	d := limitDefaults{limit: corev1.ResourceList{}, request: corev1.ResourceList{}}
	for i := range s.LimitRanges {
		lr := &s.LimitRanges[i]
		if lr.Namespace != namespace {
			continue
		}
		for _, item := range lr.Spec.Limits {
			if item.Type != corev1.LimitTypeContainer {
				continue
			}
			limit := corev1.ResourceList{}
			for name, q := range item.Max {
				limit[name] = q
			}
			for name, q := range item.Default {
				limit[name] = q
			}
			request := corev1.ResourceList{}
			for name, q := range item.Min {
				request[name] = q
			}
			for name, q := range limit {
				request[name] = q
			}
			for name, q := range item.DefaultRequest {
				request[name] = q
			}
			for name, q := range limit {
				if positive(q) {
					d.limit[name] = q
				}
			}
			for name, q := range request {
				if positive(q) {
					d.request[name] = q
				}
			}
		}
	}
	return d
}

// positive tells a real setting from an absent one: the kubelet and the QoS rules treat a zero
// quantity as no setting at all.
func positive(q resource.Quantity) bool { return q.Sign() > 0 }

func lookup(list corev1.ResourceList, name corev1.ResourceName) (resource.Quantity, bool) {
	q, ok := list[name]
	return q, ok && positive(q)
}

// effectiveLimit is the container's limit for a resource after LimitRange defaulting.
func (d limitDefaults) effectiveLimit(c *corev1.Container, name corev1.ResourceName) (resource.Quantity, bool) {
	if q, ok := lookup(c.Resources.Limits, name); ok {
		return q, true
	}
	return lookup(d.limit, name)
}

// effectiveRequest is the container's request after defaulting: its own, else its limit (the
// API server copies a limit into a missing request), else the LimitRange's default.
func (d limitDefaults) effectiveRequest(c *corev1.Container, name corev1.ResourceName) (resource.Quantity, bool) {
	if q, ok := lookup(c.Resources.Requests, name); ok {
		return q, true
	}
	if q, ok := lookup(c.Resources.Limits, name); ok {
		return q, true
	}
	return lookup(d.request, name)
}

// podLevel reports whether the pod spec sets the resource for the whole pod (spec.resources),
// which bounds every container that sets none of its own.
func podLevel(spec *corev1.PodSpec, name corev1.ResourceName, limit bool) bool {
	if spec.Resources == nil {
		return false
	}
	if _, ok := lookup(spec.Resources.Limits, name); ok {
		return true
	}
	_, ok := lookup(spec.Resources.Requests, name)
	return ok && !limit
}

// bestEffort reports whether the pod would get the BestEffort QoS class: no CPU or memory
// request or limit on any container, init containers included, nor on the pod, after defaulting.
func bestEffort(spec *corev1.PodSpec, d limitDefaults) bool {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if podLevel(spec, name, false) {
			return false
		}
	}
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := d.effectiveRequest(&list[i], name); ok {
					return false
				}
				if _, ok := d.effectiveLimit(&list[i], name); ok {
					return false
				}
			}
		}
	}
	return true
}

func mebibytes(bytes int64) string {
	return fmt.Sprintf("%dMi", (bytes+mebibyte-1)/mebibyte)
}

// settable reports whether `kubectl set resources` can change the workload's template; a Job's
// template is immutable and a bare pod has none.
func settable(r snapshot.Ref) bool {
	switch r.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "CronJob":
		return true
	}
	return false
}

// Checks is every check of the family, configured by opts, as the catalog lists it.
func Checks(opts Options) []check.Check {
	return []check.Check{
		OOMKilled{}, MemoryLimitMissing{}, MemoryRequestMissing{}, CPURequestMissing{}, BestEffort{},
		MemoryOvercommit{Ratio: opts.MemoryOvercommitRatio}, UsageNearLimit{}, NodeMemoryOvercommit{},
		PressureWithoutLimits{}, NamespaceWithoutLimits{},
	}
}
