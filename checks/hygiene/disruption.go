package hygiene

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// replicated is a controller that keeps a number of replicas, with what it selects.
type replicated struct {
	ref      snapshot.Ref
	replicas int32
	template *corev1.PodTemplateSpec
	selector *metav1.LabelSelector
}

// replicatedControllers lists Deployments, StatefulSets, ReplicationControllers and the
// ReplicaSets no controller owns, with their desired replicas (the API default is 1).
func replicatedControllers(s *snapshot.Snapshot) []replicated {
	var out []replicated
	desired := func(r *int32) int32 {
		if r == nil {
			return 1
		}
		return *r
	}
	for i := range s.Deployments {
		d := &s.Deployments[i]
		out = append(out, replicated{snapshot.RefTo(snapshot.KindDeployments, d.Namespace, d.Name), desired(d.Spec.Replicas), &d.Spec.Template, d.Spec.Selector})
	}
	for i := range s.StatefulSets {
		st := &s.StatefulSets[i]
		out = append(out, replicated{snapshot.RefTo(snapshot.KindStatefulSets, st.Namespace, st.Name), desired(st.Spec.Replicas), &st.Spec.Template, st.Spec.Selector})
	}
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		if metav1.GetControllerOfNoCopy(rs) == nil {
			out = append(out, replicated{snapshot.RefTo(snapshot.KindReplicaSets, rs.Namespace, rs.Name), desired(rs.Spec.Replicas), &rs.Spec.Template, rs.Spec.Selector})
		}
	}
	for i := range s.ReplicationControllers {
		rc := &s.ReplicationControllers[i]
		if rc.Spec.Template != nil {
			out = append(out, replicated{snapshot.RefTo(snapshot.KindReplicationControllers, rc.Namespace, rc.Name), desired(rc.Spec.Replicas),
				rc.Spec.Template, &metav1.LabelSelector{MatchLabels: rc.Spec.Selector}})
		}
	}
	return out
}

// DisruptionBlocked finds workloads whose PodDisruptionBudgets allow no eviction at all.
type DisruptionBlocked struct{}

func (DisruptionBlocked) Meta() check.Meta {
	return check.Meta{
		ID:       "pdb-blocks-eviction",
		Title:    "PodDisruptionBudgets allow no eviction",
		Category: check.CategoryReliability,
		Severity: check.Medium,
		Requires: []snapshot.Kind{snapshot.KindDeployments, snapshot.KindStatefulSets, snapshot.KindReplicaSets, snapshot.KindPodDisruptionBudgets},
		Optional: optionalKinds(),
		Description: "For each Deployment, StatefulSet, ReplicationController and bare ReplicaSet with replicas, finds the " +
			"PodDisruptionBudgets that select its pods and computes, as the disruption controller does, how many pods " +
			"they let be evicted when every replica is healthy: maxUnavailable, or replicas − minAvailable " +
			"(percentages of the replicas, rounded up). Reported when that is zero (a single replica under " +
			"minAvailable: 1 is the common case), or when two budgets select the same pods, which the eviction API " +
			"refuses outright. Live, the evidence adds the budget's current disruptionsAllowed.",
		Why: "A node drain evicts through the budgets: with none allowed, kubectl drain, cluster upgrades and the " +
			"autoscaler's scale-down wait on these pods for ever (or until someone deletes them by hand, with no " +
			"budget at all). A budget that protects a single replica cannot keep it available anyway: the node's " +
			"maintenance takes it down or does not happen.",
		Remediation: "Run enough replicas that the budget allows one eviction (the fix scales to minAvailable + 1), or " +
			"set the budget to maxUnavailable: 1; keep one budget per set of pods.",
		References: []string{referenceDisruption, "https://kubernetes.io/docs/concepts/workloads/pods/disruptions/#pod-disruption-budgets"},
	}
}

