// Package traffic follows the path a request takes into the cluster, the way an on-call engineer
// follows it by hand: Ingress -> Service -> EndpointSlices -> pods -> readiness. Each check
// reports the first hop that is broken and why.
package traffic

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Checks is the family's list, in the catalog's order.
func Checks() []check.Check {
	return []check.Check{IngressBackend{}, HTTPRouteBackend{}, SelectorNoMatch{}, NoReadyEndpoints{}, TargetPortMissing{}, LocalTrafficNodes{}}
}

// member is what a Service selects: a live pod, or with -f a workload's pod template.
type member struct {
	owner  snapshot.Ref
	labels map[string]string
	spec   *corev1.PodSpec
	pod    *corev1.Pod // nil for a template
}

type nsName struct{ namespace, name string }

// model indexes what every traffic check reads, once per snapshot.
type model struct {
	live     bool
	services map[nsName]*corev1.Service
	// members are the live pods (on a cluster) or the workloads' templates (manifests) of each
	// namespace: what a Service selector can match.
	members map[string][]member
	// byLabel indexes each namespace's members by label ("app=web"), so a selector looks only at
	// the members that carry one of its labels rather than at the whole namespace.
	byLabel map[string]map[string][]int
	// selection is what each judged Service selects, computed once.
	selection map[*corev1.Service][]member
	slices    map[nsName][]*discoveryv1.EndpointSlice
	// templates are, on a cluster, the workloads' templates by namespace: what a selector that
	// matches no pod may still match (a Deployment scaled to zero, a CronJob between runs).
	templates map[string][]snapshot.Workload
	// judged are the Services the checks follow (see judged), each with the first broken hop
	// behind it over all its ports.
	judged []tracedService
}

type tracedService struct {
	svc *corev1.Service
	hop hop
}

type modelKey struct{}

func modelOf(s *snapshot.Snapshot) *model {
	return snapshot.Derived(s, modelKey{}, func() *model { return newModel(s) })
}

func newModel(s *snapshot.Snapshot) *model {
	m := &model{
		live:     s.Source != snapshot.SourceManifests,
		services: make(map[nsName]*corev1.Service, len(s.Services)),
		members:  map[string][]member{},
		slices:   map[nsName][]*discoveryv1.EndpointSlice{},
	}
	for i := range s.Services {
		svc := &s.Services[i]
		m.services[nsName{svc.Namespace, svc.Name}] = svc
	}
	if m.live {
		for i := range s.Pods {
			pod := &s.Pods[i]
			if snapshot.IsLive(pod) {
				m.members[pod.Namespace] = append(m.members[pod.Namespace],
					member{owner: s.TopOwner(pod), labels: pod.Labels, spec: &pod.Spec, pod: pod})
			}
		}
	}
	m.templates = map[string][]snapshot.Workload{}
	for _, w := range s.Workloads() {
		if m.live {
			m.templates[w.Ref.Namespace] = append(m.templates[w.Ref.Namespace], w)
		} else {
			m.members[w.Ref.Namespace] = append(m.members[w.Ref.Namespace], member{owner: w.Ref, labels: w.Labels, spec: w.Spec})
		}
	}
	m.byLabel = map[string]map[string][]int{}
	for ns, members := range m.members {
		index := map[string][]int{}
		for i, mb := range members {
			for k, v := range mb.labels {
				index[k+"="+v] = append(index[k+"="+v], i)
			}
		}
		m.byLabel[ns] = index
	}
	for i := range s.EndpointSlices {
		slice := &s.EndpointSlices[i]
		if name := slice.Labels[discoveryv1.LabelServiceName]; name != "" {
			key := nsName{slice.Namespace, name}
			m.slices[key] = append(m.slices[key], slice)
		}
	}
	m.selection = map[*corev1.Service][]member{}
	for i := range s.Services {
		if svc := &s.Services[i]; judged(svc) {
			m.selection[svc] = m.match(svc)
			m.judged = append(m.judged, tracedService{svc, m.trace(s, svc, nil)})
		}
	}
	return m
}

// judged tells the Services the traffic checks follow: those with a selector (the others'
// endpoints are managed by hand or by a controller this tool does not know), not ExternalName,
// and not the cluster DNS Service, which the dns family judges.
func judged(svc *corev1.Service) bool {
	return len(svc.Spec.Selector) > 0 && svc.Spec.Type != corev1.ServiceTypeExternalName && !isClusterDNSService(svc)
}

