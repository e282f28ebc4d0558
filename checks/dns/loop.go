package dns

import (
	"fmt"
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
		ID:       "dns-forward-loop-risk",
		Title:    "CoreDNS forwards to a resolver that may lead back to itself",
		Category: check.CategoryDNS,
		Severity: check.High,
		Requires: corefileKinds(),
		Optional: []snapshot.Kind{snapshot.KindKubeletConfigs, snapshot.KindNodes, snapshot.KindPods},
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
	if reason := notEvaluable(s); reason != "" || s.Source == snapshot.SourceManifests {
		return reason
	}
	why, unread := s.Unavailable[snapshot.KindKubeletConfigs]
	if !unread {
		return ""
	}
	var needsNodes bool
	parsedCorefiles(s, func(srv server, src *corefileSource) {
		needsNodes = needsNodes || (forwardsToResolvConf(src.parsed) != "" && srv.template.Spec.DNSPolicy == corev1.DNSDefault)
	})
	if needsNodes {
		return "CoreDNS forwards to /etc/resolv.conf, which it inherits from its nodes, and whether a node's resolver is " +
			"a loopback stub cannot be confirmed: the kubelet configuration could not be read (" + why + ")"
	}
	return ""
}

func (c ForwardLoopRisk) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	osImage := map[string]string{}
	for i := range s.Nodes {
		osImage[s.Nodes[i].Name] = s.Nodes[i].Status.NodeInfo.OSImage
	}
	var findings []check.Finding
	parsedCorefiles(s, func(srv server, src *corefileSource) {
		line := forwardsToResolvConf(src.parsed)
		if line == "" {
			return
		}
		f := check.New(meta, "", src.configMap, srv.ref)
		f.Scope = check.ScopeCluster
		f.Evidence = []string{line}
		switch srv.template.Spec.DNSPolicy {
		case corev1.DNSDefault:
			var confirmed, likely []string
			for _, kc := range kubeletConfigsOf(s, srv) {
				switch {
				case kc.ResolvConf == resolvedStub:
					confirmed = append(confirmed, kc.Node)
					f.Evidence = append(f.Evidence, fmt.Sprintf("node %s: kubelet resolvConf %s (nameserver 127.0.0.53)", kc.Node, kc.ResolvConf))
				case kc.ResolvConf == defaultResolv && strings.Contains(osImage[kc.Node], "Ubuntu"):
					likely = append(likely, kc.Node)
					f.Evidence = append(f.Evidence, fmt.Sprintf("node %s (%s): kubelet resolvConf %s, normally systemd-resolved's stub on Ubuntu", kc.Node, osImage[kc.Node], kc.ResolvConf))
				}
			}
			switch {
			case len(confirmed) > 0:
				f.Message = fmt.Sprintf("CoreDNS forwards to /etc/resolv.conf, and on %s the kubelet gives pods "+
					"systemd-resolved's loopback stub: queries leaving the cluster loop back.", check.Plural(len(confirmed), "node", "nodes"))
			case len(likely) > 0:
				f.Severity = check.Medium
				f.Message = fmt.Sprintf("CoreDNS forwards to /etc/resolv.conf, and on %s the kubelet hands pods the "+
					"node's /etc/resolv.conf, which on Ubuntu is normally the loopback stub 127.0.0.53. This cannot be "+
					"confirmed through the API: check the file on the node.", check.Plural(len(likely), "node", "nodes"))
				f.Fix = append(f.Fix, fmt.Sprintf("kubectl debug node/%s -it --image=busybox -- cat /host/etc/resolv.conf   # a nameserver in 127.0.0.0/8 confirms the loop", likely[0]))
			default:
				return
			}
		default:
			policy := string(srv.template.Spec.DNSPolicy)
			if policy == "" {
				policy = "ClusterFirst (the default)"
			}
			f.Message = fmt.Sprintf("CoreDNS forwards to /etc/resolv.conf, but its pods use dnsPolicy %s: that file "+
				"names the cluster DNS Service, that is CoreDNS itself.", policy)
			f.Evidence = append(f.Evidence, "dnsPolicy: "+policy)
			f.Fix = append(f.Fix, fmt.Sprintf(`kubectl patch -n %s %s -p '{"spec":{"template":{"spec":{"dnsPolicy":"Default"}}}}'`,
				srv.ref.Namespace, srv.ref.KubectlTarget()))
		}
		f.Incident = crashLooping(srv.pods)
		f.Fix = append(f.Fix, "set resolvConf: "+resolvedUpstream+" in the kubelet configuration of the nodes, or forward to the upstream resolvers' IPs: "+editCorefile(src))
		findings = append(findings, f)
	})
	return findings
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

// kubeletConfigsOf are the configurations read for the nodes running this server's pods.
func kubeletConfigsOf(s *snapshot.Snapshot, srv server) []snapshot.KubeletConfig {
	nodes := map[string]bool{}
	for _, pod := range srv.pods {
		nodes[pod.Spec.NodeName] = true
	}
	var out []snapshot.KubeletConfig
	for _, kc := range s.KubeletConfigs {
		if kc.Error == "" && (len(nodes) == 0 || nodes[kc.Node]) {
			out = append(out, kc)
		}
	}
	return out
}
