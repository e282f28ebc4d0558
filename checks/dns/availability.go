package dns

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// restartThreshold is the number of restarts from which a DNS pod counts as restarting.
const restartThreshold = 3

func controllerKinds() []snapshot.Kind {
	return []snapshot.Kind{snapshot.KindDeployments, snapshot.KindDaemonSets}
}

func withKinds(kinds ...snapshot.Kind) []snapshot.Kind { return append(controllerKinds(), kinds...) }

// NotFound reports a live cluster where no cluster DNS server or no Service in front of it can
// be found.
type NotFound struct{}

func (NotFound) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-not-found",
		Title:               "No cluster DNS server found",
		Category:            check.CategoryDNS,
		Severity:            check.High,
		Requires:            withKinds(snapshot.KindServices),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		LiveOnly:            true,
		Description: "Looks in kube-system (and openshift-dns) for the cluster DNS server: a Deployment or DaemonSet " +
			"labelled k8s-app=kube-dns, or named coredns, kube-dns, rke2-coredns-rke2-coredns or dns-default; and " +
			"for the Service whose selector matches its pods (conventionally kube-dns).",
		Why: "Without a DNS server, or without the Service whose IP every pod's /etc/resolv.conf points to, no pod " +
			"can resolve a Service name. If DNS runs under another name, the other DNS checks cannot see it either.",
		Remediation: "Install CoreDNS (kubeadm: kubeadm init phase addon coredns) and its kube-dns Service, or label " +
			"the existing DNS Deployment k8s-app=kube-dns so it is recognised.",
		References: []string{reference},
	}
}

func (c NotFound) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	servers := findServers(s)
	if len(servers) == 0 {
		f := check.New(meta, "No cluster DNS Deployment or DaemonSet was found in kube-system: pods cannot resolve "+
			"Service names, unless DNS runs under a name this tool does not know.")
		f.Incident = true
		f.Scope = check.ScopeCluster
		f.Fix = []string{
			"kubectl get deployments,daemonsets -A -l k8s-app=kube-dns",
			"kubectl get pods -n kube-system -o wide | grep -i dns",
		}
		return []check.Finding{f}
	}
	var findings []check.Finding
	for _, srv := range servers {
		if srv.service != nil {
			continue
		}
		f := check.New(meta, fmt.Sprintf("No Service in namespace %s selects the pods of %s: the cluster DNS "+
			"address that pods are given leads nowhere.", srv.ref.Namespace, srv.ref.Describe()), srv.ref)
		f.Incident = true
		f.Scope = check.ScopeCluster
		f.Evidence = []string{fmt.Sprintf("pod labels: %v", srv.template.Labels)}
		f.Fix = []string{fmt.Sprintf("kubectl get services -n %s -o wide   # a SELECTOR must match the pod labels above", check.Quote(srv.ref.Namespace))}
		findings = append(findings, f)
	}
	return findings
}

// Unavailable reports a DNS server with fewer available replicas than desired.
type Unavailable struct{}

func (Unavailable) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-unavailable",
		Title:               "Cluster DNS has fewer available replicas than desired",
		Category:            check.CategoryDNS,
		Severity:            check.High,
		Requires:            controllerKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Optional:            []snapshot.Kind{snapshot.KindPods, snapshot.KindReplicaSets},
		LiveOnly:            true,
		// The generic controller and pod checks see the same outage; this finding says what it means.
		Supersedes: []string{"deployment-unavailable", "daemonset-unavailable", "pod-crashloop", "container-oomkilled"},
		Links:      []check.Link{downLink()},
		Description: "Compares the DNS Deployment's (or DaemonSet's) available replicas with the desired count, and " +
			"shows each DNS pod that is not ready or was killed: its state, restarts and last termination " +
			"(OOMKilled with the memory limit). Critical when no replica is available.",
		Why: "Every name lookup in the cluster goes through these pods. With none available, all Service discovery " +
			"fails; with fewer, the remaining replicas carry the whole cluster's queries and timeouts begin.",
		Remediation: "Read the evidence: an OOMKilled pod needs a higher memory limit; a crash loop right after start " +
			"is often a forwarding loop (see the Corefile checks); a pod Pending needs room on a node.",
		References: []string{reference},
	}
}

