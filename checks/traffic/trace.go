package traffic

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// hopKind names the hop of a Service's path that is broken.
type hopKind int

const (
	hopOK hopKind = iota
	// hopNoMatch: the selector matches no pod (no template with -f).
	hopNoMatch
	// hopTargetPort: no selected container declares the named targetPort.
	hopTargetPort
	// hopNotReady: pods are selected, but no endpoint is ready.
	hopNotReady
)

// hop is the first broken hop behind a Service, or hopOK.
type hop struct {
	kind hopKind
	// reason completes "Service NS/NAME ...": what is broken there.
	reason   string
	evidence []string
	fix      []string
	// owners are the workloads whose pods the Service selects.
	owners []snapshot.Ref
	since  time.Time
	// nearMisses are, for hopNoMatch, the workloads one label away from the selector.
	nearMisses []nearMiss
	// idle are, for hopNoMatch on a cluster, the workloads whose template the selector matches
	// although none of their pods runs.
	idle []snapshot.Ref
}

// trace follows svc to its pods: the selector, the targetPort of ports (every port when nil)
// and, live, the readiness of the endpoints. It reports the first hop that is broken; with -f,
// readiness is not known and only structure is judged.
func (m *model) trace(s *snapshot.Snapshot, svc *corev1.Service, ports []corev1.ServicePort) hop {
	members := m.selected(svc)
	if len(members) == 0 {
		return m.noMatch(svc)
	}
	h := hop{owners: owners(members)}
	if ports == nil {
		ports = svc.Spec.Ports
	}
	for _, p := range ports {
		missing, _ := namedPortMissing(p, members)
		if len(missing) == len(h.owners) && len(missing) > 0 {
			h.kind = hopTargetPort
			h.reason = fmt.Sprintf("has targetPort %q on port %s, which no container of %s declares: the port has no endpoint",
				targetPort(&p).StrVal, portLabel(p), describeAll(h.owners))
			h.evidence = declaredPorts(members)
			h.fix = targetPortFix(svc, p, members)
			return h
		}
	}
	// publishNotReadyAddresses sends traffic to pods whether ready or not (a StatefulSet's peers
	// finding each other before they are ready): readiness does not cut it off.
	if !m.live || svc.Spec.PublishNotReadyAddresses {
		return h
	}
	ready, notReady, haveSlices := m.endpointCounts(svc)
	if !haveSlices {
		// No EndpointSlice was read (none made yet, or not readable): the pods tell.
		for _, mb := range members {
			if snapshot.PodReady(mb.pod) {
				ready++
			} else {
				notReady++
			}
		}
	}
	if ready > 0 {
		return h
	}
	h.kind = hopNotReady
	pods := check.Plural(len(members), "pod", "pods")
	h.reason = fmt.Sprintf("has no ready endpoint: none of its %s (%s) is ready", pods, describeAll(h.owners))
	lines, since := readinessEvidence(s, members)
	if haveSlices {
		lines = append([]string{fmt.Sprintf("EndpointSlices: %d ready, %d not-ready endpoints", ready, notReady)}, lines...)
	}
	h.evidence, h.since = lines, since
	h.fix = []string{
		fmt.Sprintf("kubectl get endpointslices -n %s -l %s -o wide", check.Quote(svc.Namespace), check.Quote(discoveryv1.LabelServiceName+"="+svc.Name)),
	}
	h.fix = append(h.fix, check.FixEach(min(len(members), 3), "pods", func(i int) string {
		return fmt.Sprintf("kubectl describe pod -n %s %s   # Events: the readiness probe's output", check.Quote(svc.Namespace), check.Quote(members[i].pod.Name))
	})...)
	return h
}

// noMatch describes a selector that matches nothing, with the workloads one label away.
func (m *model) noMatch(svc *corev1.Service) hop {
	what := "pod"
	if !m.live {
		what = "pod template"
	}
	h := hop{kind: hopNoMatch, nearMisses: m.nearest(svc)}
	h.reason = fmt.Sprintf("selects no %s: nothing in namespace %s has labels %s", what, svc.Namespace, selectorString(svc.Spec.Selector))
	for _, w := range m.templates[svc.Namespace] {
		if w.Ref.Kind != "Pod" && selects(svc.Spec.Selector, w.Labels) {
			h.idle = append(h.idle, w.Ref)
		}
	}
	if len(h.idle) > 0 {
		h.reason = fmt.Sprintf("selects no pod: the template of %s matches, but no pod of it runs", describeAll(h.idle))
	}
	for _, n := range h.nearMisses {
		h.evidence = append(h.evidence, "nearest: "+n.String())
	}
	ns := check.Quote(svc.Namespace)
	h.fix = []string{fmt.Sprintf("kubectl get pods -n %s --show-labels", ns)}
	if len(h.nearMisses) == 1 {
		n := h.nearMisses[0]
		value := fmt.Sprintf("%q", n.have)
		if n.absent {
			value = "null"
		}
		patch := fmt.Sprintf(`{"spec":{"selector":{%q:%s}}}`, n.key, value)
		h.fix = append(h.fix, fmt.Sprintf("kubectl patch service -n %s %s -p %s   # if %s carries the label the Service should follow",
			ns, check.Quote(svc.Name), check.Quote(patch), n.owner.Describe()))
	}
	return h
}

