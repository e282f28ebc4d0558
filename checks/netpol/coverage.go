package netpol

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// workloadKinds are what endpoints are made of: pods, or the templates of every workload kind.
func workloadKinds() []snapshot.Kind {
	return snapshot.WorkloadKinds()
}

func withWorkloads(kinds ...snapshot.Kind) []snapshot.Kind {
	return append(append([]snapshot.Kind{snapshot.KindNetworkPolicies}, kinds...), workloadKinds()...)
}

// Unisolated reports workloads that no policy isolates in one direction.
type Unisolated struct {
	Direction networkingv1.PolicyType
	Options   Options
}

func (c Unisolated) Meta() check.Meta {
	if c.Direction == networkingv1.PolicyTypeEgress {
		return check.Meta{
			ID:       "netpol-egress-unisolated",
			Title:    "Workloads may connect anywhere: no NetworkPolicy isolates their egress",
			Category: check.CategoryNetpol,
			Severity: check.Info,
			Requires: withWorkloads(),
			Optional: snapshot.LegacyWorkloadKinds(),
			Description: "Lists the workloads, outside the system namespaces, whose pods no NetworkPolicy selects with " +
				"Egress in its policyTypes (given, or implied by egress rules), grouped by namespace, with the " +
				"policies that do select them. Host-network pods are left out: policies do not apply to them.",
			Why: "A compromised pod that may connect anywhere can reach every Service, the cloud metadata endpoint " +
				"and the internet: exfiltration and lateral movement need nothing more.",
			Remediation: "Add egress policies per namespace: a default deny for egress, then the destinations each " +
				"workload needs, starting with DNS (UDP and TCP 53 to kube-system).",
			References: []string{reference + "#default-deny-all-egress-traffic"},
		}
	}
	return check.Meta{
		ID:       "netpol-ingress-unisolated",
		Title:    "Workloads accept traffic from any pod: no NetworkPolicy isolates their ingress",
		Category: check.CategoryNetpol,
		Severity: check.Low,
		Requires: withWorkloads(),
		Optional: snapshot.LegacyWorkloadKinds(),
		Description: "Lists the workloads, outside the system namespaces, whose pods no NetworkPolicy selects with " +
			"Ingress in its policyTypes (every policy isolates ingress unless its policyTypes say otherwise), " +
			"grouped by namespace, with the policies that do select them. Host-network pods are left out: " +
			"policies do not apply to them.",
		Why: "Without isolation any pod in the cluster, including a compromised one, can connect to these pods on " +
			"any port.",
		Remediation: "Add a default-deny ingress policy to the namespace and allow what each workload must accept.",
		References:  []string{reference + "#default-deny-all-ingress-traffic"},
	}
}

func (c Unisolated) Run(s *snapshot.Snapshot) []check.Finding {
	m := newModel(s)
	// Sized for the worst case, where no namespace has policies: growing it a pod at a time
	// copied ten thousand endpoints many times over.
	open := make([]endpoint, 0, len(m.endpoints))
	for _, e := range m.endpoints {
		if !c.Options.isSystem(e.namespace) && !e.hostNetwork() && len(m.policiesFor(e, c.Direction)) == 0 {
			open = append(open, e)
		}
	}
	if len(open) == 0 {
		return nil
	}
	open = owners(open)
	objects := make([]snapshot.Ref, 0, len(open))
	namespaces := map[string]bool{}
	for _, e := range open {
		objects = append(objects, e.owner)
		namespaces[e.namespace] = true
	}
	evidence := check.EvidenceOf(len(open), func(i int) string { return fmt.Sprintf("%s: %s", open[i].owner, m.selectedBy(open[i])) })
	direction := map[networkingv1.PolicyType]string{networkingv1.PolicyTypeIngress: "accept connections from any pod",
		networkingv1.PolicyTypeEgress: "may connect to any address"}[c.Direction]
	f := check.New(c.Meta(), fmt.Sprintf("%s in %s %s: no NetworkPolicy isolates their %s.",
		check.Plural(len(open), "workload", "workloads"), check.Plural(len(namespaces), "namespace", "namespaces"),
		direction, strings.ToLower(string(c.Direction))), objects...)
	f.Scope = check.ScopeCluster
	f.Evidence = evidence
	f.Fix = defaultDeny(slices.Sorted(maps.Keys(namespaces)), c.Direction, dnsTargets(m))
	return []check.Finding{f}
}

