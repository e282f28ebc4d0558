// Package conntrack checks the nodes' connection-tracking tables: how full they are and whether
// the kernel drops packets because it cannot track them (measured by node_exporter), whether
// node reports say the table is full, and whether kube-proxy sizes the table too small.
package conntrack

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const (
	referenceKubeProxy = "https://kubernetes.io/docs/reference/config-api/kube-proxy-config.v1alpha1/#kubeproxy-config-k8s-io-v1alpha1-KubeProxyConntrackConfiguration"
	referenceRace      = "https://www.weave.works/blog/racy-conntrack-and-dns-lookup-timeouts"
)

// nodesScope is how wide a finding about nodes is: one node is one object's trouble (it ranks
// below a cluster-wide outage of equal severity), several are the cluster's, as for node pressure.
func nodesScope(nodes int) check.Scope {
	if nodes > 1 {
		return check.ScopeCluster
	}
	return check.ScopeObject
}

// measurementContext are the kinds the collector needs to find what to measure (a Prometheus
// Service, node-exporter pods) and to name the nodes measured, the checks to tell what runs on
// them, and their fixes to tell whether a kube-proxy DaemonSet sizes the table.
func measurementContext() []snapshot.Kind {
	return []snapshot.Kind{snapshot.KindNodes, snapshot.KindPods, snapshot.KindServices, snapshot.KindDaemonSets}
}

// nodeRef names a node in findings.
func nodeRef(name string) snapshot.Ref { return snapshot.RefTo(snapshot.KindNodes, "", name) }

// count prints 131072 as 131,072: table sizes are read by people.
func count(v float64) string {
	digits := strconv.FormatFloat(v, 'f', 0, 64)
	var b strings.Builder
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 && digits[0] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// nodeLoad is what runs on a node: node_exporter does not say which pods open the connections,
// so where the load comes from is told by the workloads with the most pods there.
type nodeLoad struct {
	snap *snapshot.Snapshot
	pods []*corev1.Pod
}

// podsOnNodes lists the live pods of each node; owners are looked up only for the nodes a
// finding describes.
func podsOnNodes(s *snapshot.Snapshot) map[string]*nodeLoad {
	out := map[string]*nodeLoad{}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if pod.Spec.NodeName == "" || !snapshot.IsLive(pod) {
			continue
		}
		load := out[pod.Spec.NodeName]
		if load == nil {
			load = &nodeLoad{snap: s}
			out[pod.Spec.NodeName] = load
		}
		load.pods = append(load.pods, pod)
	}
	return out
}

// count is the number of live pods on the node.
func (l *nodeLoad) count() int {
	if l == nil {
		return 0
	}
	return len(l.pods)
}

// describe reads "57 pods, most from deployment shop/api (12)".
func (l *nodeLoad) describe() string {
	if l == nil {
		return "no pods seen on it"
	}
	owners := map[snapshot.Ref]int{}
	for _, pod := range l.pods {
		owners[l.snap.TopOwner(pod)]++
	}
	var top snapshot.Ref
	for ref, n := range owners {
		if n > owners[top] || (n == owners[top] && ref.String() < top.String()) {
			top = ref
		}
	}
	text := check.Plural(len(l.pods), "pod", "pods")
	if owners[top] > 1 {
		text += fmt.Sprintf(", most from %s (%d)", top.Describe(), owners[top])
	}
	return text
}

// unmeasuredNodes lists the nodes in the snapshot that no source measured.
func unmeasuredNodes(s *snapshot.Snapshot, measured func(*snapshot.ConntrackNode) bool) []string {
	seen := map[string]bool{}
	if s.Conntrack != nil {
		for i := range s.Conntrack.Nodes {
			if measured(&s.Conntrack.Nodes[i]) {
				seen[s.Conntrack.Nodes[i].Node] = true
			}
		}
	}
	var out []string
	for i := range s.Nodes {
		if !seen[s.Nodes[i].Name] && !isWindows(&s.Nodes[i]) {
			out = append(out, s.Nodes[i].Name)
		}
	}
	return out
}

// isWindows: Windows nodes have no netfilter, so no conntrack table.
func isWindows(node *corev1.Node) bool { return node.Labels[corev1.LabelOSStable] == "windows" }

// sourcesEvidence says which sources measured and which could not, so a partial picture is
// never mistaken for a whole one.
func sourcesEvidence(s *snapshot.Snapshot, unmeasured []string) []string {
	var out []string
	if s.Conntrack != nil && len(s.Conntrack.Sources) > 0 {
		out = append(out, "measured by: "+strings.Join(s.Conntrack.Sources, "; "))
	}
	if len(unmeasured) > 0 {
		out = append(out, fmt.Sprintf("not measured: %s (%s)", check.Plural(len(unmeasured), "node", "nodes"), strings.Join(limitNames(unmeasured, 8), ", ")))
		if s.Conntrack != nil {
			for _, why := range s.Conntrack.Unused {
				out = append(out, "not used: "+why)
			}
		}
	}
	return out
}

func limitNames(names []string, n int) []string {
	if len(names) <= n {
		return names
	}
	return append(names[:n:n], fmt.Sprintf("%d more", len(names)-n))
}

// kubeProxyFix shows kube-proxy's conntrack settings and restarts it, which is when it applies
// them. Nothing when no kube-proxy DaemonSet is in view: without one (a CNI replaces it, or it
// runs outside Kubernetes), or unable to tell, only the sysctl on the node raises the table.
func kubeProxyFix(s *snapshot.Snapshot) []string {
	ds := kubeProxyDaemonSet(s)
	if ds == nil {
		return nil
	}
	show := fmt.Sprintf(`kubectl get daemonset -n kube-system %s -o jsonpath='{.spec.template.spec.containers[*].command}{" "}{.spec.template.spec.containers[*].args}'`,
		check.Quote(ds.Name))
	if kp, reason := findKubeProxy(s); reason == "" && kp.configMap != "" {
		show = fmt.Sprintf("kubectl get configmap -n kube-system %s -o yaml | grep -A4 'conntrack:'", check.Quote(kp.configMap))
	}
	return []string{show, "kubectl rollout restart -n kube-system " + check.Quote("daemonset/"+ds.Name)}
}

// showTableFix reads each node's table as the kernel sees it.
func showTableFix(nodes []string) []string {
	return check.FixEach(len(nodes), "nodes", func(i int) string {
		return fmt.Sprintf("kubectl debug %s -it --profile=sysadmin --image=busybox -- "+
			"cat /proc/sys/net/netfilter/nf_conntrack_count /proc/sys/net/netfilter/nf_conntrack_max", check.Quote("node/"+nodes[i]))
	})
}

// raiseTableFix are the commands that raise nodes' tables: kube-proxy's setting, and the sysctl
// directly on each node (where kube-proxy leaves it alone, or runs on none), to at least twice
// the node's current limit.
func raiseTableFix(s *snapshot.Snapshot, nodes []*snapshot.ConntrackNode) []string {
	return append(kubeProxyFix(s), check.FixEach(len(nodes), "nodes", func(i int) string {
		target := 262144.0
		for target < 2*nodes[i].Limit {
			target *= 2
		}
		return fmt.Sprintf("kubectl debug %s -it --profile=sysadmin --image=busybox -- "+
			"sysctl -w net.netfilter.nf_conntrack_max=%s", check.Quote("node/"+nodes[i].Node), strconv.FormatFloat(target, 'f', 0, 64))
	})...)
}

// Checks is every check of the family, as the catalog lists it.
func Checks() []check.Check {
	return []check.Check{TableUsage{}, Drops{}, TableFullReported{}, TableSmall{}}
}
