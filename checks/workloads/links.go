package workloads

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The causal links this family declares: what a workload's failing pods, a NotReady node and a
// node under pressure explain. The engine groups each cause's finding with the findings they
// reach into one incident, the cause first.

// ControllerChecks are the checks that report a workload short of replicas, the usual symptom
// of a cause elsewhere; other families' links name them.
func ControllerChecks() []string {
	return []string{"deployment-unavailable", "statefulset-unavailable", "daemonset-unavailable"}
}

// PodFailureLink: a workload's pods that crash, cannot pull or cannot be scheduled are why it
// is short of replicas (its stuck rollout included); the same workload, so the same objects.
func PodFailureLink() check.Link {
	return check.SameObjects("the workload whose pods fail", ControllerChecks()...)
}

// nodeNotReadyLink: a workload is down because of the node when all its replicas ran there.
func nodeNotReadyLink() check.Link {
	return check.Link{
		Explains: append(ControllerChecks(), "pod-crashloop"),
		How:      "the workloads whose scheduled pods all ran on these nodes",
		Reach:    onlyOnNodes,
	}
}

// onlyOnNodes is the workloads with a pod on the finding's nodes and none scheduled elsewhere.
func onlyOnNodes(s *snapshot.Snapshot, f check.Finding) []snapshot.Ref {
	nodes := check.NodesOf(f)
	elsewhere := map[snapshot.Ref]bool{}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if pod.Spec.NodeName != "" && !nodes[pod.Spec.NodeName] {
			elsewhere[s.TopOwner(pod)] = true
		}
	}
	return check.OwnersOfPods(s, func(pod *corev1.Pod) bool {
		return nodes[pod.Spec.NodeName] && !elsewhere[s.TopOwner(pod)]
	})
}

// nodePressureLink: a node under pressure evicts pods and, under memory pressure, the kernel
// kills their containers: the workloads of the pods on it that were evicted or restarted. The
// replacements of evicted pods may find no room, the pressured node being tainted.
func nodePressureLink() check.Link {
	return check.Link{
		Explains: append(ControllerChecks(), "pod-crashloop", "container-oomkilled", "pod-unschedulable"),
		How:      "the workloads whose pods on these nodes were evicted or restarted",
		Reach: func(s *snapshot.Snapshot, f check.Finding) []snapshot.Ref {
			nodes := check.NodesOf(f)
			return check.OwnersOfPods(s, func(pod *corev1.Pod) bool {
				return nodes[pod.Spec.NodeName] && (evicted(pod) || restarted(pod))
			})
		},
	}
}

func evicted(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed && pod.Status.Reason == "Evicted"
}

func restarted(pod *corev1.Pod) bool {
	for _, cs := range snapshot.ContainerStatuses(pod) {
		if cs.RestartCount > 0 {
			return true
		}
	}
	return false
}

// trafficChecks are the checks that report a Service, Ingress or HTTPRoute serving nothing.
func trafficChecks() []string {
	return []string{"service-no-ready-endpoints", "ingress-backend-broken", "httproute-backend-broken"}
}

// servedLink: a workload with no ready replica leaves the Services whose endpoints its pods are
// without any, and the Ingresses and HTTPRoutes routing to them serving nothing.
func servedLink() check.Link {
	return check.Link{
		Explains: trafficChecks(),
		How:      "the Services whose endpoints its pods are, and the Ingresses and HTTPRoutes routing to them",
		Reach:    servedBy,
	}
}

// servedBy is the workloads of the finding, the Services that select their pods, and the
// Ingresses and HTTPRoutes naming those Services. The snapshot is indexed once, matching each
// Service's selector against its namespace's pods as the traffic checks do, so that each
// finding costs only what it reaches.
func servedBy(s *snapshot.Snapshot, f check.Finding) []snapshot.Ref {
	idx := snapshot.Derived(s, servedKey{}, func() *served { return indexServed(s) })
	reach := slices.Clone(f.Objects)
	for _, owner := range f.Objects {
		for _, svc := range idx.services[owner] {
			reach = append(reach, svc)
			reach = append(reach, idx.routes[svc.Namespace+"/"+svc.Name]...)
		}
	}
	return reach
}

type servedKey struct{}

// served indexes what servedBy reads: the Services that select each workload's pods, and the
// Ingresses and HTTPRoutes by the Services they route to.
type served struct {
	services map[snapshot.Ref][]snapshot.Ref
	routes   map[string][]snapshot.Ref // by namespace/name of a Service
}

func indexServed(s *snapshot.Snapshot) *served {
	idx := &served{services: map[snapshot.Ref][]snapshot.Ref{}, routes: map[string][]snapshot.Ref{}}
	pods := map[string][]*corev1.Pod{}
	for i := range s.Pods {
		pods[s.Pods[i].Namespace] = append(pods[s.Pods[i].Namespace], &s.Pods[i])
	}
	for i := range s.Services {
		svc := &s.Services[i]
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		selector := labels.SelectorFromSet(svc.Spec.Selector)
		ref := snapshot.RefTo(snapshot.KindServices, svc.Namespace, svc.Name)
		for _, pod := range pods[svc.Namespace] {
			if !selector.Matches(labels.Set(pod.Labels)) {
				continue
			}
			if owner := s.TopOwner(pod); !slices.Contains(idx.services[owner], ref) {
				idx.services[owner] = append(idx.services[owner], ref)
			}
		}
	}
	route := func(service string, ref snapshot.Ref) {
		if !slices.Contains(idx.routes[service], ref) {
			idx.routes[service] = append(idx.routes[service], ref)
		}
	}
	for i := range s.Ingresses {
		ing := &s.Ingresses[i]
		ref := snapshot.RefTo(snapshot.KindIngresses, ing.Namespace, ing.Name)
		backends := []*networkingv1.IngressBackend{ing.Spec.DefaultBackend}
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP != nil {
				for j := range rule.HTTP.Paths {
					backends = append(backends, &rule.HTTP.Paths[j].Backend)
				}
			}
		}
		for _, b := range backends {
			if b != nil && b.Service != nil {
				route(ing.Namespace+"/"+b.Service.Name, ref)
			}
		}
	}
	for _, r := range s.HTTPRoutes {
		ref := snapshot.RefTo(snapshot.KindHTTPRoutes, r.Namespace, r.Name)
		for _, rule := range r.Rules {
			for _, b := range rule.BackendRefs {
				if b.Kind != nil && *b.Kind != "Service" {
					continue
				}
				namespace := r.Namespace
				if b.Namespace != nil {
					namespace = *b.Namespace
				}
				route(namespace+"/"+b.Name, ref)
			}
		}
	}
	return idx
}