func (c Unavailable) NotEvaluable(s *snapshot.Snapshot) string { return notEvaluable(s) }

func (c Unavailable) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, srv := range findServers(s) {
		scaledToZero := srv.ref.Kind == "Deployment" && srv.desired == 0
		if !scaledToZero && (!srv.statusKnown || srv.available >= srv.desired) {
			continue
		}
		message := fmt.Sprintf("%s has %d of %d replicas available: cluster DNS is %s.",
			srv.ref.Describe(), srv.available, srv.desired, map[bool]string{true: "down", false: "degraded"}[srv.down()])
		if scaledToZero {
			message = fmt.Sprintf("%s is scaled to 0 replicas: cluster DNS is down.", srv.ref.Describe())
		}
		f := check.New(meta, message, srv.ref)
		f.Incident = true
		f.Scope = check.ScopeCluster
		if srv.down() {
			f.Severity = check.Critical
		}
		if scaledToZero {
			f.Fix = []string{srv.kubectl("scale --replicas=2")}
			findings = append(findings, f)
			continue
		}
		f.Evidence = check.LimitEvidence(podEvidence(srv.pods, false, s.CollectedAt))
		f.Since = srv.troubleSince()
		f.Fix = []string{
			srv.kubectl("describe"),
			fmt.Sprintf("kubectl get pods -n %s -l %s -o wide", check.Quote(srv.ref.Namespace), srv.podSelector()),
			srv.logs(),
		}
		if srv.dnsContainerOOMKilled() {
			f.Fix = append(f.Fix, memoryPatch(srv, raisedLimit(s, srv)))
		}
		findings = append(findings, f)
	}
	return findings
}

// PodsUnhealthy reports DNS pods that restart, crash or were OOMKilled while the replica count
// still looks fine; when replicas are missing, dns-unavailable reports the same pods.
type PodsUnhealthy struct{}

func (PodsUnhealthy) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-pods-unhealthy",
		Title:               "Cluster DNS pods are restarting or were OOMKilled",
		Category:            check.CategoryDNS,
		Severity:            check.Medium,
		Requires:            withKinds(snapshot.KindPods),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Optional:            []snapshot.Kind{snapshot.KindReplicaSets},
		LiveOnly:            true,
		Supersedes:          []string{"pod-crashloop", "container-oomkilled"},
		Links:               []check.Link{downLink()},
		Description: fmt.Sprintf("Looks at each DNS pod: not ready, waiting in CrashLoopBackOff, last terminated "+
			"OOMKilled, or restarted %d times or more. High when a pod was OOMKilled or is crash looping. Only when "+
			"the replica count is met; otherwise dns-unavailable shows the same pods.", restartThreshold),
		Why: "A DNS pod that restarts drops the queries it holds, and its clients wait out their 5 s timeout " +
			"before retrying: intermittent slowness everywhere. OOMKills tend to come back under load, when DNS " +
			"matters most.",
		Remediation: "For OOMKills raise the memory limit (see dns-memory-limit-low for the size the cluster needs); " +
			"for crash loops read the previous logs: 'Loop ... detected' means a forwarding loop.",
		References: []string{reference},
	}
}

func (c PodsUnhealthy) NotEvaluable(s *snapshot.Snapshot) string { return notEvaluable(s) }

func (c PodsUnhealthy) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, srv := range findServers(s) {
		if srv.down() || (srv.statusKnown && srv.available < srv.desired) {
			continue // dns-unavailable reports these pods
		}
		evidence := podEvidence(srv.pods, true, s.CollectedAt)
		if len(evidence) == 0 {
			continue
		}
		f := check.New(meta, fmt.Sprintf("%s of %s %s unhealthy although the replica count is met.",
			check.Plural(len(evidence), "pod", "pods"), srv.ref.Describe(), map[bool]string{true: "is", false: "are"}[len(evidence) == 1]), srv.ref)
		f.Incident = true
		f.Scope = check.ScopeCluster
		f.Evidence = check.LimitEvidence(evidence)
		if oomKilled(srv.pods) || crashLooping(srv.pods) {
			f.Severity = check.High
		}
		f.Since = srv.troubleSince()
		f.Fix = []string{srv.logs()}
		if srv.dnsContainerOOMKilled() {
			f.Fix = append(f.Fix, memoryPatch(srv, raisedLimit(s, srv)))
		}
		findings = append(findings, f)
	}
	return findings
}

