package traffic

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const endpointsReference = "https://kubernetes.io/docs/concepts/services-networking/service/#services-without-selectors"

// serviceKinds are what a Service's path is followed through: without Services or pods the
// checks are blind. The controllers only name the pods' owners (and give the templates with -f).
func serviceKinds() []snapshot.Kind {
	return []snapshot.Kind{snapshot.KindServices, snapshot.KindPods}
}

// ownerKinds name the pods' top-level owners; without them a finding names the pods' nearest
// owner instead.
func ownerKinds(more ...snapshot.Kind) []snapshot.Kind {
	var kinds []snapshot.Kind
	for _, k := range slices.Concat(snapshot.WorkloadKinds(), snapshot.LegacyWorkloadKinds()) {
		if k != snapshot.KindPods {
			kinds = append(kinds, k)
		}
	}
	return append(kinds, more...)
}

// SelectorNoMatch reports a Service whose selector matches no pod: it has no endpoint at all.
type SelectorNoMatch struct{}

func (SelectorNoMatch) Meta() check.Meta {
	return check.Meta{
		ID:       "service-selector-no-match",
		Title:    "Service selector matches no pod",
		Category: check.CategoryTraffic,
		Severity: check.High,
		Requires: serviceKinds(),
		Optional: ownerKinds(),
		Description: "Matches each Service's selector against the pods of its namespace (with -f, against the pod " +
			"templates of the workloads in the manifests) and, when nothing matches, names the pods or templates " +
			"that differ by one label (app=web-v2 where the selector wants app=web). Services without a selector " +
			"(endpoints managed by hand) and the cluster DNS Service (see the dns checks) are not judged. With -f, " +
			"a selector with no near miss is reported only with --complete: otherwise its pods may come from files " +
			"or operators not in the input.",
		Why: "A Service that selects nothing has no endpoint: connections to it are refused or time out. It is " +
			"usually a relabel in a template change that the Service did not follow.",
		Remediation: "Make the selector and the pod template's labels agree: patch the Service's selector, or " +
			"restore the template's label.",
		References: []string{"https://kubernetes.io/docs/concepts/services-networking/service/#defining-a-service"},
	}
}

func (c SelectorNoMatch) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	m := modelOf(s)
	var findings []check.Finding
	for _, t := range m.judged {
		svc, h := t.svc, t.hop
		if h.kind != hopNoMatch || (!m.live && !s.Complete && len(h.nearMisses) == 0) {
			continue
		}
		f := check.New(meta, fmt.Sprintf("Service %s/%s %s.", svc.Namespace, svc.Name, h.reason), refs(svc, h)...)
		f.Incident = m.live
		if len(h.idle) > 0 && idleByDesign(s, h.idle) {
			// Scaled to zero, or a job between runs: nothing to reach, by someone's choice.
			f.Severity, f.Incident = check.Low, false
		}
		f.Evidence = check.LimitEvidence(h.evidence)
		f.Fix = h.fix
		findings = append(findings, f)
	}
	return findings
}

// NoReadyEndpoints reports a Service whose pods are selected but none is ready.
type NoReadyEndpoints struct{}

func (NoReadyEndpoints) Meta() check.Meta {
	return check.Meta{
		ID:       "service-no-ready-endpoints",
		Title:    "Service has endpoints but none is ready",
		Category: check.CategoryTraffic,
		Severity: check.High,
		Requires: serviceKinds(),
		Optional: ownerKinds(snapshot.KindEndpointSlices, snapshot.KindEvents),
		LiveOnly: true,
		Description: "Counts the ready endpoints of each Service's EndpointSlices (from its pods' Ready condition " +
			"when no slice was read) and, when pods are selected but none is ready, shows each pod's Ready " +
			"condition, containers that are waiting, and the readiness probe failures its Unhealthy events quote. " +
			"Critical for a LoadBalancer or NodePort Service, which takes traffic from outside; an Ingress in " +
			"front of the Service is reported by ingress-backend-broken. When a Deployment, StatefulSet or " +
			"DaemonSet whose pods these are is unavailable, this finding is a symptom in its incident, after it.",
		Why: "Only ready endpoints receive traffic: with none, every connection to the Service fails although its " +
			"pods run.",
		Remediation: "Read why the pods are not ready (the probe's output in the evidence): fix what the probe " +
			"reports, or the probe itself if it checks the wrong port or path.",
		References: []string{"https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/#conditions",
			"https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/"},
	}
}

func (c NoReadyEndpoints) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	m := modelOf(s)
	var findings []check.Finding
	for _, t := range m.judged {
		svc, h := t.svc, t.hop
		if h.kind != hopNotReady {
			continue
		}
		message := fmt.Sprintf("Service %s/%s %s.", svc.Namespace, svc.Name, h.reason)
		f := check.New(meta, message, refs(svc, h)...)
		if externallyRouted(svc) {
			f.Severity = check.Critical
			f.Message += fmt.Sprintf(" It is of type %s: traffic from outside the cluster fails.", svc.Spec.Type)
		}
		f.Incident = true
		f.Evidence = check.LimitEvidence(h.evidence)
		f.Fix = h.fix
		f.Since = earliest(h.since)
		findings = append(findings, f)
	}
	return findings
}

