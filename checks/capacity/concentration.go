package capacity

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// ReplicasConcentrated finds workloads whose ready replicas all run on one node, or in one zone.
//
// replicas-not-spread (reliability) judges the template: nothing asks the scheduler to keep the
// replicas apart. This judges where they are now, spread constraints or not (ScheduleAnyway gives
// way on a full cluster, and pods stay where they landed): when both fire about a workload, this
// one supersedes the static finding.
type ReplicasConcentrated struct{}

func (ReplicasConcentrated) Meta() check.Meta {
	return check.Meta{
		ID:       "replicas-concentrated",
		Title:    "All ready replicas of a workload run on one node or in one zone",
		Category: check.CategoryCapacity,
		Severity: check.Medium,
		Requires: []snapshot.Kind{snapshot.KindPods, snapshot.KindNodes},
		Optional: ownerKinds(),
		LiveOnly: true,
		Description: "Groups the ready pods of each Deployment, StatefulSet, ReplicaSet and ReplicationController by node and by " +
			"zone (topology.kubernetes.io/zone): two or more ready replicas all on one node, where the cluster has two or more " +
			"Ready nodes, are reported medium; critical when that node is not Ready (the replicas are about to go), high when " +
			"it is cordoned. All on several nodes of one zone, where Ready nodes span two or more zones, is low.",
		Why: "One node's failure, drain or upgrade takes every replica down at once, however many there are; one zone's outage " +
			"does the same to replicas in one zone.",
		Remediation: "Restart the rollout so the scheduler places the pods again (its default spreading prefers other nodes), " +
			"and add a topologySpreadConstraint on kubernetes.io/hostname (and topology.kubernetes.io/zone) so it stays so.",
		References: []string{"https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/"},
		Supersedes: []string{"replicas-not-spread"},
	}
}

func (c ReplicasConcentrated) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	nodes := map[string]*corev1.Node{}
	ready, zones := 0, map[string]bool{}
	for i := range s.Nodes {
		node := &s.Nodes[i]
		nodes[node.Name] = node
		if !nodeTaken(node) {
			ready++
			if z := node.Labels[snapshot.LabelZone]; z != "" {
				zones[z] = true
			}
		}
	}
	if ready < 2 {
		return nil // one node to run on: nothing could be spread
	}
	var placed check.Groups[snapshot.Ref, *corev1.Pod]
	for i := range s.Pods {
		pod := &s.Pods[i]
		if pod.Spec.NodeName == "" || !snapshot.IsLive(pod) || !snapshot.PodReady(pod) {
			continue
		}
		if owner := s.TopOwner(pod); replicated(owner.Kind) {
			placed.Add(owner, pod)
		}
	}
	workloads := map[snapshot.Ref]snapshot.Workload{}
	var findings []check.Finding
	for _, owner := range placed.Keys() {
		pods := placed.Get(owner)
		if len(pods) < 2 {
			continue
		}
		onNodes, inZones := map[string]bool{}, map[string]bool{}
		for _, pod := range pods {
			onNodes[pod.Spec.NodeName] = true
			if node := nodes[pod.Spec.NodeName]; node != nil {
				inZones[node.Labels[snapshot.LabelZone]] = true
			}
		}
		var f check.Finding
		switch {
		case len(onNodes) == 1:
			f = onOneNode(meta, owner, pods, nodes[pods[0].Spec.NodeName], pods[0].Spec.NodeName)
		case len(zones) >= 2 && len(inZones) == 1 && !inZones[""]:
			zone := pods[0].Spec.NodeName
			if node := nodes[zone]; node != nil {
				zone = node.Labels[snapshot.LabelZone]
			}
			f = check.New(meta, fmt.Sprintf("All %d ready replicas of %s run in zone %s, on %d nodes, while Ready nodes span %d zones: "+
				"the zone's outage takes them all", len(pods), owner.Describe(), zone, len(onNodes), len(zones)), owner)
			f.Severity = check.Low
			f.Evidence = []string{fmt.Sprintf("nodes %s, all in zone %s", joinSorted(onNodes), zone)}
		default:
			continue
		}
		if len(workloads) == 0 {
			for _, w := range s.Workloads() {
				workloads[w.Ref] = w
			}
		}
		f.Fix = append(f.Fix, fmt.Sprintf("kubectl rollout restart %s   # the scheduler places the pods again, preferring other nodes", check.InNamespace(owner)))
		if w, ok := workloads[owner]; ok && !snapshot.SpreadsReplicas(templateOf(w)) {
			key := snapshot.LabelHostname
			if len(onNodes) > 1 {
				key = snapshot.LabelZone
			}
			f.Fix = append(f.Fix, check.TemplatePatch(w, map[string]any{"spec": map[string]any{"topologySpreadConstraints": []any{map[string]any{
				"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
				"labelSelector": map[string]any{"matchLabels": w.Labels},
			}}}}, "keeps them apart from now on; ScheduleAnyway still schedules where spreading is impossible"))
		}
		findings = append(findings, f)
	}
	return findings
}

// onOneNode is the finding about replicas that all run on one node, graver the closer it is
// to failing.
func onOneNode(meta check.Meta, owner snapshot.Ref, pods []*corev1.Pod, node *corev1.Node, name string) check.Finding {
	nodeRef := snapshot.RefTo(snapshot.KindNodes, "", name)
	f := check.New(meta, fmt.Sprintf("All %d ready replicas of %s run on node %s: its failure takes them all", len(pods), owner.Describe(), name),
		owner, nodeRef)
	state := "Ready"
	switch {
	case node == nil:
		state = "not among the nodes read"
	case !snapshot.NodeReady(node):
		f.Severity, f.Incident = check.Critical, true
		state = "not Ready"
		f.Message = fmt.Sprintf("All %d ready replicas of %s run on node %s, which is not Ready: they are about to go down together",
			len(pods), owner.Describe(), name)
	case node.Spec.Unschedulable:
		f.Severity = check.High
		state = "cordoned: a drain would evict every replica at once"
	}
	f.Evidence = []string{fmt.Sprintf("node %s: %s; %s", name, check.Plural(len(pods), "ready replica", "ready replicas"), state)}
	return f
}

// replicated are the owners whose replicas are interchangeable and may run anywhere.
func replicated(kind string) bool {
	switch kind {
	case "Deployment", "StatefulSet", "ReplicaSet", "ReplicationController":
		return true
	}
	return false
}

func templateOf(w snapshot.Workload) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: w.Labels}, Spec: *w.Spec}
}

func joinSorted(set map[string]bool) string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
