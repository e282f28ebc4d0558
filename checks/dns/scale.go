package dns

import (
	"cmp"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// A cluster at or above either size is large enough that per-node DNS caching pays off. There
// is no official threshold; these are ours, stated in the check's description.
const (
	largeClusterNodes = 100
	largeClusterPods  = 5000
)

// defaultNdots is what the kubelet writes into pods' resolv.conf under dnsPolicy ClusterFirst.
const defaultNdots = 5

// busyReplicas is the replica count from which a workload is taken to make many lookups.
const busyReplicas = 20

// NodeLocalMissing reports a large cluster without NodeLocal DNSCache. Zero thresholds mean
// largeClusterNodes and largeClusterPods.
type NodeLocalMissing struct{ MinNodes, MinPods int }

func (NodeLocalMissing) Meta() check.Meta {
	return check.Meta{
		ID:       "dns-nodelocal-missing",
		Title:    "Large cluster without NodeLocal DNSCache",
		Category: check.CategoryDNS,
		Severity: check.Low,
		Requires: []snapshot.Kind{snapshot.KindNodes, snapshot.KindPods, snapshot.KindDaemonSets},
		LiveOnly: true, WholeCluster: true,
		Description: fmt.Sprintf("Fires when the cluster has at least %d nodes or %d pods (this tool's threshold; "+
			"Kubernetes documents none) and no NodeLocal DNSCache DaemonSet (node-local-dns, or Kubespray's "+
			"nodelocaldns, by name or k8s-app label) exists.", largeClusterNodes, largeClusterPods),
		Why: "Without a per-node cache every lookup crosses the network to a CoreDNS pod through conntrack-tracked " +
			"UDP: at scale that means conntrack table pressure, the DNAT race behind 5 s lookup delays, and CoreDNS " +
			"replicas sized for the whole cluster's query rate.",
		Remediation: "Deploy NodeLocal DNSCache (the node-local-dns DaemonSet); managed offerings have a switch for it.",
		References:  []string{"https://kubernetes.io/docs/tasks/administer-cluster/nodelocaldns/"},
	}
}

func (c NodeLocalMissing) Run(s *snapshot.Snapshot) []check.Finding {
	minNodes, minPods := cmp.Or(c.MinNodes, largeClusterNodes), cmp.Or(c.MinPods, largeClusterPods)
	nodes, pods := len(s.Nodes), len(s.Pods)
	if nodes < minNodes && pods < minPods {
		return nil
	}
	for i := range s.DaemonSets {
		if snapshot.IsNodeLocalDNS(&s.DaemonSets[i]) {
			return nil
		}
	}
	f := check.New(c.Meta(), fmt.Sprintf("The cluster has %d nodes and %d pods and no NodeLocal DNSCache: every "+
		"lookup goes over the network to CoreDNS.", nodes, pods))
	f.Scope = check.ScopeCluster
	f.Evidence = []string{fmt.Sprintf("threshold: %d nodes or %d pods", minNodes, minPods)}
	f.Fix = []string{"kubectl apply -f nodelocaldns.yaml   # from https://kubernetes.io/docs/tasks/administer-cluster/nodelocaldns/, with its variables filled in"}
	return []check.Finding{f}
}

// NdotsHigh reports workloads that raise ndots above the default.
type NdotsHigh struct{}

func (NdotsHigh) Meta() check.Meta {
	return check.Meta{
		ID:       "dns-ndots-high",
		Title:    "Workloads raise ndots above the default",
		Category: check.CategoryDNS,
		Severity: check.Info,
		Requires: []snapshot.Kind{snapshot.KindDeployments, snapshot.KindStatefulSets, snapshot.KindDaemonSets,
			snapshot.KindCronJobs, snapshot.KindJobs, snapshot.KindReplicaSets, snapshot.KindPods},
		Description: fmt.Sprintf("Reports pod templates whose dnsConfig sets ndots above %d, the kubelet's default "+
			"under dnsPolicy ClusterFirst.", defaultNdots),
		Why: "A name with fewer dots than ndots is tried with every search domain first: with ndots above 5 even " +
			"fully qualified external names cost several failed lookups each, multiplying DNS traffic.",
		Remediation: "Lower ndots (2 is common), or use fully qualified names with a trailing dot for external hosts.",
		References:  []string{"https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-dns-config"},
	}
}

func (c NdotsHigh) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var objects []snapshot.Ref
	var evidence []string
	for _, w := range s.Workloads() {
		if n, set := ndots(w.Spec); set && n > defaultNdots {
			objects = append(objects, w.Ref)
			evidence = append(evidence, fmt.Sprintf("%s: ndots:%d", w.Ref.Describe(), n))
		}
	}
	if len(objects) == 0 {
		return nil
	}
	f := check.New(meta, fmt.Sprintf("%s set ndots above %d: each external lookup is first tried with every search domain.",
		check.Plural(len(objects), "workload", "workloads"), defaultNdots), objects...)
	f.Evidence = check.LimitEvidence(evidence)
	f.Fix = ndotsPatches(objects)
	return []check.Finding{f}
}

