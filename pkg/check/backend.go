package check

import (
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Backend is what stands behind a Service the API server calls (a webhook's, an aggregated
// API's): whether it can answer, why not, and the pods and workloads it selects.
type Backend struct {
	Namespace, Name string
	// Service is nil when it does not exist.
	Service *corev1.Service
	// Down is true when the Service cannot answer: missing, without the port, without a
	// ready endpoint. An ExternalName Service is never judged down.
	Down bool
	// Evidence says why it is down (first line), then what stands behind it.
	Evidence []string
	// Since is when it went down, as far as the cluster records it; zero when unknown.
	Since     time.Time
	Pods      []*corev1.Pod
	Workloads []snapshot.Ref
}

// ServiceBackend judges the Service namespace/name as the API server would call it on port.
func ServiceBackend(s *snapshot.Snapshot, namespace, name string, port int32) Backend {
	b := LookUpBackend(s, namespace, name)
	b.judge(s, port)
	return b
}

// LookUpBackend finds the Service and what it selects, without judging it.
func LookUpBackend(s *snapshot.Snapshot, namespace, name string) Backend {
	b := Backend{Namespace: namespace, Name: name}
	for i := range s.Services {
		if svc := &s.Services[i]; svc.Namespace == namespace && svc.Name == name {
			b.Service = svc
		}
	}
	b.findPods(s)
	return b
}

// findPods finds the live pods the Service selects and the workloads that own them; for
// manifests, which hold no pods, the workloads whose pod template the Service selects.
func (b *Backend) findPods(s *snapshot.Snapshot) {
	if b.Service == nil || len(b.Service.Spec.Selector) == 0 {
		return
	}
	selector := labels.SelectorFromSet(b.Service.Spec.Selector)
	owners := map[snapshot.Ref]bool{}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if pod.Namespace == b.Namespace && snapshot.IsLive(pod) && selector.Matches(labels.Set(pod.Labels)) {
			b.Pods = append(b.Pods, pod)
			owners[s.TopOwner(pod)] = true
		}
	}
	for _, w := range s.Workloads() {
		if w.Ref.Namespace == b.Namespace && (owners[w.Ref] || selector.Matches(labels.Set(w.Labels))) {
			b.Workloads = append(b.Workloads, w.Ref)
		}
	}
}

func (b *Backend) judge(s *snapshot.Snapshot, port int32) {
	svc := fmt.Sprintf("Service %s/%s", b.Namespace, b.Name)
	if b.Service == nil {
		b.Down, b.Evidence = true, []string{svc + " does not exist"}
		return
	}
	if b.Service.Spec.Type == corev1.ServiceTypeExternalName {
		// The API server calls the external name; nothing in the cluster tells whether it answers.
		return
	}
	ports := make([]string, 0, len(b.Service.Spec.Ports))
	portName, hasPort := "", false
	for _, p := range b.Service.Spec.Ports {
		ports = append(ports, fmt.Sprint(p.Port))
		if p.Port == port {
			portName, hasPort = p.Name, true
		}
	}
	if !hasPort {
		b.Down, b.Evidence = true, []string{fmt.Sprintf("%s has no port %d (it serves %s)", svc, port, strings.Join(ports, ", "))}
		return
	}
	ready, notReady, sliceCount := endpointsOf(s, b.Service, portName)
	if ready > 0 {
		return
	}
	b.Down = true
	reason := svc + " has no EndpointSlices"
	switch {
	case notReady > 0:
		reason = fmt.Sprintf("%s has no ready endpoints (%s not ready)", svc, Plural(notReady, "endpoint", "endpoints"))
	case sliceCount > 0:
		reason = fmt.Sprintf("%s has no endpoints (%s, empty)", svc, Plural(sliceCount, "EndpointSlice", "EndpointSlices"))
	}
	b.Evidence = []string{reason}
	if len(b.Service.Spec.Selector) == 0 {
		b.Evidence = append(b.Evidence, svc+" has no selector: its endpoints are managed by hand or by an operator")
		return
	}
	if len(b.Pods) == 0 {
		b.Evidence = append(b.Evidence, fmt.Sprintf("no running pod in %s matches the Service's selector %s", b.Namespace, b.selector()))
	}
	for _, pod := range b.Pods {
		b.Evidence = append(b.Evidence, podState(pod))
		if t := snapshot.NotReadySince(pod); !t.IsZero() && (b.Since.IsZero() || t.Before(b.Since)) {
			b.Since = t
		}
	}
	for _, w := range b.Workloads {
		line, t := workloadState(s, w)
		b.Evidence = append(b.Evidence, line)
		if !t.IsZero() && (b.Since.IsZero() || t.Before(b.Since)) {
			b.Since = t
		}
	}
}

func (b *Backend) selector() string {
	return metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: b.Service.Spec.Selector})
}

