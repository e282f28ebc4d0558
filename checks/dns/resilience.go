package dns

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const (
	labelHostname = snapshot.LabelHostname
	labelZone     = snapshot.LabelZone
)

// SingleReplica reports a DNS Deployment with fewer than two replicas.
type SingleReplica struct{}

func (SingleReplica) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-single-replica",
		Title:               "Cluster DNS runs a single replica",
		Category:            check.CategoryDNS,
		Severity:            check.Medium,
		Requires:            controllerKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Description:         "Reads the desired replicas of the DNS Deployment (a DaemonSet runs one per node and is not judged).",
		Why: "With one replica, every restart, eviction, node drain or upgrade of that pod stops name resolution " +
			"for the whole cluster until a new pod is ready.",
		Remediation: "Run at least two replicas (kubeadm's default), spread over nodes; large clusters scale them " +
			"with the cluster-proportional-autoscaler.",
		References: []string{"https://github.com/coredns/deployment/blob/master/kubernetes/Scaling_CoreDNS.md"},
	}
}

func (c SingleReplica) NotEvaluable(s *snapshot.Snapshot) string { return notEvaluable(s) }

func (c SingleReplica) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, srv := range findServers(s) {
		if srv.ref.Kind != "Deployment" || srv.desired >= 2 || srv.desired == 0 {
			continue // scaled to zero: dns-unavailable reports it
		}
		f := check.New(meta, fmt.Sprintf("%s runs %s: losing it stops name resolution cluster-wide.",
			srv.ref.Describe(), check.Plural(int(srv.desired), "replica", "replicas")), srv.ref)
		f.Scope = check.ScopeCluster
		f.Fix = []string{srv.kubectl("scale --replicas=2")}
		findings = append(findings, f)
	}
	return findings
}

// Colocated reports DNS replicas that run, or may all run, on one node or in one zone.
type Colocated struct{}

func (Colocated) Meta() check.Meta {
	return check.Meta{
		ID:       "dns-replicas-colocated",
		Title:    "Cluster DNS replicas share one node or zone",
		Category: check.CategoryDNS,
		Severity: check.Medium,
		// Without pods the placement cannot be judged; without nodes only the zones cannot.
		Requires:            withKinds(snapshot.KindPods),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Optional:            []snapshot.Kind{snapshot.KindReplicaSets, snapshot.KindNodes},
		Description: "Medium when two or more ready DNS pods all run on one node; low when they all run in one zone " +
			"of a cluster whose nodes span several, or when the pod template has neither pod anti-affinity nor a " +
			"topology spread constraint on the DNS pods' labels (so nothing keeps replicas apart).",
		Why: "Replicas on one node fail together: a node crash, drain or network fault takes all of DNS with it, " +
			"however many replicas there are.",
		Remediation: "Add a topologySpreadConstraint (or pod anti-affinity) on kubernetes.io/hostname, and on " +
			"topology.kubernetes.io/zone in multi-zone clusters, then restart the rollout to reschedule.",
		References: []string{"https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/"},
	}
}

func (c Colocated) NotEvaluable(s *snapshot.Snapshot) string { return notEvaluable(s) }