// selectedBy says which policies select an endpoint, and in which directions: the detail
// -o wide shows for each reported workload.
func (m *model) selectedBy(e endpoint) string {
	var parts []string
	for _, p := range m.policies[e.namespace] {
		if selects(p, e) {
			var types []string
			for _, t := range policyTypes(p) {
				types = append(types, strings.ToLower(string(t)))
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", p.Name, strings.Join(types, ", ")))
		}
	}
	if len(parts) == 0 {
		return "selected by no NetworkPolicy"
	}
	return "selected by " + strings.Join(parts, "; ")
}

// defaultDeny is the command that isolates every pod of each namespace in one direction. A
// default deny of egress comes with the policy that lets the pods reach the cluster DNS: without
// it, the fix would stop every name lookup there.
func defaultDeny(namespaces []string, dir networkingv1.PolicyType, dns dnsTarget) []string {
	policy := fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny-%s\nspec:\n"+
		"  podSelector: {}\n  policyTypes: [%s]\n", strings.ToLower(string(dir)), dir)
	if dir == networkingv1.PolicyTypeEgress {
		policy += "---\n" + allowDNSPolicy(dns)
	}
	return applyInEach(namespaces, policy)
}

// applyInEach is the command that applies manifest, which names no namespace, in each namespace.
func applyInEach(namespaces []string, manifest string) []string {
	return check.FixNames(namespaces, "namespaces", func(names string) string {
		return fmt.Sprintf("for ns in %s; do kubectl apply -n \"$ns\" -f - <<'EOF'\n%sEOF\ndone", names, manifest)
	})
}

// NoDefaultDeny reports namespaces with workloads and no policy that isolates all their pods.
type NoDefaultDeny struct{ Options Options }

func (c NoDefaultDeny) Meta() check.Meta {
	return check.Meta{
		ID:       "netpol-no-default-deny",
		Title:    "Namespaces without a default-deny ingress policy",
		Category: check.CategoryNetpol,
		Severity: check.Medium,
		Requires: withWorkloads(),
		Optional: snapshot.LegacyWorkloadKinds(),
		Description: fmt.Sprintf("Lists the namespaces, other than the system namespaces (%s; see "+
			"--netpol-system-namespaces), that run workloads but have no NetworkPolicy selecting every pod "+
			"(podSelector {}) for ingress. Such a policy is the default deny: every pod is isolated, and only "+
			"what some policy allows gets in.", strings.Join(DefaultOptions().SystemNamespaces, ", ")),
		Why: "Without a default deny, every new workload starts open to the whole cluster, and coverage depends " +
			"on each team remembering its policy.",
		Remediation: "Apply a default-deny ingress policy (podSelector: {}, policyTypes: [Ingress]) in each " +
			"namespace, then allow what each workload must accept.",
		References: []string{reference + "#default-deny-all-ingress-traffic"},
	}
}

func (c NoDefaultDeny) Run(s *snapshot.Snapshot) []check.Finding {
	m := newModel(s)
	var namespaces []string
	for _, e := range m.endpoints {
		if c.Options.isSystem(e.namespace) || e.hostNetwork() || slices.Contains(namespaces, e.namespace) {
			continue
		}
		if !slices.ContainsFunc(m.policies[e.namespace], isDefaultDeny) {
			namespaces = append(namespaces, e.namespace)
		}
	}
	if len(namespaces) == 0 {
		return nil
	}
	slices.Sort(namespaces)
	var objects []snapshot.Ref
	var evidence []string
	for _, ns := range namespaces {
		objects = append(objects, snapshot.RefTo(snapshot.KindNamespaces, "", ns))
		evidence = append(evidence, fmt.Sprintf("namespace %s: %s", ns, check.Plural(len(m.policies[ns]), "policy", "policies")))
	}
	f := check.New(c.Meta(), fmt.Sprintf("%s run workloads without a default-deny ingress policy: new pods there "+
		"accept traffic from the whole cluster.", check.Plural(len(namespaces), "namespace", "namespaces")), objects...)
	f.Scope = check.ScopeCluster
	f.Evidence = check.LimitEvidence(evidence)
	f.Fix = defaultDeny(namespaces, networkingv1.PolicyTypeIngress, dnsTarget{})
	return []check.Finding{f}
}

// isDefaultDeny is a policy that selects every pod of its namespace and isolates its ingress,
// without a rule that admits everything back (no from and no ports).
func isDefaultDeny(p *networkingv1.NetworkPolicy) bool {
	allowsAll := slices.ContainsFunc(p.Spec.Ingress, func(r networkingv1.NetworkPolicyIngressRule) bool {
		return len(r.From) == 0 && len(r.Ports) == 0
	})
	return selector(&p.Spec.PodSelector).Empty() && isolates(p, networkingv1.PolicyTypeIngress) && !allowsAll
}
