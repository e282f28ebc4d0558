package capacity

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// PodsPending groups the pods the scheduler cannot place across the cluster by its reason.
//
// pod-unschedulable (workloads) reports each workload's pending pods with the scheduler's words;
// this check answers the question above it: is the cluster short of something many workloads
// need? It fires only when pods of two or more workloads are pending for the same reason, and then
// supersedes their per-workload findings, so the same pods are not listed twice: one workload's
// pending pods stay pod-unschedulable's alone.
type PodsPending struct{}

func (PodsPending) Meta() check.Meta {
	return check.Meta{
		ID:           "pods-pending",
		Title:        "Pods of several workloads are pending for the same scheduling reason",
		Category:     check.CategoryCapacity,
		Severity:     check.High,
		Requires:     []snapshot.Kind{snapshot.KindPods, snapshot.KindNodes},
		Optional:     ownerKinds(),
		LiveOnly:     true,
		WholeCluster: true,
		Description: "Reads the scheduler's PodScheduled message of every Pending pod it could not place (\"0/N nodes are " +
			"available: 3 Insufficient cpu, 2 node(s) had untolerated taint(s) ...\"), takes the reason that rules out the most " +
			"of the nodes left once taints, cordons, node selectors and nodes not ready have narrowed them (Insufficient cpu, memory or another resource, too many pods, taints, cordoned nodes, node selector or " +
			"affinity, volumes, pod affinity or topology spread, host ports), and groups the pods by it across the cluster " +
			"when two or more workloads share it. For resources, it totals what the pending pods request against the most " +
			"any node has free (allocatable minus the requests of its pods) among the Ready, uncordoned nodes whose taints " +
			"they tolerate and whose labels match their nodeSelector. One workload alone is pod-unschedulable's to report.",
		Why: "Many workloads pending for one reason is a cluster out of something (capacity, nodes of a kind, volumes in a " +
			"zone), not one bad spec: scaling, rollouts and rescheduling after a node failure all stall until it is fixed.",
		Remediation: "Act on the shared reason: add nodes (or let the autoscaler) or lower requests when resources are short; " +
			"uncordon nodes; fix taints, labels or node selectors; bind volumes in the zones the pods can run in.",
		References: []string{"https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/"},
		Supersedes: []string{"pod-unschedulable"},
	}
}

// The scheduler's message: "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated
// taint(s). preemption: 0/5 nodes are available: ...". A PreFilter failure has one reason for
// every node and no count.
var (
	schedulerNodes  = regexp.MustCompile(`^0/(\d+) nodes are available: `)
	schedulerReason = regexp.MustCompile(`^(\d+) (.+)$`)
)

// reasonClass is a kind of reason the scheduler gives; order ranks classes that rule out as many
// nodes as each other, the more actionable first.
type reasonClass struct {
	key   string
	label string
	order int
}

// classify puts one of the scheduler's reasons in its class.
func classify(reason string) reasonClass {
	lower := strings.ToLower(reason)
	switch {
	case strings.HasPrefix(reason, "Insufficient "):
		name := strings.TrimPrefix(reason, "Insufficient ")
		order := 2
		switch name {
		case "cpu":
			order = 0
		case "memory":
			order = 1
		}
		return reasonClass{"insufficient:" + name, "Insufficient " + name, order}
	case lower == "too many pods":
		return reasonClass{"too-many-pods", "Too many pods (the nodes' max pods reached)", 3}
	case strings.Contains(lower, "were unschedulable"):
		return reasonClass{"cordoned", "nodes cordoned (unschedulable)", 4}
	case strings.Contains(lower, "taint"):
		return reasonClass{"taints", "node taints the pods do not tolerate", 5}
	case strings.Contains(lower, "node affinity/selector"), strings.Contains(lower, "requested node name"):
		return reasonClass{"node-selector", "node selector or node affinity matches no available node", 6}
	case strings.Contains(lower, "volume"), strings.Contains(lower, "persistentvolume"), strings.Contains(lower, "pvc"),
		strings.Contains(lower, "storage"), strings.Contains(lower, "disk"):
		return reasonClass{"volumes", "volumes: node affinity, zone, binding or attach limits", 7}
	case strings.Contains(lower, "affinity"), strings.Contains(lower, "topology spread"):
		return reasonClass{"pod-affinity", "pod affinity, anti-affinity or topology spread", 8}
	case strings.Contains(lower, "free ports"):
		return reasonClass{"host-ports", "host ports already taken", 9}
	case strings.Contains(lower, "unknown conditions"), strings.Contains(lower, "not ready"):
		return reasonClass{"node-conditions", "nodes not ready", 10}
	}
	return reasonClass{"other:" + reason, reason, 11}
}