// isClusterDNSService recognises the cluster DNS Service by its selector, with the labels
// snapshot.IsClusterDNSPod knows DNS pods by.
func isClusterDNSService(svc *corev1.Service) bool {
	if !slices.Contains(snapshot.ClusterDNSNamespaces(), svc.Namespace) {
		return false
	}
	probe := &corev1.Pod{}
	probe.Namespace, probe.Labels = svc.Namespace, svc.Spec.Selector
	return snapshot.IsClusterDNSPod(probe)
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// selected lists what svc's selector matches.
func (m *model) selected(svc *corev1.Service) []member {
	if members, ok := m.selection[svc]; ok {
		return members
	}
	return m.match(svc)
}

// match looks for svc's selector among the members that carry its rarest label.
func (m *model) match(svc *corev1.Service) []member {
	index := m.byLabel[svc.Namespace]
	var candidates []int
	first := true
	for k, v := range svc.Spec.Selector {
		if bucket := index[k+"="+v]; first || len(bucket) < len(candidates) {
			candidates, first = bucket, false
		}
	}
	members := m.members[svc.Namespace]
	var out []member
	for _, i := range candidates {
		if selects(svc.Spec.Selector, members[i].labels) {
			out = append(out, members[i])
		}
	}
	return out
}

// nearMiss is a pod or template that matches every label of a selector but one.
type nearMiss struct {
	owner snapshot.Ref
	key   string
	// have is the member's value of key; absent when it has no such label.
	have   string
	absent bool
	want   string
}

func (n nearMiss) String() string {
	if n.absent {
		return fmt.Sprintf("%s has no label %s (the selector wants %s=%s)", n.owner.Describe(), n.key, n.key, n.want)
	}
	return fmt.Sprintf("%s has %s=%s, the selector wants %s=%s", n.owner.Describe(), n.key, n.have, n.key, n.want)
}

// nearest finds the members that differ from svc's selector by exactly one label, one for each
// owner, sorted by owner: the classic relabel of a template that its Service did not follow.
func (m *model) nearest(svc *corev1.Service) []nearMiss {
	seen := map[snapshot.Ref]bool{}
	var out []nearMiss
	for _, mb := range m.members[svc.Namespace] {
		if seen[mb.owner] {
			continue
		}
		var misses []nearMiss
		for _, k := range sortedKeys(svc.Spec.Selector) {
			want := svc.Spec.Selector[k]
			if have, ok := mb.labels[k]; !ok || have != want {
				misses = append(misses, nearMiss{owner: mb.owner, key: k, have: have, absent: !ok, want: want})
			}
		}
		if len(misses) == 1 && (len(svc.Spec.Selector) > 1 || similar(misses[0])) {
			seen[mb.owner] = true
			out = append(out, misses[0])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].owner.String() < out[j].owner.String() })
	return out
}

// similar tells, for a selector of one label, a value that is plausibly the same label changed
// (web-v2 for web) from an unrelated workload (cache for web): one contains the other, or they
// share most of their start. A member without the label shares nothing with the selector.
func similar(n nearMiss) bool {
	if n.absent {
		return false
	}
	if strings.Contains(n.have, n.want) || strings.Contains(n.want, n.have) {
		return true
	}
	shared := 0
	for shared < min(len(n.have), len(n.want)) && n.have[shared] == n.want[shared] {
		shared++
	}
	// frontend and frontend2, api-gw and api-gateway: a long common start.
	return shared >= 3 && 2*shared >= min(len(n.have), len(n.want))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// selectorString is a selector as kubectl -l takes it.
func selectorString(sel map[string]string) string {
	parts := make([]string, 0, len(sel))
	for _, k := range sortedKeys(sel) {
		parts = append(parts, k+"="+sel[k])
	}
	return strings.Join(parts, ",")
}

// owners lists the distinct owners of members, sorted.
func owners(members []member) []snapshot.Ref {
	seen := map[snapshot.Ref]bool{}
	var out []snapshot.Ref
	for _, mb := range members {
		if !seen[mb.owner] {
			seen[mb.owner] = true
			out = append(out, mb.owner)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// containerPorts are the ports a pod declares where a Service's named targetPort is looked up:
// its containers' and its sidecars' (init containers that keep running).
func containerPorts(spec *corev1.PodSpec) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, c := range spec.Containers {
		out = append(out, c.Ports...)
	}
	for _, c := range spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, c.Ports...)
		}
	}
	return out
}

// hasNamedPort tells whether spec declares the port named name with the Service port's protocol,
// as the endpoint controller looks a named targetPort up.
func hasNamedPort(spec *corev1.PodSpec, name string, protocol corev1.Protocol) bool {
	return slices.ContainsFunc(containerPorts(spec), func(p corev1.ContainerPort) bool {
		return p.Name == name && snapshot.PortProtocol(p.Protocol) == snapshot.PortProtocol(protocol)
	})
}