// NdotsDefaultAtScale reports busy workloads that keep the default ndots:5.
type NdotsDefaultAtScale struct{}

func (NdotsDefaultAtScale) Meta() check.Meta {
	return check.Meta{
		ID:       "dns-ndots-default-at-scale",
		Title:    "Busy workloads resolve names with the default ndots:5",
		Category: check.CategoryDNS,
		Severity: check.Info,
		Requires: []snapshot.Kind{snapshot.KindDeployments, snapshot.KindStatefulSets, snapshot.KindReplicaSets, snapshot.KindPods},
		Description: fmt.Sprintf("Lists Deployments and StatefulSets with %d replicas or more (taken as the heavy DNS "+
			"users; query rates are not visible through the API) whose pods resolve through the cluster DNS "+
			"(dnsPolicy ClusterFirst off the host network, or ClusterFirstWithHostNet) without lowering ndots.",
			busyReplicas),
		Why: "With ndots:5, every lookup of an external name such as api.example.com goes through the search domains " +
			"first: four to five queries (times two for A and AAAA) instead of one, for every replica.",
		Remediation: "Set dnsConfig options ndots: \"2\" on these workloads, or address external hosts by fully " +
			"qualified names ending in a dot.",
		References: []string{"https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-dns-config"},
	}
}

func (c NdotsDefaultAtScale) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var objects []snapshot.Ref
	var evidence []string
	consider := func(ref snapshot.Ref, replicas *int32, spec *corev1.PodSpec) {
		n := int32(1)
		if replicas != nil {
			n = *replicas
		}
		if n < busyReplicas || snapshot.ResolverOf(spec) != snapshot.ResolverClusterDNS {
			return
		}
		if _, set := ndots(spec); set {
			return
		}
		objects = append(objects, ref)
		evidence = append(evidence, fmt.Sprintf("%s: %d replicas, ndots:%d", ref.Describe(), n, defaultNdots))
	}
	for i := range s.Deployments {
		d := &s.Deployments[i]
		consider(snapshot.RefTo(snapshot.KindDeployments, d.Namespace, d.Name), d.Spec.Replicas, &d.Spec.Template.Spec)
	}
	for i := range s.StatefulSets {
		st := &s.StatefulSets[i]
		consider(snapshot.RefTo(snapshot.KindStatefulSets, st.Namespace, st.Name), st.Spec.Replicas, &st.Spec.Template.Spec)
	}
	if len(objects) == 0 {
		return nil
	}
	f := check.New(meta, fmt.Sprintf("%s with %d or more replicas each resolve external names through the search "+
		"domains (ndots:%d): several queries per lookup.", check.Plural(len(objects), "workload", "workloads"),
		busyReplicas, defaultNdots), objects...)
	f.Scope = check.ScopeCluster
	f.Evidence = check.LimitEvidence(evidence)
	f.Fix = ndotsPatches(objects)
	return []check.Finding{f}
}

// ndots is the ndots option a pod spec sets, if any.
func ndots(spec *corev1.PodSpec) (int, bool) {
	if spec.DNSConfig == nil {
		return 0, false
	}
	for _, o := range spec.DNSConfig.Options {
		if o.Name == "ndots" && o.Value != nil {
			if n, err := strconv.Atoi(*o.Value); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

// ndotsPatches sets ndots:2 on each workload: a patch of its template, or, where there is none to
// patch (a bare pod, a Job, whose template cannot change), what to change in its manifest.
func ndotsPatches(refs []snapshot.Ref) []string {
	return check.FixEach(len(refs), "workloads", func(i int) string { return ndotsPatch(refs[i]) })
}

func ndotsPatch(ref snapshot.Ref) string {
	path := `{"spec":{"template":{"spec":{"dnsConfig":{"options":[{"name":"ndots","value":"2"}]}}}}}`
	switch ref.Kind {
	case "CronJob":
		path = `{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"dnsConfig":{"options":[{"name":"ndots","value":"2"}]}}}}}}}`
	case "Pod", "Job":
		return check.Comment(fmt.Sprintf("set dnsConfig.options ndots: \"2\" in the manifest of %s and recreate it", ref.Describe()))
	}
	return fmt.Sprintf("kubectl patch %s -p '%s'", check.InNamespace(ref), path)
}