func (c DisruptionBlocked) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	// Each selector is parsed once: a namespace's controllers are each matched against all of
	// its budgets.
	type budget struct {
		pdb      *policyv1.PodDisruptionBudget
		selector labels.Selector
	}
	budgets := map[string][]budget{}
	for i := range s.PodDisruptionBudgets {
		pdb := &s.PodDisruptionBudgets[i]
		// In policy/v1 a null selector selects no pod, an empty one every pod of the namespace.
		if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil {
			budgets[pdb.Namespace] = append(budgets[pdb.Namespace], budget{pdb, sel})
		}
	}
	var findings []check.Finding
	for _, r := range replicatedControllers(s) {
		if r.replicas < 1 {
			continue
		}
		var matching []*policyv1.PodDisruptionBudget
		for _, b := range budgets[r.ref.Namespace] {
			if b.selector.Matches(labels.Set(r.template.Labels)) {
				matching = append(matching, b.pdb)
			}
		}
		if len(matching) == 0 {
			continue
		}
		refs := []snapshot.Ref{r.ref}
		var evidence []string
		for _, pdb := range matching {
			refs = append(refs, snapshot.RefTo(snapshot.KindPodDisruptionBudgets, pdb.Namespace, pdb.Name))
			evidence = append(evidence, describeBudget(pdb, r.replicas, s.Source == snapshot.SourceCluster))
		}
		var f check.Finding
		switch {
		case len(matching) > 1:
			f = check.New(meta, fmt.Sprintf("%d PodDisruptionBudgets select the pods of %s: the eviction API refuses to evict "+
				"a pod more than one budget covers, so no drain can move them", len(matching), r.ref.Describe()), refs...)
			f.Fix = []string{check.Comment(fmt.Sprintf("keep one budget for the pods of %s and delete the others (kubectl delete -n %s pdb/NAME)",
				r.ref.Describe(), r.ref.Namespace))}
		default:
			pdb := matching[0]
			allowed, ok := allowedDisruptions(pdb, r.replicas)
			if !ok || allowed > 0 {
				continue
			}
			f = check.New(meta, fmt.Sprintf("PodDisruptionBudget %s allows no eviction of the %s of %s: every node drain and "+
				"upgrade waits on %s for ever", pdb.Name, check.Plural(int(r.replicas), "replica", "replicas"), r.ref.Describe(),
				check.PluralForm(int(r.replicas), "it", "them")), refs...)
			f.Fix = []string{budgetFix(r, pdb)}
		}
		f.Evidence = evidence
		findings = append(findings, f)
	}
	return findings
}

// allowedDisruptions is how many of replicas healthy pods the budget lets be evicted, computed
// as the disruption controller does (percentages of the expected count, rounded up).
func allowedDisruptions(pdb *policyv1.PodDisruptionBudget, replicas int32) (int, bool) {
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(replicas), true)
		return n, err == nil
	case pdb.Spec.MinAvailable != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(replicas), true)
		return int(replicas) - n, err == nil
	}
	// Neither set: policy/v1 has no default (v1beta1 defaulted minAvailable to 1), and the
	// disruption controller then wants no pod healthy: every eviction is allowed.
	return int(replicas), true
}

func describeBudget(pdb *policyv1.PodDisruptionBudget, replicas int32, live bool) string {
	var spec string
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		spec = "maxUnavailable " + pdb.Spec.MaxUnavailable.String()
	case pdb.Spec.MinAvailable != nil:
		spec = "minAvailable " + pdb.Spec.MinAvailable.String()
	default:
		spec = "neither minAvailable nor maxUnavailable"
	}
	line := fmt.Sprintf("poddisruptionbudget %s: %s, selector %s, over %s", pdb.Name, spec, metav1.FormatLabelSelector(pdb.Spec.Selector),
		check.Plural(int(replicas), "replica", "replicas"))
	if live && pdb.Status.ObservedGeneration > 0 {
		line += fmt.Sprintf("; now %d healthy of %d expected, disruptionsAllowed %d", pdb.Status.CurrentHealthy, pdb.Status.ExpectedPods, pdb.Status.DisruptionsAllowed)
	}
	return line
}

// budgetFix scales a stateless controller so the budget allows one eviction; a StatefulSet's
// replicas are its data's, so its budget is relaxed instead.
func budgetFix(r replicated, pdb *policyv1.PodDisruptionBudget) string {
	if m := pdb.Spec.MinAvailable; m != nil && m.Type == intstr.Int && r.ref.Kind != "StatefulSet" {
		return fmt.Sprintf("kubectl scale %s --replicas=%d", check.InNamespace(r.ref), m.IntVal+1)
	}
	return fmt.Sprintf(`kubectl patch -n %s poddisruptionbudget/%s --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}'`,
		check.Quote(pdb.Namespace), check.Quote(pdb.Name))
}

// ReplicasNotSpread finds replicated workloads that nothing keeps apart across nodes.
type ReplicasNotSpread struct{}

