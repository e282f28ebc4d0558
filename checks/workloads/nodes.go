package workloads

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// NodeNotReady finds nodes whose kubelet does not report Ready.
type NodeNotReady struct{}

func (NodeNotReady) Meta() check.Meta {
	return check.Meta{
		ID:       "node-not-ready",
		Title:    "Nodes are not Ready",
		Category: check.CategoryWorkloads,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindNodes},
		Optional: []snapshot.Kind{snapshot.KindPods},
		LiveOnly: true,
		Links:    []check.Link{nodeNotReadyLink()},
		Description: "Looks for nodes whose Ready condition is False (the kubelet reports a problem) or Unknown (the " +
			"kubelet stopped reporting), with how long ago that changed and how many pods are on them.",
		Why: "Pods on a NotReady node stop being served and are evicted after the toleration period; new pods are not " +
			"scheduled there. Critical when half or more of the nodes are affected.",
		Remediation: "Look at the node's conditions and events, then at the kubelet and container runtime on the machine " +
			"(journalctl -u kubelet). Unknown usually means the node is down or cut off from the control plane. Drain " +
			"the node if it will not recover soon.",
		References: []string{
			"https://kubernetes.io/docs/concepts/architecture/nodes/#condition",
			"https://kubernetes.io/docs/tasks/debug/debug-cluster/#example-debugging-a-down-unreachable-node",
		},
	}
}

func (c NodeNotReady) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	podsPerNode := map[string]int{}
	for i := range s.Pods {
		if snapshot.IsLive(&s.Pods[i]) {
			podsPerNode[s.Pods[i].Spec.NodeName]++
		}
	}
	// With -n only one namespace's pods were read: a per-node count would mislead.
	_, podsUnreadable := s.Unavailable[snapshot.KindPods]
	countPods := !podsUnreadable && s.Namespace == ""
	var refs []snapshot.Ref
	var names, evidence []string
	var since []time.Time
	for i := range s.Nodes {
		node := &s.Nodes[i]
		ready := condition(node, corev1.NodeReady)
		if ready != nil && ready.Status == corev1.ConditionTrue {
			continue
		}
		refs = append(refs, snapshot.RefTo(snapshot.KindNodes, "", node.Name))
		names = append(names, node.Name)
		line := fmt.Sprintf("node %s: ", node.Name)
		if ready == nil {
			line += "no Ready condition reported"
		} else {
			line += fmt.Sprintf("Ready=%s", ready.Status)
			if ready.Reason != "" {
				line += " (" + ready.Reason + ")"
			}
			if !ready.LastTransitionTime.IsZero() {
				line += " " + check.For(ready.LastTransitionTime.Time, s.CollectedAt)
				since = append(since, ready.LastTransitionTime.Time)
			}
			if ready.Message != "" {
				line += ": " + ready.Message
			}
		}
		if countPods {
			line += fmt.Sprintf("; %s on it", check.Plural(podsPerNode[node.Name], "live pod", "live pods"))
		}
		evidence = append(evidence, line)
	}
	if len(refs) == 0 {
		return nil
	}
	f := check.New(meta, fmt.Sprintf("%d of %d nodes %s not Ready", len(refs), len(s.Nodes), check.PluralForm(len(refs), "is", "are")), refs...)
	f.Incident = true
	f.Scope = check.ScopeCluster
	if 2*len(refs) >= len(s.Nodes) {
		f.Severity = check.Critical
	}
	f.Evidence = check.LimitEvidence(evidence)
	f.Since = check.Earliest(since...)
	// One drain a node: whether a node will recover is decided node by node.
	f.Fix = append(describeNodes(names), check.FixEach(len(names), "nodes", func(i int) string {
		return fmt.Sprintf("kubectl drain %s --ignore-daemonsets --delete-emptydir-data   # only if it will not recover: evicts its pods, emptyDir data is lost",
			check.Quote(names[i]))
	})...)
	return []check.Finding{f}
}

// NodePressure finds nodes under memory, disk or PID pressure.
type NodePressure struct{}

func (NodePressure) Meta() check.Meta {
	return check.Meta{
		ID:       "node-pressure",
		Title:    "Nodes are under memory, disk or PID pressure",
		Category: check.CategoryWorkloads,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindNodes},
		// With the metrics API, kubectl top shows which pods use the memory.
		Optional: []snapshot.Kind{snapshot.KindPodMetrics},
		LiveOnly: true,
		Links:    []check.Link{nodePressureLink()},
		Description: "Looks for nodes reporting MemoryPressure, DiskPressure or PIDPressure, one finding per kind of " +
			"pressure, listing the nodes.",
		Why: "Under pressure the kubelet evicts pods, starting with BestEffort and those over their requests, and the " +
			"scheduler avoids the node; memory pressure ends in OOM kills, disk pressure in failed image pulls and logs.",
		Remediation: "Memory: find the pods using the most (kubectl top pods) and set memory limits; disk: clean images and " +
			"logs or grow the disk; PIDs: find the process leaking threads. Add nodes if the cluster is simply full.",
		References: []string{
			"https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/",
		},
	}
}

func (c NodePressure) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	pressures := []struct {
		condition corev1.NodeConditionType
		resource  string
	}{{corev1.NodeMemoryPressure, "memory"}, {corev1.NodeDiskPressure, "disk"}, {corev1.NodePIDPressure, "PID"}}
	for _, pressure := range pressures {
		kind := pressure.condition
		var refs []snapshot.Ref
		var names, evidence []string
		var since []time.Time
		for i := range s.Nodes {
			node := &s.Nodes[i]
			cond := condition(node, kind)
			if cond == nil || cond.Status != corev1.ConditionTrue {
				continue
			}
			refs = append(refs, snapshot.RefTo(snapshot.KindNodes, "", node.Name))
			names = append(names, node.Name)
			line := fmt.Sprintf("node %s: %s=True", node.Name, kind)
			if !cond.LastTransitionTime.IsZero() {
				line += " " + check.For(cond.LastTransitionTime.Time, s.CollectedAt)
				since = append(since, cond.LastTransitionTime.Time)
			}
			if cond.Message != "" {
				line += ": " + cond.Message
			}
			evidence = append(evidence, line)
		}
		if len(refs) == 0 {
			continue
		}
		f := check.New(meta, fmt.Sprintf("%s under %s pressure", check.Plural(len(refs), "node is", "nodes are"), pressure.resource), refs...)
		f.Incident = true
		f.Scope = check.ScopeObject
		if len(refs) > 1 {
			f.Scope = check.ScopeCluster
		}
		f.Evidence = check.LimitEvidence(evidence)
		f.Since = check.Earliest(since...)
		f.Fix = describeNodes(names)
		if kind == corev1.NodeMemoryPressure && check.MetricsServed(s) {
			f.Fix = append(f.Fix, "kubectl top pods -A --sort-by=memory")
		}
		findings = append(findings, f)
	}
	return findings
}

// describeNodes is the command that shows the nodes' conditions, events and pods.
func describeNodes(names []string) []string {
	return check.FixNames(names, "nodes", func(names string) string { return "kubectl describe node " + names })
}

func condition(node *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == t {
			return &node.Status.Conditions[i]
		}
	}
	return nil
}
