package capacity

import (
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// PodIPExhausted finds nodes whose pods cannot start because the node has no pod address left.
type PodIPExhausted struct{}

func (PodIPExhausted) Meta() check.Meta {
	return check.Meta{
		ID:       "pod-ip-exhausted",
		Title:    "Nodes have run out of pod IP addresses",
		Category: check.CategoryCapacity,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindPods, snapshot.KindEvents},
		Optional: append(ownerKinds(), snapshot.KindNodes),
		LiveOnly: true,
		Description: "Finds pods that are assigned to a node but not running, with a FailedCreatePodSandBox Warning event of the " +
			"last 15 minutes in which the network plugin says the node's address range is exhausted (host-local IPAM's " +
			"\"no IP addresses available in range set\" and \"failed to allocate for range\", Calico's \"IPAM allocated only " +
			"0\", Cilium's \"range is full\", the AWS VPC CNI's \"failed to assign an IP address to container\", Azure's \"No " +
			"available addresses\"), grouped by node, with the node's podCIDR and how many pods hold an address of it.",
		Why: "Every new pod on the node stays ContainerCreating: rollouts stall and replacements for failed pods never start, " +
			"while the scheduler keeps placing pods there. Far fewer pods than the range holds means the plugin leaked " +
			"addresses of deleted pods.",
		Remediation: "Move the pods elsewhere (cordon and drain the node) while the range is freed: with fewer pods on the node " +
			"than its range holds, clear the plugin's leaked allocations (host-local keeps them under /var/lib/cni/networks) or " +
			"restart its agent; otherwise lower the kubelet's maxPods to what the range holds, or give nodes larger ranges.",
		References: []string{"https://kubernetes.io/docs/concepts/cluster-administration/networking/"},
		Absorbs:    workloadFindings(),
	}
}

// exhaustedMarkers are the network plugins' words for a node range with no address left.
var exhaustedMarkers = []string{
	"no ip addresses available in range set",
	"failed to allocate for range",
	"ipam allocated only 0",
	"range is full",
	"failed to assign an ip address to container",
	"no available addresses",
	"no more free affinity blocks",
}

// sandboxRecent is how recent the sandbox failure must be: the kubelet retries every few minutes.
const sandboxRecent = 15 * time.Minute

func addressesExhausted(message string) bool {
	lower := strings.ToLower(message)
	return slices.ContainsFunc(exhaustedMarkers, func(m string) bool { return strings.Contains(lower, m) })
}