// schedulingReason is the class of reason that rules out the most nodes in the scheduler's
// message, and the message's node count; ok is false for a message it cannot read.
func schedulingReason(message string) (class reasonClass, nodes int, ok bool) {
	m := schedulerNodes.FindStringSubmatch(message)
	if m == nil {
		return reasonClass{}, 0, false
	}
	nodes, _ = strconv.Atoi(m[1])
	body := message[len(m[0]):]
	if end := strings.Index(body, ". "); end >= 0 {
		body = body[:end]
	}
	body = strings.TrimSuffix(body, ".")
	counts := map[reasonClass]int{}
	for _, part := range strings.Split(body, ", ") {
		count, reason := nodes, strings.TrimSpace(part)
		if r := schedulerReason.FindStringSubmatch(reason); r != nil {
			count, _ = strconv.Atoi(r[1])
			reason = r[2]
		}
		if reason == "" {
			continue
		}
		c := classify(reason)
		counts[c] = max(counts[c], count)
	}
	// Taints, cordons, node selectors and nodes not ready narrow where a pod may go, mostly by
	// design; what failed it on the nodes left (resources, volumes, affinity) is what to fix.
	narrowing := func(c reasonClass) bool {
		switch c.key {
		case "taints", "cordoned", "node-selector", "node-conditions":
			return true
		}
		return false
	}
	best, most := reasonClass{}, -1
	for c, n := range counts {
		better := n > most || (n == most && (c.order < best.order || (c.order == best.order && c.key < best.key)))
		if most >= 0 && narrowing(c) != narrowing(best) {
			better = narrowing(best)
		}
		if better {
			best, most = c, n
		}
	}
	return best, nodes, most >= 0
}

// pendingGroup is the pending pods of one reason class, by workload.
type pendingGroup struct {
	class  reasonClass
	owners check.Groups[snapshot.Ref, *corev1.Pod]
}