// TargetPortMissing reports Service ports whose targetPort the selected containers do not
// declare.
type TargetPortMissing struct{}

func (TargetPortMissing) Meta() check.Meta {
	return check.Meta{
		ID:       "service-target-port-missing",
		Title:    "Service targetPort is not a port of the selected containers",
		Category: check.CategoryTraffic,
		Severity: check.High,
		Requires: serviceKinds(),
		Optional: ownerKinds(),
		Description: "Looks up each Service port's targetPort in the containers (and sidecars) of the pods the " +
			"Service selects (with -f, of the selected pod templates in the manifests), as the endpoint controller " +
			"does: a named targetPort must be a container port of that name and protocol. High when no selected " +
			"workload declares it, medium when some do not. A numeric targetPort that no container declares is low, " +
			"and only when the containers declare ports at all: a container may listen on a port it does not declare, " +
			"so it is a hint, not an outage.",
		Why: "The endpoint controller leaves a pod without the named port out of the Service's endpoints for that " +
			"port: with no pod declaring it, the port has no endpoint and connections to it fail, though the pods " +
			"are healthy.",
		Remediation: "Point targetPort at the name (or number) of the port the containers serve on, or add the " +
			"named port to the container.",
		References: []string{"https://kubernetes.io/docs/concepts/services-networking/service/#field-spec-ports"},
	}
}

func (c TargetPortMissing) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	m := modelOf(s)
	var findings []check.Finding
	for _, t := range m.judged {
		svc := t.svc
		members := m.selected(svc)
		if len(members) == 0 {
			continue // service-selector-no-match
		}
		severity := check.Info
		var problems []string
		var broken []corev1.ServicePort
		var partial, undeclared corev1.ServicePort
		for _, p := range svc.Spec.Ports {
			missing, having := namedPortMissing(p, members)
			switch {
			case len(missing) > 0 && len(having) == 0:
				severity = check.High
				broken = append(broken, p)
				problems = append(problems, fmt.Sprintf("port %s: targetPort %q is declared by no container of %s",
					portLabel(p), targetPort(&p).StrVal, describeAll(missing)))
			case len(missing) > 0:
				severity = stronger(severity, check.Medium)
				partial = p
				problems = append(problems, fmt.Sprintf("port %s: targetPort %q is declared by %s but not by %s, whose pods get no endpoint for it",
					portLabel(p), targetPort(&p).StrVal, describeAll(having), describeAll(missing)))
			case numericPortUndeclared(p, members):
				severity = stronger(severity, check.Low)
				undeclared = p
				problems = append(problems, fmt.Sprintf("port %s: targetPort %d is declared by no container (they may still listen on it)",
					portLabel(p), targetPort(&p).IntVal))
			}
		}
		if len(problems) == 0 {
			continue
		}
		h := hop{owners: owners(members)}
		f := check.New(meta, fmt.Sprintf("Service %s/%s: %s.", svc.Namespace, svc.Name, strings.Join(problems, "; ")), refs(svc, h)...)
		f.Severity = severity
		f.Incident = m.live && severity == check.High
		f.Evidence = check.LimitEvidence(declaredPorts(members))
		switch {
		case len(broken) > 0:
			f.Fix = targetPortFix(svc, broken[0], members)
		case severity == check.Low:
			f.Fix = append([]string{check.Comment("only if the containers do not listen on the port undeclared:")},
				targetPortFix(svc, undeclared, members)...)
		default:
			f.Fix = targetPortFix(svc, partial, members)
		}
		findings = append(findings, f)
	}
	return findings
}

func stronger(a, b check.Severity) check.Severity {
	if b.Rank() < a.Rank() {
		return b
	}
	return a
}

// LocalTrafficNodes reports Services with externalTrafficPolicy Local whose ready endpoints are
// on only some of the nodes.
type LocalTrafficNodes struct{}

