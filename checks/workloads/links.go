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
// kills their containers: the workloads of the pods on it that were evicted or restarted.
func nodePressureLink() check.Link {
	return check.Link{
		Explains: append(ControllerChecks(), "pod-crashloop", "container-oomkilled"),
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

// servedBy is the workloads of the finding, the Services in their namespace that select their
// pods, and the Ingresses and HTTPRoutes naming those Services.
func servedBy(s *snapshot.Snapshot, f check.Finding) []snapshot.Ref {
	workloads := map[snapshot.Ref]bool{}
	for _, o := range f.Objects {
		workloads[o] = true
	}
	podLabels := map[string][]labels.Set{} // by namespace, the labels of the workloads' pods
	for i := range s.Pods {
		pod := &s.Pods[i]
		if workloads[s.TopOwner(pod)] {
			podLabels[pod.Namespace] = append(podLabels[pod.Namespace], pod.Labels)
		}
	}
	reach := slices.Clone(f.Objects)
	services := map[string]bool{} // namespace/name
	for i := range s.Services {
		svc := &s.Services[i]
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		selector := labels.SelectorFromSet(svc.Spec.Selector)
		if slices.ContainsFunc(podLabels[svc.Namespace], func(l labels.Set) bool { return selector.Matches(l) }) {
			services[svc.Namespace+"/"+svc.Name] = true
			reach = append(reach, snapshot.RefTo(snapshot.KindServices, svc.Namespace, svc.Name))
		}
	}
	for i := range s.Ingresses {
		ing := &s.Ingresses[i]
		var backends []*networkingv1.IngressBackend
		if ing.Spec.DefaultBackend != nil {
			backends = append(backends, ing.Spec.DefaultBackend)
		}
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP != nil {
				for j := range rule.HTTP.Paths {
					backends = append(backends, &rule.HTTP.Paths[j].Backend)
				}
			}
		}
		if slices.ContainsFunc(backends, func(b *networkingv1.IngressBackend) bool {
			return b.Service != nil && services[ing.Namespace+"/"+b.Service.Name]
		}) {
			reach = append(reach, snapshot.RefTo(snapshot.KindIngresses, ing.Namespace, ing.Name))
		}
	}
	for _, route := range s.HTTPRoutes {
		for _, rule := range route.Rules {
			if slices.ContainsFunc(rule.BackendRefs, func(b snapshot.HTTPBackendRef) bool {
				namespace := route.Namespace
				if b.Namespace != nil {
					namespace = *b.Namespace
				}
				return (b.Kind == nil || *b.Kind == "Service") && services[namespace+"/"+b.Name]
			}) {
				reach = append(reach, snapshot.RefTo(snapshot.KindHTTPRoutes, route.Namespace, route.Name))
				break
			}
		}
	}
	return reach
}
