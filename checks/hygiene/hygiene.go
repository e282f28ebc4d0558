// Package hygiene judges how workloads are put together: probes that let traffic in too early or
// restart pods for a slow dependency, images that are not what was reviewed or that a registry's
// pull-rate limit can stop, specs the API server refuses, and replicas that drains cannot move
// or that one node's failure takes down together. It judges live clusters and manifests alike.
package hygiene

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const (
	referenceProbes     = "https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/"
	referenceImages     = "https://kubernetes.io/docs/concepts/containers/images/"
	referenceDisruption = "https://kubernetes.io/docs/tasks/run-application/configure-pdb/"
	referenceSpread     = "https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/"
	referenceLabels     = "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)

// Checks is every check of the family, as the catalog lists it.
func Checks() []check.Check {
	return []check.Check{
		ReadinessMissing{}, LivenessIsReadiness{}, LivenessKillsStartup{},
		MutableImageTag{}, PullRateLimited{},
		SelectorRefused{}, ContainersRefused{}, PortsAmbiguous{},
		DisruptionBlocked{}, ReplicasNotSpread{},
	}
}

func workloadKinds(more ...snapshot.Kind) []snapshot.Kind {
	return append(snapshot.WorkloadKinds(), more...)
}

func optionalKinds(more ...snapshot.Kind) []snapshot.Kind {
	return append(snapshot.LegacyWorkloadKinds(), more...)
}

// container is one container of a pod spec with the path the API server names it by.
type container struct {
	c    *corev1.Container
	path string // spec.containers[0]
	init bool
}

// containersOf lists init containers, then containers, as the API server validates them.
func containersOf(spec *corev1.PodSpec, prefix string) []container {
	out := make([]container, 0, len(spec.InitContainers)+len(spec.Containers))
	for i := range spec.InitContainers {
		out = append(out, container{&spec.InitContainers[i], fmt.Sprintf("%s.initContainers[%d]", prefix, i), true})
	}
	for i := range spec.Containers {
		out = append(out, container{&spec.Containers[i], fmt.Sprintf("%s.containers[%d]", prefix, i), false})
	}
	return out
}

// specPath is where a workload's pod spec sits in its object, as the API server names fields.
func specPath(ref snapshot.Ref) string {
	switch ref.Kind {
	case "Pod":
		return "spec"
	case "CronJob":
		return "spec.jobTemplate.spec.template.spec"
	}
	return "spec.template.spec"
}

// serving is what runs until the pod stops: the containers, and init containers that restart
// (sidecars), which also gate the pod's readiness.
func (c container) serving() bool {
	return !c.init || (c.c.RestartPolicy != nil && *c.c.RestartPolicy == corev1.ContainerRestartPolicyAlways)
}

// servicesKey indexes the Services that select pods, by namespace, once per snapshot.
type servicesKey struct{}

func selectingServices(s *snapshot.Snapshot) map[string][]*corev1.Service {
	return snapshot.Derived(s, servicesKey{}, func() map[string][]*corev1.Service {
		out := map[string][]*corev1.Service{}
		for i := range s.Services {
			svc := &s.Services[i]
			// A Service without a selector has its endpoints managed by hand; ExternalName has none.
			if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
				continue
			}
			out[svc.Namespace] = append(out[svc.Namespace], svc)
		}
		return out
	})
}

// servicesOf lists the Services whose selector matches w's pods.
func servicesOf(s *snapshot.Snapshot, w snapshot.Workload) []*corev1.Service {
	var out []*corev1.Service
	for _, svc := range selectingServices(s)[w.Ref.Namespace] {
		if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(w.Labels)) {
			out = append(out, svc)
		}
	}
	return out
}

// describeMap reads a label map in the order kubectl shows it: k=v,k2=v2, keys sorted.
func describeMap(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	return labels.Set(m).String()
}

// names lists refs as one readable string, sorted.
func names(refs []snapshot.Ref) string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Describe()
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// location says where a manifest defined ref, when it came from a file: "deploy.yaml:12: ".
func location(s *snapshot.Snapshot, ref snapshot.Ref) string {
	if o, ok := s.Origins[ref]; ok {
		return o.String() + ": "
	}
	return ""
}