func (c PodIPExhausted) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	// One pass over the events: the newest exhaustion of each pod.
	type podKey struct{ namespace, name string }
	failures := map[podKey]*corev1.Event{}
	for i := range s.Events {
		e := &s.Events[i]
		if e.Type != corev1.EventTypeWarning || e.Reason != "FailedCreatePodSandBox" || e.InvolvedObject.Kind != "Pod" ||
			!recent(s, e, sandboxRecent) || !addressesExhausted(e.Message) {
			continue
		}
		key := podKey{e.InvolvedObject.Namespace, e.InvolvedObject.Name}
		if have := failures[key]; have == nil || snapshot.LastSeen(e).After(snapshot.LastSeen(have)) {
			failures[key] = e
		}
	}
	if len(failures) == 0 {
		return nil
	}
	var stuck check.Groups[string, *corev1.Pod]
	withAddress := map[string]int{}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if pod.Spec.NodeName == "" {
			continue
		}
		if pod.Status.PodIP != "" && !pod.Spec.HostNetwork && occupies(pod) {
			withAddress[pod.Spec.NodeName]++
		}
		if failures[podKey{pod.Namespace, pod.Name}] != nil && pod.Status.Phase == corev1.PodPending {
			stuck.Add(pod.Spec.NodeName, pod)
		}
	}
	nodes := map[string]*corev1.Node{}
	for i := range s.Nodes {
		nodes[s.Nodes[i].Name] = &s.Nodes[i]
	}
	nodeNames := slices.Sorted(slices.Values(stuck.Keys()))
	var findings []check.Finding
	for _, name := range nodeNames {
		pods := stuck.Get(name)
		var owners []snapshot.Ref
		var newest *corev1.Event
		var times []time.Time
		for _, pod := range pods {
			owners = append(owners, s.TopOwner(pod))
			e := failures[podKey{pod.Namespace, pod.Name}]
			if newest == nil || snapshot.LastSeen(e).After(snapshot.LastSeen(newest)) {
				newest = e
			}
			times = append(times, eventsSince([]*corev1.Event{e})...)
		}
		owners = sortedRefs(owners)
		nodeRef := snapshot.RefTo(snapshot.KindNodes, "", name)
		f := check.New(meta, fmt.Sprintf("Node %s has no pod IP address left: %s of %s cannot start", name,
			check.Plural(len(pods), "pod", "pods"), describeAll(owners)), append([]snapshot.Ref{nodeRef}, owners...)...)
		f.Incident = true
		if node := nodes[name]; node != nil {
			line := fmt.Sprintf("node %s: %s hold an address of the pod network", name, check.Plural(withAddress[name], "pod", "pods"))
			if s.LimitedToNamespace() {
				// The node's pods of other namespaces were not read.
				line = fmt.Sprintf("node %s: %s of namespace %s hold an address of the pod network", name,
					check.Plural(withAddress[name], "pod", "pods"), s.Namespace)
			}
			if cidrs := podCIDRs(node); len(cidrs) > 0 {
				line += fmt.Sprintf("; podCIDR %s holds %s", strings.Join(cidrs, ", "), addressCount(node))
			}
			if max, ok := node.Status.Capacity[corev1.ResourcePods]; ok {
				line += fmt.Sprintf("; max pods %d", max.Value())
			}
			f.Evidence = append(f.Evidence, line)
		}
		f.Evidence = append(f.Evidence, "event on pod "+newest.InvolvedObject.Name+": "+check.EventLine(newest, s.CollectedAt))
		f.Since = check.Earliest(times...)
		f.Fix = []string{
			"kubectl describe node " + check.Quote(name),
			fmt.Sprintf("kubectl get pods -A -o wide --field-selector spec.nodeName=%s", check.Quote(name)),
			fmt.Sprintf("kubectl drain %s --ignore-daemonsets --delete-emptydir-data   # the pods start on nodes with free addresses", check.Quote(name)),
			check.Comment("with fewer pods than the range holds, the network plugin leaked addresses: clear its allocations on the node or restart its agent there, then kubectl uncordon " + name),
		}
		findings = append(findings, f)
	}
	return findings
}

// PodCIDRTooSmall finds nodes whose pod address range holds fewer addresses than they may run pods.
type PodCIDRTooSmall struct{}

func (PodCIDRTooSmall) Meta() check.Meta {
	return check.Meta{
		ID:       "node-podcidr-too-small",
		Title:    "Nodes may run more pods than their podCIDR has addresses",
		Category: check.CategoryCapacity,
		Severity: check.Medium,
		Requires: []snapshot.Kind{snapshot.KindNodes},
		LiveOnly: true,
		Description: "Compares each node's spec.podCIDRs (IPv4 and IPv6; with both, each pod takes one of each) with its pod " +
			"capacity (status.capacity pods, the kubelet's maxPods): a /24 holds 254 pod addresses, so a node allowed 300 pods " +
			"runs out of addresses first. Nodes whose range the network plugin assigns itself have no podCIDR and are not judged.",
		Why: "The scheduler places pods up to the node's max pods, but the ones past the last address stay ContainerCreating " +
			"with sandbox errors: the node looks to have room it does not have.",
		Remediation: "Lower the kubelet's maxPods to what the range holds, or give nodes larger ranges (the controller " +
			"manager's --node-cidr-mask-size, for nodes created after the change).",
		References: []string{"https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/"},
	}
}