// namedPortMissing lists the owners none of whose selected pods (or templates) declare p's
// named targetPort; nil for a numeric targetPort, which a container may serve undeclared. It
// also returns the owners that do declare it.
func namedPortMissing(p corev1.ServicePort, members []member) (missing, having []snapshot.Ref) {
	tp := targetPort(&p)
	if tp.Type != intstr.String {
		return nil, nil
	}
	has := map[snapshot.Ref]bool{}
	for _, mb := range members {
		if hasNamedPort(mb.spec, tp.StrVal, p.Protocol) {
			has[mb.owner] = true
		}
	}
	for _, o := range owners(members) {
		if has[o] {
			having = append(having, o)
		} else {
			missing = append(missing, o)
		}
	}
	return missing, having
}

// numericPortUndeclared tells a numeric targetPort that the selected containers declare ports
// but not this one: a weaker signal, since a container may listen on a port it does not declare.
func numericPortUndeclared(p corev1.ServicePort, members []member) bool {
	tp := targetPort(&p)
	if tp.Type != intstr.Int {
		return false
	}
	for _, mb := range members {
		ports := containerPorts(mb.spec)
		if len(ports) == 0 {
			return false // declaring nothing says nothing about what the container listens on
		}
		for _, cp := range ports {
			if cp.ContainerPort == tp.IntVal && snapshot.PortProtocol(cp.Protocol) == snapshot.PortProtocol(p.Protocol) {
				return false
			}
		}
	}
	return len(members) > 0
}

// declaredPorts lists, for each owner, the ports its containers declare.
func declaredPorts(members []member) []string {
	seen := map[snapshot.Ref]bool{}
	var lines []string
	for _, mb := range members {
		if seen[mb.owner] {
			continue
		}
		seen[mb.owner] = true
		var ports []string
		for _, cp := range containerPorts(mb.spec) {
			if cp.Name != "" {
				ports = append(ports, fmt.Sprintf("%s=%d/%s", cp.Name, cp.ContainerPort, snapshot.PortProtocol(cp.Protocol)))
			} else {
				ports = append(ports, fmt.Sprintf("%d/%s", cp.ContainerPort, snapshot.PortProtocol(cp.Protocol)))
			}
		}
		if len(ports) == 0 {
			ports = []string{"none"}
		}
		lines = append(lines, fmt.Sprintf("%s declares container ports: %s", mb.owner.Describe(), strings.Join(ports, ", ")))
	}
	return lines
}

// targetPortFix points the Service port at the one port its pods declare, when there is exactly
// one; otherwise it shows the ports to choose from.
func targetPortFix(svc *corev1.Service, p corev1.ServicePort, members []member) []string {
	index := 0
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Name == p.Name && svc.Spec.Ports[i].Port == p.Port {
			index = i
		}
	}
	declared := map[string]bool{}
	var only corev1.ContainerPort
	for _, mb := range members {
		for _, cp := range containerPorts(mb.spec) {
			if snapshot.PortProtocol(cp.Protocol) == snapshot.PortProtocol(p.Protocol) {
				declared[fmt.Sprintf("%s/%d", cp.Name, cp.ContainerPort)] = true
				only = cp
			}
		}
	}
	ns, name := check.Quote(svc.Namespace), check.Quote(svc.Name)
	if len(declared) != 1 {
		return []string{fmt.Sprintf("kubectl get pods -n %s -l %s -o jsonpath='{.items[0].spec.containers[*].ports}'",
			ns, check.Quote(selectorString(svc.Spec.Selector))),
			check.Comment("set the Service port's targetPort to the name or number of the port the pods serve on")}
	}
	value := fmt.Sprint(only.ContainerPort)
	if only.Name != "" {
		value = fmt.Sprintf("%q", only.Name)
	}
	patch := fmt.Sprintf(`[{"op":"replace","path":"/spec/ports/%d/targetPort","value":%s}]`, index, value)
	return []string{fmt.Sprintf("kubectl patch service -n %s %s --type=json -p %s", ns, name, check.Quote(patch))}
}

func describeAll(refs []snapshot.Ref) string {
	parts := make([]string, 0, min(len(refs), 3)+1)
	for _, r := range refs[:min(len(refs), 3)] {
		parts = append(parts, r.Describe())
	}
	if len(refs) > 3 {
		parts = append(parts, fmt.Sprintf("and %d more", len(refs)-3))
	}
	return strings.Join(parts, ", ")
}

// refs lists svc with the owners of its pods: the objects a traffic finding names, so that it is
// linked as a symptom of the workload's own finding about the same outage.
func refs(svc *corev1.Service, h hop) []snapshot.Ref {
	return slices.Concat([]snapshot.Ref{serviceRef(svc)}, h.owners, h.idle)
}

func serviceRef(svc *corev1.Service) snapshot.Ref {
	return snapshot.RefTo(snapshot.KindServices, svc.Namespace, svc.Name)
}

// externallyRouted tells a Service that takes traffic from outside the cluster by itself.
func externallyRouted(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer || svc.Spec.Type == corev1.ServiceTypeNodePort
}

func earliest(t time.Time) *time.Time { return check.Earliest(t) }
