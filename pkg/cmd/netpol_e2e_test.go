//go:build e2e

package cmd

import (
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

// The scenario's policies, read from the real API server: shop's egress lockdown cuts it off from
// DNS, data's database policy names a label no namespace has, a policy outlived its redis, and
// billing (default deny plus DNS) is covered.
func TestNetworkPolicyScenario(t *testing.T) {
	r := admin(t, "diagnose", "--category", "netpol", "-o", "json")
	rep := r.report(t)
	want := []string{
		"netpol-egress-blocks-dns shop/deployment/cart",
		"netpol-no-default-deny namespace/data",
		"netpol-ingress-unisolated shop/deployment/cart",
		"netpol-dangling data/networkpolicy/redis-cache",
		"netpol-peer-matches-nothing data/networkpolicy/postgres-from-shop",
		"netpol-egress-unisolated data/statefulset/postgres",
	}
	if got := findingKeys(rep); !slices.Equal(got, want) {
		t.Errorf("findings\n got  %q\n want %q", got, want)
	}
	dns := findingOf(rep, "netpol-egress-blocks-dns")
	if dns == nil || dns.Severity != check.High || !dns.Incident ||
		!slices.Contains(dns.Evidence, "shop/deployment/checkout: egress isolated by egress-lockdown") {
		t.Errorf("DNS finding %+v", dns)
	}
	if peer := findingOf(rep, "netpol-peer-matches-nothing"); peer == nil ||
		!slices.Contains(peer.Evidence, "ingress rule 1, peer 1: namespaceSelector name=shop matches no namespace") {
		t.Errorf("peer finding %+v", peer)
	}
	for _, f := range rep.Findings {
		for _, o := range f.Objects {
			if o.Namespace == "billing" || o.Name == "billing" {
				t.Errorf("%s reports the covered billing namespace", f.Check)
			}
		}
	}
	// No network plugin runs on the test control plane: whether the policies are enforced is
	// not known, and the report says so rather than passing.
	if len(rep.NotEvaluated) != 1 || rep.NotEvaluated[0].Check != "netpol-cni-not-enforcing" {
		t.Errorf("not evaluated %+v", rep.NotEvaluated)
	}
}

// -o wide shows, for each reported workload, the policies that select it.
func TestNetworkPolicyWideOutputNamesSelectingPolicies(t *testing.T) {
	r := admin(t, "diagnose", "--checks", "netpol-ingress-unisolated", "-o", "wide")
	for _, want := range []string{"EVIDENCE", "shop/deployment/cart: selected by egress-lockdown (egress)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("wide output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestNetworkPolicySystemNamespacesFlag(t *testing.T) {
	rep := admin(t, "diagnose", "--checks", "netpol-no-default-deny", "--netpol-system-namespaces", "kube-system,data", "-o", "json").report(t)
	if got := findingKeys(rep); !slices.Equal(got, []string{"netpol-no-default-deny namespace/shop"}) {
		t.Errorf("with data declared a system namespace: %q", got)
	}
}