// Fix is how to look at and bring back what stands behind the Service.
func (b *Backend) Fix() []string {
	var fix []string
	switch {
	case b.Service == nil:
		fix = append(fix, Comment(fmt.Sprintf("Service %s/%s is missing: reinstall or repair what deploys it (its chart or operator)", b.Namespace, b.Name)))
	case len(b.Workloads) == 0:
		fix = append(fix, fmt.Sprintf("kubectl -n %s get endpointslices,pods -l %s", Quote(b.Namespace), Quote(b.selector())))
	}
	for _, w := range b.Workloads {
		fix = append(fix, "kubectl describe "+InNamespace(w))
		if w.Kind == "Deployment" || w.Kind == "StatefulSet" {
			fix = append(fix, fmt.Sprintf("kubectl scale %s --replicas=1  # if it was scaled to zero", InNamespace(w)))
		}
	}
	return fix
}

// endpointsOf counts the ready and not-ready endpoints of the Service's EndpointSlices that
// serve portName, as the API server's service resolver would pick them.
func endpointsOf(s *snapshot.Snapshot, svc *corev1.Service, portName string) (ready, notReady, count int) {
	for i := range s.EndpointSlices {
		slice := &s.EndpointSlices[i]
		if slice.Namespace != svc.Namespace || slice.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		count++
		if len(slice.Ports) > 0 && !slices.ContainsFunc(slice.Ports, func(p discoveryv1.EndpointPort) bool {
			return ptr.Deref(p.Name, "") == portName // an unnamed port is the Service's single port, ""
		}) {
			continue
		}
		for _, e := range slice.Endpoints {
			// A nil ready condition means ready (discovery.k8s.io/v1).
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				ready++
			} else {
				notReady++
			}
		}
	}
	return ready, notReady, count
}

func podState(pod *corev1.Pod) string {
	var states []string
	for _, cs := range snapshot.ContainerStatuses(pod) {
		switch {
		case cs.State.Waiting != nil:
			states = append(states, fmt.Sprintf("%s waiting (%s)", cs.Name, cs.State.Waiting.Reason))
		case cs.State.Terminated != nil:
			states = append(states, fmt.Sprintf("%s terminated (%s)", cs.Name, cs.State.Terminated.Reason))
		case !cs.Ready:
			states = append(states, cs.Name+" not ready")
		}
	}
	state := string(pod.Status.Phase)
	if len(states) > 0 {
		state += ", " + strings.Join(states, ", ")
	}
	return fmt.Sprintf("backend pod %s/%s: %s", pod.Namespace, pod.Name, state)
}

// workloadState describes a backend controller's replicas, and when it became unavailable.
func workloadState(s *snapshot.Snapshot, ref snapshot.Ref) (string, time.Time) {
	switch ref.Kind {
	case "Deployment":
		for i := range s.Deployments {
			d := &s.Deployments[i]
			if d.Namespace != ref.Namespace || d.Name != ref.Name {
				continue
			}
			var since time.Time
			for _, cond := range d.Status.Conditions {
				if cond.Type == appsv1.DeploymentAvailable && cond.Status != corev1.ConditionTrue {
					since = cond.LastTransitionTime.Time
				}
			}
			return fmt.Sprintf("backend %s: %d of %d replicas available", ref.Describe(), d.Status.AvailableReplicas, replicas(d.Spec.Replicas)), since
		}
	case "StatefulSet":
		for i := range s.StatefulSets {
			st := &s.StatefulSets[i]
			if st.Namespace == ref.Namespace && st.Name == ref.Name {
				return fmt.Sprintf("backend %s: %d of %d replicas ready", ref.Describe(), st.Status.ReadyReplicas, replicas(st.Spec.Replicas)), time.Time{}
			}
		}
	case "DaemonSet":
		for i := range s.DaemonSets {
			ds := &s.DaemonSets[i]
			if ds.Namespace == ref.Namespace && ds.Name == ref.Name {
				return fmt.Sprintf("backend %s: %d of %d pods available", ref.Describe(), ds.Status.NumberAvailable, ds.Status.DesiredNumberScheduled), time.Time{}
			}
		}
	}
	return "backend " + ref.Describe(), time.Time{}
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