func (c Colocated) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	zoneOf := map[string]string{}
	zones := map[string]bool{}
	for i := range s.Nodes {
		if z := s.Nodes[i].Labels[labelZone]; z != "" {
			zoneOf[s.Nodes[i].Name] = z
			zones[z] = true
		}
	}
	var findings []check.Finding
	for _, srv := range findServers(s) {
		if srv.ref.Kind != "Deployment" || srv.desired < 2 {
			continue // dns-single-replica reports one replica; a DaemonSet spreads by design
		}
		nodes, podZones := map[string]int{}, map[string]bool{}
		ready, zoneUnknown := 0, false
		for _, pod := range srv.pods {
			if !snapshot.IsLive(pod) || !snapshot.PodReady(pod) || pod.Spec.NodeName == "" {
				continue
			}
			ready++
			nodes[pod.Spec.NodeName]++
			if z := zoneOf[pod.Spec.NodeName]; z != "" {
				podZones[z] = true
			} else {
				zoneUnknown = true
			}
		}
		var f check.Finding
		switch {
		case ready >= 2 && len(nodes) == 1:
			node := slices.Sorted(maps.Keys(nodes))[0]
			f = check.New(meta, fmt.Sprintf("All %d ready pods of %s run on node %s: if it fails, cluster DNS is down.",
				ready, srv.ref.Describe(), node), srv.ref)
			f.Evidence = []string{fmt.Sprintf("node %s: %s", node, check.Plural(ready, "DNS pod", "DNS pods"))}
		case ready >= 2 && len(podZones) == 1 && len(zones) > 1 && !zoneUnknown:
			zone := slices.Sorted(maps.Keys(podZones))[0]
			f = check.New(meta, fmt.Sprintf("All %d ready pods of %s run in zone %s, although nodes span %d zones.",
				ready, srv.ref.Describe(), zone, len(zones)), srv.ref)
			f.Severity = check.Low
			f.Evidence = []string{fmt.Sprintf("pods on nodes %v, all in zone %s", slices.Sorted(maps.Keys(nodes)), zone)}
		case !snapshot.SpreadsReplicas(srv.template):
			f = check.New(meta, fmt.Sprintf("Nothing keeps the %d replicas of %s apart: the pod template has no pod "+
				"anti-affinity and no topology spread constraint on their labels.", srv.desired, srv.ref.Describe()), srv.ref)
			f.Severity = check.Low
		default:
			continue
		}
		f.Scope = check.ScopeCluster
		f.Fix = []string{spreadPatch(srv), srv.kubectl("rollout restart")}
		findings = append(findings, f)
	}
	return findings
}

func spreadPatch(srv server) string {
	patch := map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"topologySpreadConstraints": []map[string]any{{
			"maxSkew": 1, "topologyKey": labelHostname, "whenUnsatisfiable": "ScheduleAnyway",
			"labelSelector": map[string]any{"matchLabels": srv.podLabels()},
		}},
	}}}}
	return fmt.Sprintf("kubectl patch %s --type=strategic -p %s", check.InNamespace(srv.ref), jsonArg(patch))
}

// jsonArg is a patch as one shell word: JSON, single-quoted (labels are the cluster's own words).
func jsonArg(v any) string {
	data, _ := json.Marshal(v) // maps of strings and numbers always marshal
	return check.Quote(string(data))
}

// NoDisruptionBudget reports a DNS Deployment that no PodDisruptionBudget protects.
type NoDisruptionBudget struct{}

func (NoDisruptionBudget) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-no-pdb",
		Title:               "Cluster DNS has no PodDisruptionBudget",
		Category:            check.CategoryDNS,
		Severity:            check.Low,
		Requires:            withKinds(snapshot.KindPodDisruptionBudgets),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Description: "Looks for a PodDisruptionBudget in the DNS namespace whose selector matches the DNS pods' " +
			"labels. kubeadm does not create one; the CoreDNS Helm chart can.",
		Why: "Without a budget, a node drain or cluster upgrade may evict every DNS replica at once, and name " +
			"resolution stops until they are rescheduled and ready.",
		Remediation: "Create a PodDisruptionBudget with maxUnavailable: 1 selecting the DNS pods.",
		References:  []string{"https://kubernetes.io/docs/tasks/run-application/configure-pdb/"},
	}
}

func (c NoDisruptionBudget) NotEvaluable(s *snapshot.Snapshot) string { return notEvaluable(s) }

