package dns

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Where systemd-resolved keeps its files: the stub points at 127.0.0.53, the other lists the
// real upstream servers.
const (
	resolvedStub     = "/run/systemd/resolve/stub-resolv.conf"
	resolvedUpstream = "/run/systemd/resolve/resolv.conf"
	defaultResolv    = "/etc/resolv.conf"
)

// ForwardLoopRisk reports CoreDNS forwarding to /etc/resolv.conf when that file leads back to
// CoreDNS: through the pod's own resolver (dnsPolicy ClusterFirst), or through a node whose
// resolver is a loopback stub such as systemd-resolved's 127.0.0.53.
type ForwardLoopRisk struct{}

func (ForwardLoopRisk) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-forward-loop-risk",
		Title:               "CoreDNS forwards to a resolver that may lead back to itself",
		Category:            check.CategoryDNS,
		Severity:            check.High,
		Requires:            corefileKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Optional:            []snapshot.Kind{snapshot.KindKubeletConfigs, snapshot.KindNodes, snapshot.KindPods},
		Description: "When the Corefile forwards to /etc/resolv.conf: high if the CoreDNS pods use dnsPolicy " +
			"ClusterFirst (their resolv.conf is CoreDNS itself), or if the kubelet on a node running CoreDNS hands " +
			"pods systemd-resolved's stub file (127.0.0.53). Medium when the kubelet hands them /etc/resolv.conf on " +
			"an Ubuntu node, where that file is normally the stub: likely, but the file's content cannot be " +
			"confirmed through the API. The kubelet configuration is read from /configz through the API server's " +
			"node proxy; without it the check is not evaluated.",
		Why: "A forwarding loop sends every query outside the cluster back to CoreDNS: with the loop plugin CoreDNS " +
			"exits at start and crash loops; without it queries circle until they time out and CoreDNS runs out " +
			"of memory.",
		Remediation: "Point the kubelet's resolvConf at a file listing the real upstream servers (" + resolvedUpstream +
			" with systemd-resolved), or forward to the upstream resolvers' addresses; run CoreDNS with dnsPolicy Default.",
		References: []string{"https://coredns.io/plugins/loop/#troubleshooting-loops-in-kubernetes-clusters"},
	}
}

// NotEvaluable: when the answer hangs on kubelet configurations that could not be read, the loop
// can be neither confirmed nor ruled out.
func (c ForwardLoopRisk) NotEvaluable(s *snapshot.Snapshot) string {
	if reason := corefileNotEvaluable(s); reason != "" {
		return reason
	}
	var reason string
	parsedCorefiles(s, func(srv server, src *corefileSource) {
		if f, unconfirmed := c.assess(s, srv, src); f == nil && unconfirmed != "" {
			reason = unconfirmed
		}
	})
	return reason
}

func (c ForwardLoopRisk) Run(s *snapshot.Snapshot) []check.Finding {
	var findings []check.Finding
	parsedCorefiles(s, func(srv server, src *corefileSource) {
		if f, _ := c.assess(s, srv, src); f != nil {
			findings = append(findings, *f)
		}
	})
	return findings
}

