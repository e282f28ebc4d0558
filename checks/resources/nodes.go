package resources

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// podMemoryLimit is what a pod may use at most: its pod-level limit, else the sum of its running
// containers' limits, or unbounded when one of them has none (a zero limit is none).
func podMemoryLimit(pod *corev1.Pod) (bytes int64, bounded bool) {
	if pod.Spec.Resources != nil {
		if q, ok := lookup(pod.Spec.Resources.Limits, corev1.ResourceMemory); ok {
			return q.Value(), true
		}
	}
	for _, c := range runningContainers(&pod.Spec) {
		q, ok := lookup(c.Resources.Limits, corev1.ResourceMemory)
		if !ok {
			return 0, false
		}
		bytes += q.Value()
	}
	return bytes, true
}

// podsByNode groups the live pods bound to each node.
func podsByNode(s *snapshot.Snapshot) map[string][]*corev1.Pod {
	out := map[string][]*corev1.Pod{}
	for i := range s.Pods {
		if pod := &s.Pods[i]; snapshot.IsLive(pod) && pod.Spec.NodeName != "" {
			out[pod.Spec.NodeName] = append(out[pod.Spec.NodeName], pod)
		}
	}
	return out
}

// NodeMemoryOvercommit finds nodes whose pods may together use more memory than the node has.
type NodeMemoryOvercommit struct{}

func (NodeMemoryOvercommit) Meta() check.Meta {
	return check.Meta{
		ID:           "node-memory-overcommit",
		Title:        "Nodes' memory limits add up to more than they have",
		Category:     check.CategoryResources,
		Severity:     check.Medium,
		Requires:     []snapshot.Kind{snapshot.KindNodes, snapshot.KindPods},
		LiveOnly:     true,
		WholeCluster: true,
		Description: "Adds up the memory limits of the live pods on each node and compares the sum with the node's " +
			"allocatable memory; pods with a container without a limit are counted separately, as unbounded. " +
			"Needs every namespace: with -n it is not evaluated.",
		Why: "Limits are what pods may use. When they add up to more than the node has, a busy hour makes the node " +
			"run out of memory: the kubelet evicts pods and the kernel OOM-kills, whichever container is unlucky.",
		Remediation: "Bring limits closer to requests (the scheduler packs by requests), spread the heaviest workloads " +
			"with anti-affinity or topology spread, or add memory.",
		References: []string{"https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/"},
	}
}

func (c NodeMemoryOvercommit) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	byNode := podsByNode(s)
	var refs []snapshot.Ref
	var evidence []string
	for i := range s.Nodes {
		node := &s.Nodes[i]
		allocatable, ok := node.Status.Allocatable[corev1.ResourceMemory]
		if !ok || allocatable.IsZero() {
			continue
		}
		var sum int64
		unbounded := 0
		for _, pod := range byNode[node.Name] {
			if limit, bounded := podMemoryLimit(pod); bounded {
				sum += limit
			} else {
				unbounded++
			}
		}
		if sum <= allocatable.Value() {
			continue
		}
		refs = append(refs, snapshot.RefTo(snapshot.KindNodes, "", node.Name))
		line := fmt.Sprintf("node %s: memory limits add up to %s of %s allocatable (%.0f%%)", node.Name,
			mebibytes(sum), mebibytes(allocatable.Value()), 100*float64(sum)/float64(allocatable.Value()))
		if unbounded > 0 {
			line += fmt.Sprintf(", plus %s without a limit", check.Plural(unbounded, "pod", "pods"))
		}
		evidence = append(evidence, line)
	}
	if len(refs) == 0 {
		return nil
	}
	f := check.New(meta, fmt.Sprintf("%s could run out of memory: the limits of their pods add up to more than they have",
		check.Plural(len(refs), "node", "nodes")), refs...)
	if len(refs) > 1 {
		f.Scope = check.ScopeCluster
	}
	f.Evidence = check.LimitEvidence(evidence)
	f.Fix = check.FixEach(len(refs), "nodes", func(i int) string {
		return fmt.Sprintf("kubectl describe node %s | grep -A 20 'Non-terminated Pods'", check.Quote(refs[i].Name))
	})
	return []check.Finding{f}
}

// PressureWithoutLimits finds nodes under memory pressure and the pods there with no limit.
type PressureWithoutLimits struct{}

func (PressureWithoutLimits) Meta() check.Meta {
	return check.Meta{
		ID:       "memory-pressure-unlimited-pods",
		Title:    "Nodes under memory pressure run pods without memory limits",
		Category: check.CategoryResources,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindNodes, snapshot.KindPods},
		// With the metrics API, kubectl top shows which of the pods use the memory.
		Optional: []snapshot.Kind{snapshot.KindReplicaSets, snapshot.KindJobs, snapshot.KindPodMetrics},
		LiveOnly: true,
		Description: "For each node reporting MemoryPressure, lists the workloads of the pods on it that have a " +
			"container without a memory limit: the likely cause, and the pods nothing stops from growing.",
		Why: "Memory pressure ends in evictions and OOM kills on that node. Pods without limits are the ones that can " +
			"keep growing while the kubelet evicts their neighbours.",
		Remediation: "Set memory limits on the listed workloads; meanwhile, move or restart the largest of them " +
			"(kubectl top pods --sort-by=memory shows which).",
		References: []string{"https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/"},
	}
}