func (ReplicasNotSpread) Meta() check.Meta {
	return check.Meta{
		ID:       "replicas-not-spread",
		Title:    "Replicas have no anti-affinity or topology spread",
		Category: check.CategoryReliability,
		Severity: check.Low,
		Requires: []snapshot.Kind{snapshot.KindDeployments, snapshot.KindStatefulSets, snapshot.KindReplicaSets},
		Optional: optionalKinds(snapshot.KindNodes, snapshot.KindPods),
		Description: "Reports Deployments, StatefulSets, ReplicationControllers and bare ReplicaSets with two or more replicas " +
			"whose template has neither a topologySpreadConstraint nor a pod anti-affinity term on kubernetes.io/hostname " +
			"or topology.kubernetes.io/zone that selects their own pods. On a live cluster only with two or more Ready " +
			"nodes, and medium when every ready replica runs on one node now. With -f the node count is unknown: a " +
			"manifest that asks for two or more replicas is taken to be meant for several nodes, since replicas on one " +
			"node survive no node failure anyway. The cluster DNS server is judged by dns-replicas-colocated.",
		Why: "The scheduler's default spreading is a soft preference that loses to resources and affinities: replicas can " +
			"land on one node, and that node's failure, drain or upgrade takes every replica down at once, however " +
			"many there are.",
		Remediation: "Add a topologySpreadConstraint on kubernetes.io/hostname (whenUnsatisfiable: ScheduleAnyway keeps " +
			"pods schedulable on a small cluster; add one on topology.kubernetes.io/zone across zones), the change " +
			"rolls the pods out again, spread.",
		References: []string{referenceSpread, "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity"},
	}
}

func (c ReplicasNotSpread) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	live := s.Source != snapshot.SourceManifests
	ready := readyNodes(s)
	_, nodesUnread := s.Unavailable[snapshot.KindNodes]
	if live && !nodesUnread && ready < 2 {
		return nil
	}
	var findings []check.Finding
	for _, r := range replicatedControllers(s) {
		if r.replicas < 2 || snapshot.SpreadsReplicas(r.template) || isClusterDNS(r) {
			continue
		}
		f := check.New(meta, fmt.Sprintf("Nothing keeps the %d replicas of %s apart: no pod anti-affinity or topology spread "+
			"constraint on their labels, so one node's failure can take them all", r.replicas, r.ref.Describe()), r.ref)
		if live && !nodesUnread {
			f.Evidence = []string{fmt.Sprintf("%s Ready", check.Plural(ready, "node is", "nodes are"))}
		}
		if live {
			if nodes := placement(s, r.ref); len(nodes) == 1 {
				node := slices.Collect(maps.Keys(nodes))[0]
				if nodes[node] >= 2 {
					f.Severity = check.Medium
					f.Message = fmt.Sprintf("All %d ready pods of %s run on node %s, and nothing keeps them apart: if it fails, "+
						"every replica goes with it", nodes[node], r.ref.Describe(), node)
					f.Evidence = append(f.Evidence, fmt.Sprintf("node %s: %s", node, check.Plural(nodes[node], "ready pod", "ready pods")))
				}
			}
		}
		if !live {
			f.Evidence = []string{fmt.Sprintf("spec.replicas %d; manifests do not say how many nodes the cluster has", r.replicas)}
		}
		// Changing the template rolls the pods out again, where the scheduler now spreads them.
		f.Fix = []string{spreadFix(r)}
		findings = append(findings, f)
	}
	return findings
}

// readyNodes counts the nodes whose Ready condition is True and that take new pods.
func readyNodes(s *snapshot.Snapshot) int {
	n := 0
	for i := range s.Nodes {
		node := &s.Nodes[i]
		if !node.Spec.Unschedulable && snapshot.NodeReady(node) {
			n++
		}
	}
	return n
}

// placement counts the ready pods of owner on each node.
func placement(s *snapshot.Snapshot, owner snapshot.Ref) map[string]int {
	nodes := map[string]int{}
	for _, pod := range s.PodsOf(owner) {
		if snapshot.IsLive(pod) && snapshot.PodReady(pod) && pod.Spec.NodeName != "" {
			nodes[pod.Spec.NodeName]++
		}
	}
	return nodes
}

// isClusterDNS tells the cluster DNS server, which the dns family judges for the same flaw.
func isClusterDNS(r replicated) bool {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: r.ref.Namespace, Labels: r.template.Labels}}
	return snapshot.IsClusterDNSPod(pod)
}

// spreadFix adds a soft spread by node, selecting the pods by the controller's selector.
func spreadFix(r replicated) string {
	selector := map[string]any{"matchLabels": r.template.Labels}
	if r.selector != nil && len(r.selector.MatchLabels) > 0 && len(r.selector.MatchExpressions) == 0 {
		selector = map[string]any{"matchLabels": r.selector.MatchLabels}
	}
	w := snapshot.Workload{Ref: r.ref, Labels: r.template.Labels, Spec: &r.template.Spec}
	return check.TemplatePatch(w, map[string]any{"spec": map[string]any{"topologySpreadConstraints": []any{map[string]any{
		"maxSkew": 1, "topologyKey": snapshot.LabelHostname, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": selector,
	}}}}, "ScheduleAnyway: pods still schedule where spreading is impossible")
}