// targetPort is the Service port's targetPort, defaulted to its port as the API server does.
func targetPort(p *corev1.ServicePort) intstr.IntOrString {
	if p.TargetPort.Type == intstr.String && p.TargetPort.StrVal != "" || p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal != 0 {
		return p.TargetPort
	}
	return intstr.FromInt32(p.Port)
}

// portLabel reads a Service port as "80/http" or "80".
func portLabel(p corev1.ServicePort) string {
	if p.Name != "" {
		return fmt.Sprintf("%d/%s", p.Port, p.Name)
	}
	return fmt.Sprint(p.Port)
}

func portLabels(ports []corev1.ServicePort) string {
	labels := make([]string, len(ports))
	for i, p := range ports {
		labels[i] = portLabel(p)
	}
	if len(labels) == 0 {
		return "none"
	}
	return strings.Join(labels, ", ")
}

// endpointCounts counts the endpoints of svc's EndpointSlices by readiness; slices is false
// when it has none, so readiness must be read from the pods.
func (m *model) endpointCounts(svc *corev1.Service) (ready, notReady int, haveSlices bool) {
	for _, slice := range m.slices[nsName{svc.Namespace, svc.Name}] {
		haveSlices = true
		for _, ep := range slice.Endpoints {
			// An unset ready condition means ready (discovery.k8s.io/v1).
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ready++
			} else {
				notReady++
			}
		}
	}
	return ready, notReady, haveSlices
}

// readyNodes are the nodes hosting a ready endpoint of svc (from its EndpointSlices, else from
// its ready pods).
func (m *model) readyNodes(svc *corev1.Service, members []member) map[string]bool {
	nodes := map[string]bool{}
	own := m.slices[nsName{svc.Namespace, svc.Name}]
	for _, slice := range own {
		for _, ep := range slice.Endpoints {
			if (ep.Conditions.Ready == nil || *ep.Conditions.Ready) && ep.NodeName != nil {
				nodes[*ep.NodeName] = true
			}
		}
	}
	if len(own) == 0 {
		for _, mb := range members {
			if mb.pod != nil && snapshot.PodReady(mb.pod) && mb.pod.Spec.NodeName != "" {
				nodes[mb.pod.Spec.NodeName] = true
			}
		}
	}
	return nodes
}

// readinessEvidence says, for each selected pod that is not ready, why: its Ready condition,
// the state of a container that is not running, and the readiness probe failures its events
// quote. It also returns when the first of them stopped being ready.
func readinessEvidence(s *snapshot.Snapshot, members []member) ([]string, time.Time) {
	var lines []string
	var since time.Time
	for _, mb := range members {
		pod := mb.pod
		if pod == nil || snapshot.PodReady(pod) {
			continue
		}
		var parts []string
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
				part := fmt.Sprintf("Ready=%s", c.Status)
				if c.Reason != "" {
					part += " (" + c.Reason + ")"
				}
				if !c.LastTransitionTime.IsZero() {
					part += " " + check.For(c.LastTransitionTime.Time, s.CollectedAt)
				}
				if c.Message != "" {
					part += ": " + c.Message
				}
				parts = append(parts, part)
			}
		}
		for _, cs := range snapshot.ContainerStatuses(pod) {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				parts = append(parts, fmt.Sprintf("container %s %s", cs.Name, w.Reason))
			}
		}
		if probe := probeFailure(s, pod); probe != "" {
			parts = append(parts, probe)
		}
		if len(parts) == 0 {
			parts = append(parts, "not ready")
		}
		if t := snapshot.NotReadySince(pod); !t.IsZero() && (since.IsZero() || t.Before(since)) {
			since = t
		}
		node := pod.Spec.NodeName
		if node == "" {
			node = "(none)"
		}
		lines = append(lines, fmt.Sprintf("pod %s on node %s: %s", pod.Name, node, strings.Join(parts, "; ")))
	}
	return lines, since
}

// probeFailure quotes the newest readiness probe failure the events report for pod, with how
// many times it happened; "" when none is recorded.
func probeFailure(s *snapshot.Snapshot, pod *corev1.Pod) string {
	for _, e := range s.WarningEvents("Pod", pod.Namespace, pod.Name) {
		if e.Reason != "Unhealthy" || !strings.HasPrefix(e.Message, "Readiness probe") {
			continue
		}
		line := "event Unhealthy: " + check.OneLine(e.Message, 240)
		if n := snapshot.EventCount(&e); n > 1 {
			line += fmt.Sprintf(" (x%d)", n)
		}
		return line
	}
	return ""
}