// podEvidence describes each live DNS pod that is not well, with ages relative to now. With
// onlyTroubled, pods that are ready and were never killed or restarted much are left out;
// otherwise every unready pod is described.
func podEvidence(pods []*corev1.Pod, onlyTroubled bool, now time.Time) []string {
	var lines []string
	for _, pod := range pods {
		if !snapshot.IsLive(pod) {
			continue
		}
		var troubles []string
		if !snapshot.PodReady(pod) {
			notReady := "not ready"
			if t := snapshot.NotReadySince(pod); !t.IsZero() {
				notReady += " " + check.For(t, now)
			}
			troubles = append(troubles, notReady)
		}
		for _, cs := range snapshot.ContainerStatuses(pod) {
			var states []string
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				states = append(states, w.Reason)
			}
			if t := cs.LastTerminationState.Terminated; t != nil && t.Reason != "" {
				last := fmt.Sprintf("last terminated %s (exit code %d)", t.Reason, t.ExitCode)
				if limit, ok := memoryLimit(pod, cs.Name); ok && t.Reason == "OOMKilled" {
					last += " at memory limit " + limit
				}
				if !t.FinishedAt.IsZero() {
					last += " " + check.Ago(t.FinishedAt.Time, now)
				}
				states = append(states, last)
			}
			if cs.RestartCount >= restartThreshold {
				states = append(states, fmt.Sprintf("%d restarts", cs.RestartCount))
			}
			if len(states) > 0 {
				troubles = append(troubles, fmt.Sprintf("container %s %s", cs.Name, strings.Join(states, ", ")))
			}
		}
		if onlyTroubled && !troubled(pod) {
			continue
		}
		if len(troubles) > 0 {
			lines = append(lines, fmt.Sprintf("pod %s on node %s: %s", pod.Name, nodeName(pod), strings.Join(troubles, "; ")))
		}
	}
	return lines
}

// troubleSince is when the server's trouble began, as the cluster records it: its Deployment
// became unavailable, a live pod stopped being ready, or, for a pod that is ready but was
// killed or restarted, a container last ended. The earliest of these; nil when none is known.
func (srv *server) troubleSince() *time.Time {
	times := []time.Time{srv.unavailableSince}
	for _, pod := range srv.pods {
		if !snapshot.IsLive(pod) || !troubled(pod) {
			continue
		}
		if t := snapshot.NotReadySince(pod); !t.IsZero() {
			times = append(times, t)
			continue
		}
		for _, cs := range snapshot.ContainerStatuses(pod) {
			if t := cs.LastTerminationState.Terminated; t != nil {
				times = append(times, t.FinishedAt.Time)
			}
		}
	}
	return check.Earliest(times...)
}

// troubled is a pod worth reporting even when the replica count is met.
func troubled(pod *corev1.Pod) bool {
	if !snapshot.PodReady(pod) {
		return true
	}
	for _, cs := range snapshot.ContainerStatuses(pod) {
		if cs.RestartCount >= restartThreshold || isOOMKilled(cs) || isCrashLooping(cs) {
			return true
		}
	}
	return false
}

func nodeName(pod *corev1.Pod) string {
	if pod.Spec.NodeName == "" {
		return "(none)"
	}
	return pod.Spec.NodeName
}

func isOOMKilled(cs corev1.ContainerStatus) bool {
	return (cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.Reason == "OOMKilled") ||
		(cs.State.Terminated != nil && cs.State.Terminated.Reason == "OOMKilled")
}