func (LocalTrafficNodes) Meta() check.Meta {
	return check.Meta{
		ID:       "service-local-traffic-nodes",
		Title:    "externalTrafficPolicy Local Service has no ready endpoint on some nodes",
		Category: check.CategoryTraffic,
		Severity: check.Low,
		Requires: append(serviceKinds(), snapshot.KindNodes),
		Optional: ownerKinds(snapshot.KindEndpointSlices),
		LiveOnly: true,
		Description: "For each LoadBalancer or NodePort Service with externalTrafficPolicy Local that has a ready " +
			"endpoint somewhere, lists the Ready nodes (not labelled node.kubernetes.io/exclude-from-external-load-" +
			"balancers) that host none. kube-proxy drops external traffic that reaches such a node, and answers the " +
			"load balancer's health check (healthCheckNodePort) with a failure, so the load balancer takes the node " +
			"out of rotation. Low for a LoadBalancer Service: its traffic still flows, through fewer nodes. Medium " +
			"for a NodePort Service: clients that connect to those nodes' port are dropped. A Service with no ready " +
			"endpoint on any node is service-no-ready-endpoints.",
		Why: "Local keeps the client's source address, at the price that only nodes with a ready pod can take the " +
			"traffic. A load balancer whose health checks lag, or clients aimed at a node's port directly, send " +
			"connections to nodes that drop them.",
		Remediation: "Run a ready pod on every node that takes traffic (a DaemonSet, or spread replicas), aim " +
			"clients only at nodes with one, or use externalTrafficPolicy Cluster if the source address is not needed.",
		References: []string{"https://kubernetes.io/docs/tasks/access-application-cluster/create-external-load-balancer/#preserving-the-client-source-ip",
			"https://kubernetes.io/docs/reference/networking/virtual-ips/#external-traffic-policy"},
	}
}

const excludeFromLB = "node.kubernetes.io/exclude-from-external-load-balancers"

func (c LocalTrafficNodes) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	m := modelOf(s)
	var eligible []string
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if _, excluded := n.Labels[excludeFromLB]; !excluded && snapshot.NodeReady(n) {
			eligible = append(eligible, n.Name)
		}
	}
	var findings []check.Finding
	for _, t := range m.judged {
		svc := t.svc
		if !externallyRouted(svc) || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
			continue
		}
		members := m.selected(svc)
		ready := m.readyNodes(svc, members)
		if len(ready) == 0 {
			continue // service-no-ready-endpoints
		}
		var without []string
		for _, n := range eligible {
			if !ready[n] {
				without = append(without, n)
			}
		}
		if len(without) == 0 {
			continue
		}
		withReady := len(eligible) - len(without)
		message := fmt.Sprintf("Service %s/%s (LoadBalancer, externalTrafficPolicy Local) has a ready endpoint on %d of %d nodes: "+
			"the load balancer's health check fails on the other %d, which leave its rotation; traffic flows through %d %s.",
			svc.Namespace, svc.Name, withReady, len(eligible), len(without), withReady, check.PluralForm(withReady, "node", "nodes"))
		f := check.New(meta, "", refs(svc, hop{owners: owners(members)})...)
		if svc.Spec.Type == corev1.ServiceTypeNodePort {
			f.Severity = check.Medium
			message = fmt.Sprintf("Service %s/%s (NodePort, externalTrafficPolicy Local) has a ready endpoint on %d of %d nodes: "+
				"connections to its node port on the other %d are dropped.", svc.Namespace, svc.Name, withReady, len(eligible), len(without))
		}
		f.Message = message
		f.Evidence = []string{"nodes without a ready endpoint: " + strings.Join(without[:min(len(without), check.MaxEvidence)], ", ") +
			map[bool]string{true: fmt.Sprintf(" and %d more", len(without)-check.MaxEvidence), false: ""}[len(without) > check.MaxEvidence]}
		f.Fix = []string{
			fmt.Sprintf("kubectl get endpointslices -n %s -l kubernetes.io/service-name=%s -o wide", check.Quote(svc.Namespace), check.Quote(svc.Name)),
			check.Comment("to send traffic through every node instead (the source address is then lost):"),
			fmt.Sprintf(`kubectl patch service -n %s %s -p '{"spec":{"externalTrafficPolicy":"Cluster"}}'`, check.Quote(svc.Namespace), check.Quote(svc.Name)),
		}
		findings = append(findings, f)
	}
	return findings
}

// idleByDesign tells workloads that run no pod because they were asked to run none: scaled to
// zero replicas, or jobs, whose pods come and go.
func idleByDesign(s *snapshot.Snapshot, refs []snapshot.Ref) bool {
	zero := func(r *int32) bool { return r != nil && *r == 0 }
	for _, ref := range refs {
		idle := false
		switch ref.Kind {
		case "CronJob", "Job":
			idle = true
		case "Deployment":
			i := slices.IndexFunc(s.Deployments, func(d appsv1.Deployment) bool { return d.Namespace == ref.Namespace && d.Name == ref.Name })
			idle = i >= 0 && zero(s.Deployments[i].Spec.Replicas)
		case "StatefulSet":
			i := slices.IndexFunc(s.StatefulSets, func(d appsv1.StatefulSet) bool { return d.Namespace == ref.Namespace && d.Name == ref.Name })
			idle = i >= 0 && zero(s.StatefulSets[i].Spec.Replicas)
		}
		if !idle {
			return false
		}
	}
	return true
}