// assess returns the finding for one DNS server, or, when there is none only because some node's
// kubelet configuration could not be read, why the loop cannot be confirmed.
func (c ForwardLoopRisk) assess(s *snapshot.Snapshot, srv server, src *corefileSource) (*check.Finding, string) {
	line := forwardsToResolvConf(src.parsed)
	if line == "" {
		return nil, ""
	}
	f := check.New(c.Meta(), "", src.configMap, srv.ref)
	f.Scope = check.ScopeCluster
	f.Incident = crashLooping(srv.pods)
	if f.Incident {
		f.Since = srv.troubleSince()
	}
	f.Evidence = []string{line}
	spec := &srv.template.Spec
	patchDNSPolicy := fmt.Sprintf(`kubectl patch %s -p '{"spec":{"template":{"spec":{"dnsPolicy":"Default"}}}}'`, check.InNamespace(srv.ref))
	switch snapshot.ResolverOf(spec) {
	case snapshot.ResolverClusterDNS:
		policy := string(spec.DNSPolicy)
		if policy == "" {
			policy = "ClusterFirst (the default)"
		}
		f.Message = fmt.Sprintf("CoreDNS forwards to /etc/resolv.conf, but its pods use dnsPolicy %s: that file "+
			"names the cluster DNS Service, that is CoreDNS itself.", policy)
		f.Evidence = append(f.Evidence, "dnsPolicy: "+policy)
		f.Fix = []string{patchDNSPolicy}
		return &f, ""
	case snapshot.ResolverDNSConfig:
		var clusterIPs []string
		if srv.service != nil {
			clusterIPs = srv.service.Spec.ClusterIPs
		}
		for _, ns := range dnsConfigNameservers(spec) {
			if slices.Contains(clusterIPs, ns) || (isLoopback(ns) && !spec.HostNetwork) {
				f.Message = fmt.Sprintf("CoreDNS forwards to /etc/resolv.conf, and its pods' dnsConfig (dnsPolicy None) "+
					"lists nameserver %s, which is CoreDNS itself.", ns)
				f.Evidence = append(f.Evidence, "dnsConfig.nameservers: "+strings.Join(dnsConfigNameservers(spec), ", "))
				f.Fix = []string{patchDNSPolicy}
				return &f, ""
			}
		}
		return nil, ""
	}
	if s.Source == snapshot.SourceManifests {
		return nil, "" // the nodes are not in the manifests: nothing to judge
	}
	osImage := map[string]string{}
	for i := range s.Nodes {
		osImage[s.Nodes[i].Name] = s.Nodes[i].Status.NodeInfo.OSImage
	}
	configs := map[string]snapshot.KubeletConfig{}
	for _, kc := range s.KubeletConfigs {
		configs[kc.Node] = kc
	}
	var confirmed, likely, unread []string
	for _, node := range dnsNodes(srv) {
		kc, read := configs[node]
		switch {
		case !read || kc.Error != "":
			unread = append(unread, node)
		case kc.ResolvConf == resolvedStub:
			confirmed = append(confirmed, node)
			f.Evidence = append(f.Evidence, fmt.Sprintf("node %s: kubelet resolvConf %s (nameserver 127.0.0.53)", node, kc.ResolvConf))
		case kc.ResolvConf == defaultResolv && strings.Contains(osImage[node], "Ubuntu"):
			likely = append(likely, node)
			f.Evidence = append(f.Evidence, fmt.Sprintf("node %s (%s): kubelet resolvConf %s, normally systemd-resolved's stub on Ubuntu", node, osImage[node], kc.ResolvConf))
		}
	}
	nodeFix := []string{
		"# set resolvConf: " + resolvedUpstream + " in the kubelet configuration of the nodes, or forward to the upstream resolvers' IPs:",
		editCorefile(src),
	}
	switch {
	case len(confirmed) > 0:
		f.Message = fmt.Sprintf("CoreDNS forwards to /etc/resolv.conf, and on %s the kubelet gives pods "+
			"systemd-resolved's loopback stub: queries leaving the cluster loop back.", check.Plural(len(confirmed), "node", "nodes"))
		f.Fix = nodeFix
	case len(likely) > 0:
		f.Severity = check.Medium
		f.Message = fmt.Sprintf("CoreDNS forwards to /etc/resolv.conf, and on %s the kubelet hands pods the "+
			"node's /etc/resolv.conf, which on Ubuntu is normally the loopback stub 127.0.0.53. This cannot be "+
			"confirmed through the API: check the file on the node.", check.Plural(len(likely), "node", "nodes"))
		f.Fix = append(check.FixEach(len(likely), "nodes", func(i int) string {
			return fmt.Sprintf("kubectl debug %s -it --image=busybox -- cat /host/etc/resolv.conf   # a nameserver in 127.0.0.0/8 confirms the loop",
				check.Quote("node/"+likely[i]))
		}), nodeFix...)
	case len(unread) > 0:
		why := s.Unavailable[snapshot.KindKubeletConfigs]
		if why == "" {
			why = configs[unread[0]].Error
		}
		if why == "" {
			why = "none was read for " + strings.Join(unread, ", ")
		}
		return nil, fmt.Sprintf("CoreDNS forwards to /etc/resolv.conf, which it inherits from its nodes, and whether "+
			"the resolver of %s is a loopback stub cannot be confirmed: the kubelet configuration could not be read (%s)",
			check.Plural(len(unread), "node", "nodes"), why)
	default:
		return nil, ""
	}
	if len(unread) > 0 {
		f.Evidence = append(f.Evidence, fmt.Sprintf("kubelet configuration not read on %s", strings.Join(unread, ", ")))
	}
	return &f, ""
}

// dnsNodes are the nodes the server's live pods run on, sorted.
func dnsNodes(srv server) []string {
	var nodes []string
	for _, pod := range srv.pods {
		if snapshot.IsLive(pod) && pod.Spec.NodeName != "" && !slices.Contains(nodes, pod.Spec.NodeName) {
			nodes = append(nodes, pod.Spec.NodeName)
		}
	}
	slices.Sort(nodes)
	return nodes
}

func dnsConfigNameservers(spec *corev1.PodSpec) []string {
	if spec.DNSConfig == nil {
		return nil
	}
	return spec.DNSConfig.Nameservers
}

// forwardsToResolvConf is the Corefile line that forwards to /etc/resolv.conf, or "".
func forwardsToResolvConf(cf *corefile) string {
	for _, b := range cf.blocks {
		for _, p := range b.forwarders() {
			for _, to := range p.upstreams() {
				if to == defaultResolv {
					return fmt.Sprintf("line %d, server block %s: %s %s", p.line, b.zones(), p.name, strings.Join(p.args, " "))
				}
			}
		}
	}
	return ""
}