func isCrashLooping(cs corev1.ContainerStatus) bool {
	return cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff"
}

func anyContainer(pods []*corev1.Pod, test func(corev1.ContainerStatus) bool) bool {
	for _, pod := range pods {
		if snapshot.IsLive(pod) && slices.ContainsFunc(snapshot.ContainerStatuses(pod), test) {
			return true
		}
	}
	return false
}

func oomKilled(pods []*corev1.Pod) bool { return anyContainer(pods, isOOMKilled) }

// dnsContainerOOMKilled is true when the DNS container itself, not a sidecar, was OOMKilled: only
// then is raising its limit the fix.
func (srv *server) dnsContainerOOMKilled() bool {
	c := dnsContainer(srv.template)
	return c != nil && anyContainer(srv.pods, func(cs corev1.ContainerStatus) bool { return cs.Name == c.Name && isOOMKilled(cs) })
}
func crashLooping(pods []*corev1.Pod) bool { return anyContainer(pods, isCrashLooping) }

func memoryLimit(pod *corev1.Pod, container string) (string, bool) {
	for _, c := range pod.Spec.Containers {
		if c.Name == container {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				return q.String(), true
			}
		}
	}
	return "", false
}

// ServiceNoEndpoints reports a DNS Service without a single ready endpoint.
type ServiceNoEndpoints struct{}

func (ServiceNoEndpoints) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-service-no-endpoints",
		Title:               "The cluster DNS Service has no ready endpoints",
		Category:            check.CategoryDNS,
		Severity:            check.Critical,
		Requires:            withKinds(snapshot.KindServices, snapshot.KindEndpointSlices),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		LiveOnly:            true,
		Links:               []check.Link{downLink()},
		Description: "Reads the EndpointSlices of the DNS Service (label kubernetes.io/service-name) and counts the " +
			"endpoints whose ready condition is true (or unset, which means ready). When the DNS server has no " +
			"available replica at all, dns-unavailable reports the outage instead.",
		Why: "Pods send every lookup to the Service's IP; with no ready endpoint behind it, the packets go nowhere " +
			"and every name lookup in the cluster times out.",
		Remediation: "Make the DNS pods ready (see dns-unavailable), and check that the Service's selector matches " +
			"their labels.",
		References: []string{"https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/#conditions"},
	}
}

func (c ServiceNoEndpoints) NotEvaluable(s *snapshot.Snapshot) string { return notEvaluable(s) }

func (c ServiceNoEndpoints) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, srv := range findServers(s) {
		if srv.service == nil || srv.down() {
			continue // dns-not-found reports a missing Service, dns-unavailable a server with no replica
		}
		svc := srv.service
		ready, notReady, slices := 0, 0, 0
		for i := range s.EndpointSlices {
			slice := &s.EndpointSlices[i]
			if slice.Namespace != svc.Namespace || slice.Labels[discoveryv1.LabelServiceName] != svc.Name {
				continue
			}
			slices++
			for _, ep := range slice.Endpoints {
				if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
					ready++
				} else {
					notReady++
				}
			}
		}
		if ready > 0 {
			continue
		}
		svcRef := snapshot.RefTo(snapshot.KindServices, svc.Namespace, svc.Name)
		f := check.New(meta, fmt.Sprintf("Service %s/%s (the cluster DNS address %s) has no ready endpoint: "+
			"name lookups in the cluster fail.", svc.Namespace, svc.Name, svc.Spec.ClusterIP), svcRef, srv.ref)
		f.Incident = true
		f.Scope = check.ScopeCluster
		f.Evidence = []string{fmt.Sprintf("%s, %d ready and %d not-ready endpoints",
			check.Plural(slices, "EndpointSlice", "EndpointSlices"), ready, notReady)}
		f.Fix = []string{
			fmt.Sprintf("kubectl get endpointslices -n %s -l %s -o wide", check.Quote(svc.Namespace), check.Quote(discoveryv1.LabelServiceName+"="+svc.Name)),
			srv.kubectl("describe"),
		}
		findings = append(findings, f)
	}
	return findings
}