func (c PressureWithoutLimits) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	byNode := podsByNode(s)
	var findings []check.Finding
	for i := range s.Nodes {
		node := &s.Nodes[i]
		pressured := false
		var since time.Time
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeMemoryPressure && cond.Status == corev1.ConditionTrue {
				pressured, since = true, cond.LastTransitionTime.Time
			}
		}
		if !pressured {
			continue
		}
		owners := map[string]snapshot.Ref{}
		pods := map[string][]string{}
		for _, pod := range byNode[node.Name] {
			if _, bounded := podMemoryLimit(pod); bounded {
				continue
			}
			owner := s.TopOwner(pod)
			owners[owner.String()] = owner
			pods[owner.String()] = append(pods[owner.String()], pod.Name)
		}
		if len(owners) == 0 {
			continue
		}
		refs := []snapshot.Ref{snapshot.RefTo(snapshot.KindNodes, "", node.Name)}
		var evidence []string
		for _, key := range slices.Sorted(maps.Keys(owners)) {
			refs = append(refs, owners[key])
			sort.Strings(pods[key])
			subject := "pod " + pods[key][0] + " has"
			if len(pods[key]) > 1 {
				subject = "pods " + strings.Join(pods[key], ", ") + " have"
			}
			evidence = append(evidence, fmt.Sprintf("%s: %s no memory limit", owners[key].Describe(), subject))
		}
		pressure := fmt.Sprintf("node %s: MemoryPressure=True", node.Name)
		if !since.IsZero() {
			pressure += " " + check.For(since, s.CollectedAt)
		}
		f := check.New(meta, fmt.Sprintf("node %s is under memory pressure and runs %s without a memory limit",
			node.Name, check.Plural(len(owners), "workload", "workloads")), refs...)
		f.Incident = true
		f.Evidence = check.LimitEvidence(append([]string{pressure}, evidence...))
		f.Since = check.Earliest(since)
		f.Fix = []string{"kubectl describe node " + check.Quote(node.Name)}
		if check.MetricsServed(s) {
			f.Fix = append(f.Fix, "kubectl top pods -A --sort-by=memory")
		}
		findings = append(findings, f)
	}
	return findings
}

// NamespaceWithoutLimits finds namespaces running pods with neither a LimitRange nor a quota.
type NamespaceWithoutLimits struct{}

// systemNamespaces are run by the cluster itself; they are not reported.
func systemNamespace(ns string) bool {
	return ns == "kube-system" || ns == "kube-public" || ns == "kube-node-lease"
}

func (NamespaceWithoutLimits) Meta() check.Meta {
	return check.Meta{
		ID:       "namespace-without-limits",
		Title:    "Namespaces run workloads with neither a LimitRange nor a ResourceQuota",
		Category: check.CategoryResources,
		Severity: check.Low,
		Requires: []snapshot.Kind{snapshot.KindPods, snapshot.KindLimitRanges, snapshot.KindResourceQuotas},
		// With the metrics API, kubectl top shows what to size the default requests from.
		Optional: []snapshot.Kind{snapshot.KindPodMetrics},
		LiveOnly: true,
		Description: "Lists namespaces with live pods but no LimitRange and no ResourceQuota. The system namespaces " +
			"(kube-system, kube-public, kube-node-lease) are not reported. Judged on a live cluster only, since " +
			"such policy objects are often kept apart from application manifests.",
		Why: "Without a LimitRange nothing fills in defaults for containers that forget their requests and limits; " +
			"without a quota one team's runaway deployment can take the whole cluster's capacity.",
		Remediation: "Give each application namespace a LimitRange with default requests (a default limit is safe only " +
			"once every container's usage is known: it OOM-kills those that use more, and rejects pods that request " +
			"more), and a ResourceQuota once every workload sets requests (a quota rejects pods that set none).",
		References: []string{
			"https://kubernetes.io/docs/concepts/policy/limit-range/",
			"https://kubernetes.io/docs/concepts/policy/resource-quotas/",
		},
	}
}

func (c NamespaceWithoutLimits) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	governed := map[string]bool{}
	for i := range s.LimitRanges {
		governed[s.LimitRanges[i].Namespace] = true
	}
	for i := range s.ResourceQuotas {
		governed[s.ResourceQuotas[i].Namespace] = true
	}
	pods := map[string]int{}
	for i := range s.Pods {
		if pod := &s.Pods[i]; snapshot.IsLive(pod) && !governed[pod.Namespace] && !systemNamespace(pod.Namespace) {
			pods[pod.Namespace]++
		}
	}
	if len(pods) == 0 {
		return nil
	}
	var refs []snapshot.Ref
	var evidence []string
	for _, ns := range slices.Sorted(maps.Keys(pods)) {
		refs = append(refs, snapshot.RefTo(snapshot.KindNamespaces, "", ns))
		evidence = append(evidence, fmt.Sprintf("namespace %s: %s, no LimitRange, no ResourceQuota", ns, check.Plural(pods[ns], "live pod", "live pods")))
	}
	f := check.New(meta, fmt.Sprintf("%s without a LimitRange or ResourceQuota", check.Plural(len(refs), "namespace runs workloads", "namespaces run workloads")), refs...)
	f.Scope = check.ScopeNamespace
	if len(refs) > 1 {
		f.Scope = check.ScopeCluster
	}
	f.Evidence = check.LimitEvidence(evidence)
	// Only default requests: a default limit would OOM-kill or reject (request above limit) the
	// containers that today run without one.
	size := "size from kubectl top pods in the namespace"
	if !check.MetricsServed(s) {
		size = "size from the pods' usage in your monitoring"
	}
	names := make([]string, len(refs))
	for i, ref := range refs {
		names[i] = ref.Name
	}
	f.Fix = check.FixNames(names, "namespaces", func(namespaces string) string {
		return fmt.Sprintf(`for ns in %s; do kubectl apply -n "$ns" -f - <<'EOF'
apiVersion: v1
kind: LimitRange
metadata:
  name: default-requests
spec:
  limits:
  - type: Container
    defaultRequest: {cpu: 100m, memory: 128Mi}   # %s
EOF
done`, namespaces, size)
	})
	return []check.Finding{f}
}