func (c NoDisruptionBudget) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, srv := range findServers(s) {
		if srv.ref.Kind != "Deployment" || protected(s, srv) {
			continue
		}
		f := check.New(meta, fmt.Sprintf("No PodDisruptionBudget covers the pods of %s: a drain may evict every "+
			"replica at once.", srv.ref.Describe()), srv.ref)
		f.Scope = check.ScopeCluster
		f.Fix = []string{fmt.Sprintf("kubectl create poddisruptionbudget -n %s %s --selector=%s --max-unavailable=1",
			check.Quote(srv.ref.Namespace), check.Quote(srv.ref.Name), srv.podSelector())}
		findings = append(findings, f)
	}
	return findings
}

func protected(s *snapshot.Snapshot, srv server) bool {
	own := labels.Set(srv.template.Labels)
	for i := range s.PodDisruptionBudgets {
		pdb := &s.PodDisruptionBudgets[i]
		if pdb.Namespace != srv.ref.Namespace {
			continue
		}
		// In policy/v1 a null selector selects no pod and an empty one every pod of the namespace,
		// which is what the conversion gives.
		selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err == nil && selector.Matches(own) {
			return true
		}
	}
	return false
}

// PriorityClass reports DNS pods without a system-critical priority class.
type PriorityClass struct{}

func (PriorityClass) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-priority-class",
		Title:               "Cluster DNS pods are not marked system-critical",
		Category:            check.CategoryDNS,
		Severity:            check.Medium,
		Requires:            controllerKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Description:         "Reads priorityClassName of the DNS pod template; system-cluster-critical or system-node-critical pass.",
		Why: "Without a critical priority, DNS pods may be preempted by ordinary workloads when nodes are full, " +
			"and are among the first evicted under node pressure: the cluster loses DNS exactly when it is stressed.",
		Remediation: "Set priorityClassName: system-cluster-critical on the DNS pod template, as kubeadm does.",
		References:  []string{"https://kubernetes.io/docs/tasks/administer-cluster/guaranteed-scheduling-critical-addon-pods/"},
	}
}

func (c PriorityClass) NotEvaluable(s *snapshot.Snapshot) string { return notEvaluable(s) }

func (c PriorityClass) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, srv := range findServers(s) {
		switch srv.template.Spec.PriorityClassName {
		case "system-cluster-critical", "system-node-critical":
			continue
		}
		current := srv.template.Spec.PriorityClassName
		if current == "" {
			current = "none"
		}
		f := check.New(meta, fmt.Sprintf("The pods of %s have priority class %s: they can be preempted or evicted "+
			"before ordinary workloads.", srv.ref.Describe(), current), srv.ref)
		f.Scope = check.ScopeCluster
		f.Fix = []string{fmt.Sprintf(`kubectl patch %s -p '{"spec":{"template":{"spec":{"priorityClassName":"system-cluster-critical"}}}}'`,
			check.InNamespace(srv.ref))}
		findings = append(findings, f)
	}
	return findings
}

// MemoryLimitLow reports a CoreDNS memory limit below what CoreDNS's own sizing rule asks for
// the cluster's number of pods and Services.
type MemoryLimitLow struct{}

// Sizing rule from CoreDNS's scaling guide (coredns/deployment, Scaling_CoreDNS.md), in MB:
// (pods + services) / 1000 + 54 with default settings, / 250 + 56 with autopath.
const (
	objectsPerMB, baseMB                 = 1000, 54
	objectsPerMBAutopath, baseMBAutopath = 250, 56
)

func (MemoryLimitLow) Meta() check.Meta {
	return check.Meta{
		ID:       "dns-memory-limit-low",
		Title:    "CoreDNS memory limit is too low for the cluster's size",
		Category: check.CategoryDNS,
		Severity: check.Medium,
		Requires: withKinds(snapshot.KindPods, snapshot.KindServices),
		Optional: []snapshot.Kind{snapshot.KindConfigMaps},
		LiveOnly: true, WholeCluster: true,
		Description: "Compares the CoreDNS container's memory limit with CoreDNS's sizing rule: (pods + services) / " +
			"1000 + 54 MB, or (pods + services) / 250 + 56 MB when the Corefile uses autopath (the rule includes " +
			"the default 30 MB cache and a 5 MB buffer). High when the pods were already OOMKilled.",
		Why: "CoreDNS keeps every Service and, with pods verified or autopath, every pod in memory; a limit below " +
			"that gets it OOMKilled as the cluster grows, typically during a burst of changes.",
		Remediation: "Raise the memory limit to at least the size shown (and the request with it, for a " +
			"predictable placement).",
		References: []string{"https://github.com/coredns/deployment/blob/master/kubernetes/Scaling_CoreDNS.md"},
	}
}