func (c PodCIDRTooSmall) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	type shape struct {
		cidrs string
		pods  int64
	}
	var groups check.Groups[shape, *corev1.Node]
	for i := range s.Nodes {
		node := &s.Nodes[i]
		maxPods, ok := node.Status.Capacity[corev1.ResourcePods]
		if !ok || len(podCIDRs(node)) == 0 {
			continue
		}
		if room, bounded := addresses(node); bounded && room.Cmp(big.NewInt(maxPods.Value())) < 0 {
			groups.Add(shape{strings.Join(prefixes(node), ","), maxPods.Value()}, node)
		}
	}
	var findings []check.Finding
	for _, key := range groups.Keys() {
		nodes := groups.Get(key)
		refs := make([]snapshot.Ref, len(nodes))
		names := make([]string, len(nodes))
		for i, n := range nodes {
			refs[i] = snapshot.RefTo(snapshot.KindNodes, "", n.Name)
			names[i] = n.Name
		}
		f := check.New(meta, fmt.Sprintf("%s may run %d pods, but %s pod range (%s) holds %s", check.Plural(len(nodes), "node", "nodes"),
			key.pods, check.PluralForm(len(nodes), "its", "each"), key.cidrs, addressCount(nodes[0])), refs...)
		f.Evidence = check.EvidenceOf(len(nodes), func(i int) string {
			return fmt.Sprintf("node %s: podCIDR %s, max pods %d", nodes[i].Name, strings.Join(podCIDRs(nodes[i]), ", "), key.pods)
		})
		f.Fix = append(check.FixNames(names, "nodes", func(names string) string {
			return "kubectl get nodes " + names + " -o custom-columns=NAME:.metadata.name,CIDRS:.spec.podCIDRs,MAXPODS:.status.capacity.pods"
		}), check.Comment(fmt.Sprintf("set maxPods: %s in the kubelet configuration of these nodes, or give new nodes a larger range (--node-cidr-mask-size)",
			maxPodsFor(nodes[0]))))
		findings = append(findings, f)
	}
	return findings
}

// podCIDRs are a node's pod ranges: podCIDRs, else the older single podCIDR.
func podCIDRs(node *corev1.Node) []string {
	if len(node.Spec.PodCIDRs) > 0 {
		return node.Spec.PodCIDRs
	}
	if node.Spec.PodCIDR != "" {
		return []string{node.Spec.PodCIDR}
	}
	return nil
}

// prefixes are the sizes of a node's ranges, "/24" and "/64", for grouping.
func prefixes(node *corev1.Node) []string {
	var out []string
	for _, c := range podCIDRs(node) {
		if p, err := netip.ParsePrefix(c); err == nil {
			family := "IPv4"
			if p.Addr().Is6() {
				family = "IPv6"
			}
			out = append(out, fmt.Sprintf("%s /%d", family, p.Bits()))
		}
	}
	return out
}

// addresses is how many pods a node's ranges give addresses to: the smallest family's range,
// less its network and broadcast (or, in IPv6, router anycast) addresses. bounded is false when
// no range could be read.
func addresses(node *corev1.Node) (*big.Int, bool) {
	var least *big.Int
	for _, c := range podCIDRs(node) {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			continue
		}
		n := new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-p.Bits()))
		n.Sub(n, big.NewInt(2))
		if n.Sign() < 0 {
			n.SetInt64(0)
		}
		if least == nil || n.Cmp(least) < 0 {
			least = n
		}
	}
	return least, least != nil
}

// maxPodsFor is the most pods a node's range gives addresses to, as a number.
func maxPodsFor(node *corev1.Node) string {
	n, _ := addresses(node)
	return n.String()
}

func addressCount(node *corev1.Node) string {
	n, ok := addresses(node)
	if !ok {
		return "an unknown number of addresses"
	}
	if n.IsInt64() {
		return check.Plural(int(n.Int64()), "address", "addresses")
	}
	return "more addresses than pods"
}