func (c PodsPending) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	groups := map[string]*pendingGroup{}
	var order []string
	for i := range s.Pods {
		pod := &s.Pods[i]
		cond := unschedulable(pod)
		if cond == nil {
			continue
		}
		class, _, ok := schedulingReason(cond.Message)
		if !ok {
			continue
		}
		g := groups[class.key]
		if g == nil {
			g = &pendingGroup{class: class}
			groups[class.key] = g
			order = append(order, class.key)
		}
		g.owners.Add(s.TopOwner(pod), pod)
	}
	slices.SortFunc(order, func(a, b string) int {
		if d := groups[a].class.order - groups[b].class.order; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	var findings []check.Finding
	for _, key := range order {
		g := groups[key]
		owners := g.owners.Keys()
		if len(owners) < 2 {
			continue
		}
		findings = append(findings, pendingFinding(s, meta, g))
	}
	return findings
}

func pendingFinding(s *snapshot.Snapshot, meta check.Meta, g *pendingGroup) check.Finding {
	owners := sortedRefs(slices.Clone(g.owners.Keys()))
	var pods []*corev1.Pod
	var evidence []string
	var since []time.Time
	for _, owner := range owners {
		group := g.owners.Get(owner)
		pods = append(pods, group...)
		cond := unschedulable(group[0])
		line := fmt.Sprintf("%s: %s pending", owner.Describe(), check.Plural(len(group), "pod", "pods"))
		if t := cond.LastTransitionTime.Time; !t.IsZero() {
			line += " " + check.For(t, s.CollectedAt)
			since = append(since, t)
		}
		evidence = append(evidence, line+" ("+check.OneLine(cond.Message, 200)+")")
	}
	f := check.New(meta, fmt.Sprintf("%s of %d workloads are pending across the cluster for the same reason: %s",
		check.Plural(len(pods), "pod", "pods"), len(owners), g.class.label), owners...)
	f.Incident = true
	f.Scope = check.ScopeCluster
	f.Since = check.Earliest(since...)
	var head []string
	if name, ok := strings.CutPrefix(g.class.key, "insufficient:"); ok {
		// A workload's pods share their selectors and tolerations: one of each stands for where
		// they could run, so nodes are matched once per workload, not once per pod.
		var first []*corev1.Pod
		for _, owner := range owners {
			first = append(first, g.owners.Get(owner)[0])
		}
		head = append(head, resourceTotals(s, pods, first, corev1.ResourceName(name))...)
	}
	f.Evidence = append(head, check.LimitEvidence(evidence)...)
	f.Fix = append([]string{"kubectl get pods -A --field-selector=status.phase=Pending -o wide"}, classFixes(s, g.class)...)
	return f
}

// resourceTotals compares what pods request of name, in all and at most for one pod, with the
// most a node has free among those one of placements could otherwise run on.
func resourceTotals(s *snapshot.Snapshot, pods, placements []*corev1.Pod, name corev1.ResourceName) []string {
	var total, largest resource.Quantity
	for _, pod := range pods {
		q := podRequests(pod)[name]
		total.Add(q)
		if q.Cmp(largest) > 0 {
			largest = q
		}
	}
	lines := []string{fmt.Sprintf("the %s request %s %s in all, %s the largest pod",
		check.Plural(len(pods), "pending pod", "pending pods"), name, quantity(name, total), quantity(name, largest))}
	free := freeByNode(s)
	var best resource.Quantity
	bestNode, candidates := "", 0
	for i := range s.Nodes {
		node := &s.Nodes[i]
		if !slices.ContainsFunc(placements, func(p *corev1.Pod) bool { return fitsOtherwise(p, node) }) {
			continue
		}
		candidates++
		if q, ok := free[node.Name][name]; ok && (bestNode == "" || q.Cmp(best) > 0) {
			best, bestNode = q, node.Name
		}
	}
	switch {
	case candidates == 0:
		lines = append(lines, "no Ready, uncordoned node both tolerates their taints and matches their nodeSelector")
	case bestNode == "":
		lines = append(lines, fmt.Sprintf("none of the %s they could otherwise run on has %s allocatable",
			check.Plural(candidates, "node", "nodes"), name))
	default:
		lines = append(lines, fmt.Sprintf("the most %s free on the %s they could otherwise run on: %s on node %s (allocatable minus its pods' requests)",
			name, check.Plural(candidates, "node", "nodes"), quantity(name, best), bestNode))
	}
	return lines
}

// classFixes are the commands that show, or remove, what a class of reason is about.
func classFixes(s *snapshot.Snapshot, class reasonClass) []string {
	switch {
	case strings.HasPrefix(class.key, "insufficient:"):
		return []string{"kubectl describe nodes | grep -A 8 'Allocated resources'",
			check.Comment("add nodes (or raise the autoscaler's maximum), or lower the workloads' requests")}
	case class.key == "too-many-pods":
		return []string{"kubectl get nodes -o custom-columns=NAME:.metadata.name,PODS:.status.allocatable.pods"}
	case class.key == "cordoned":
		var cordoned []string
		for i := range s.Nodes {
			if s.Nodes[i].Spec.Unschedulable {
				cordoned = append(cordoned, s.Nodes[i].Name)
			}
		}
		fixes := []string{"kubectl get nodes"}
		return append(fixes, check.FixNames(cordoned, "nodes", func(names string) string {
			return "kubectl uncordon " + names + "   # once their maintenance is over"
		})...)
	case class.key == "taints":
		return []string{"kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints"}
	case class.key == "node-selector":
		return []string{"kubectl get nodes --show-labels"}
	case class.key == "volumes":
		return []string{"kubectl get pvc -A", "kubectl get pv -o custom-columns=NAME:.metadata.name,CLAIM:.spec.claimRef.name,NODE-AFFINITY:.spec.nodeAffinity"}
	case class.key == "pod-affinity":
		return []string{check.Comment("relax required pod anti-affinity, or topology spread with whenUnsatisfiable: DoNotSchedule, or add nodes in the missing domains")}
	case class.key == "host-ports":
		return []string{check.Comment("the pods ask for a hostPort every node already has taken: drop hostPort, or add nodes")}
	}
	return []string{"kubectl get nodes -o wide"}
}