func (c MemoryLimitLow) NotEvaluable(s *snapshot.Snapshot) string { return notEvaluable(s) }

func (c MemoryLimitLow) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, srv := range findServers(s) {
		container := dnsContainer(srv.template)
		if !srv.isCoreDNS() || container == nil {
			continue
		}
		limit, ok := container.Resources.Limits[corev1.ResourceMemory]
		if !ok {
			continue // memory-limit-missing (resources) reports it
		}
		need, rule := requiredMemory(s, srv)
		if limit.Cmp(need) >= 0 {
			continue
		}
		f := check.New(meta, fmt.Sprintf("%s has a memory limit of %s; for %s CoreDNS's sizing rule asks for %s.",
			srv.ref.Describe(), limit.String(), rule.objects, need.String()), srv.ref)
		f.Scope = check.ScopeCluster
		f.Evidence = []string{rule.text}
		proposed := need
		if srv.dnsContainerOOMKilled() {
			f.Severity = check.High
			f.Incident = true
			f.Since = srv.troubleSince()
			f.Evidence = append(f.Evidence, "DNS pods were already OOMKilled")
			proposed = raisedLimit(s, srv) // the same limit dns-unavailable proposes
		}
		f.Fix = []string{memoryPatch(srv, proposed)}
		findings = append(findings, f)
	}
	return findings
}

type sizingRule struct{ objects, text string }

// requiredMemory applies the sizing rule, rounded up to whole MiB (a little above MB, on the safe side).
func requiredMemory(s *snapshot.Snapshot, srv server) (resource.Quantity, sizingRule) {
	pods, services := len(s.Pods), len(s.Services)
	perMB, base, variant := objectsPerMB, baseMB, "default settings"
	if cf, _ := corefileOf(s, srv); cf != nil && cf.parsed != nil && cf.parsed.has("autopath") {
		perMB, base, variant = objectsPerMBAutopath, baseMBAutopath, "autopath"
	} else if cf == nil || cf.parsed == nil {
		variant = "default settings, assumed: the Corefile could not be read to see whether it uses autopath"
	}
	mb := int64(math.Ceil(float64(pods+services)/float64(perMB))) + int64(base)
	rule := sizingRule{
		objects: fmt.Sprintf("%d pods and %d Services", pods, services),
		text: fmt.Sprintf("(%d pods + %d Services) / %d + %d = %d MB (CoreDNS sizing rule, %s)",
			pods, services, perMB, base, mb, variant),
	}
	return *resource.NewQuantity(mb*1024*1024, resource.BinarySI), rule
}

// raisedLimit proposes a memory limit for OOMKilled DNS pods: twice the current limit, and never
// below the sizing rule.
func raisedLimit(s *snapshot.Snapshot, srv server) resource.Quantity {
	need, _ := requiredMemory(s, srv)
	if c := dnsContainer(srv.template); c != nil {
		if limit, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && 2*limit.Value() > need.Value() {
			mi := (2*limit.Value() + 1024*1024 - 1) / (1024 * 1024)
			return *resource.NewQuantity(mi*1024*1024, resource.BinarySI)
		}
	}
	return need
}

func memoryPatch(srv server, limit resource.Quantity) string {
	container := "coredns"
	if c := dnsContainer(srv.template); c != nil {
		container = c.Name
	}
	return fmt.Sprintf("kubectl set resources %s -c %s --limits=memory=%s", check.InNamespace(srv.ref), check.Quote(container), limit.String())
}
