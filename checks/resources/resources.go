// Package resources finds wrong or missing CPU and memory settings: what is OOM-killing now,
// what will (usage near the limit, overcommitted nodes), and the settings that let one workload
// starve its neighbours.
package resources

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

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
	return []snapshot.Kind{
		snapshot.KindDeployments, snapshot.KindStatefulSets, snapshot.KindDaemonSets, snapshot.KindCronJobs,
		snapshot.KindJobs, snapshot.KindReplicaSets, snapshot.KindPods, snapshot.KindLimitRanges,
	}
}

// runningContainers are the containers that run for the pod's life: regular containers and
// sidecars (init containers with restartPolicy Always). Ordinary init containers run one at a
// time before them and ephemeral containers cannot have resources, so neither is judged.
func runningContainers(spec *corev1.PodSpec) []corev1.Container {
	out := append([]corev1.Container{}, spec.Containers...)
	for _, c := range spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, c)
		}
	}
	return out
}

// limitDefaults are what the namespace's LimitRanges fill into containers at admission.
type limitDefaults struct {
	limit   corev1.ResourceList
	request corev1.ResourceList
	source  map[corev1.ResourceName]string
}

func defaultsFor(s *snapshot.Snapshot, namespace string) limitDefaults {
	d := limitDefaults{limit: corev1.ResourceList{}, request: corev1.ResourceList{}, source: map[corev1.ResourceName]string{}}
	for i := range s.LimitRanges {
		lr := &s.LimitRanges[i]
		if lr.Namespace != namespace {
			continue
		}
		for _, item := range lr.Spec.Limits {
			if item.Type != corev1.LimitTypeContainer {
				continue
			}
			for name, q := range item.Default {
				d.limit[name] = q
				d.source[name] = "LimitRange " + lr.Name
			}
			for name, q := range item.DefaultRequest {
				d.request[name] = q
			}
			// Without a default request, the API server uses the default limit as the request.
			for name, q := range item.Default {
				if _, ok := item.DefaultRequest[name]; !ok {
					d.request[name] = q
				}
			}
		}
	}
	return d
}

// effectiveLimit is the container's limit for a resource after LimitRange defaulting.
func (d limitDefaults) effectiveLimit(c *corev1.Container, name corev1.ResourceName) (resource.Quantity, bool) {
	if q, ok := c.Resources.Limits[name]; ok {
		return q, true
	}
	q, ok := d.limit[name]
	return q, ok
}

// effectiveRequest is the container's request after defaulting: its own, else its limit (the
// API server copies a limit into a missing request), else the LimitRange's default.
func (d limitDefaults) effectiveRequest(c *corev1.Container, name corev1.ResourceName) (resource.Quantity, bool) {
	if q, ok := c.Resources.Requests[name]; ok {
		return q, true
	}
	if q, ok := c.Resources.Limits[name]; ok {
		return q, true
	}
	q, ok := d.request[name]
	return q, ok
}

// bestEffort reports whether the pod would get the BestEffort QoS class: no CPU or memory
// request or limit on any container, init containers included, after defaulting.
func bestEffort(spec *corev1.PodSpec, d limitDefaults) bool {
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
// template is immutable, a bare pod has none, and kubectl does not set resources on CronJobs.
func settable(r snapshot.Ref) bool {
	switch r.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
