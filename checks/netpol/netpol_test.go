package netpol

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const base = "cluster.yaml"

var (
	ingress = Unisolated{Direction: networkingv1.PolicyTypeIngress, Options: DefaultOptions()}
	egress  = Unisolated{Direction: networkingv1.PolicyTypeEgress, Options: DefaultOptions()}
)

const (
	web  = "shop/deployment/web"
	cart = "shop/deployment/cart"
	db   = "data/statefulset/db"
)

// Every case is the base cluster with one change; together they cover each point of the
// NetworkPolicy semantics the checks rely on, positive and negative.
func TestFixtures(t *testing.T) {
	over := func(c check.Check, file string, want ...string) fixture.Case {
		return fixture.Case{Check: c, Base: base, Fixture: file, Want: want}
	}
	blocked := func(sev string) string { return sev + " netpol-egress-blocks-dns " + cart + "," + web }
	fixture.RunCases(t, check.CategoryNetpol, Checks(DefaultOptions()), []fixture.Case{
		// The base: shop has a default deny and the policies its workloads need; data has none;
		// a host-network pod there is not subject to policies and never reported.
		{Check: ingress, Fixture: base, Want: []string{"low netpol-ingress-unisolated " + db}},
		{Check: egress, Fixture: base, Want: []string{"info netpol-egress-unisolated " + db}},
		{Check: NoDefaultDeny{Options: DefaultOptions()}, Fixture: base, Want: []string{"medium netpol-no-default-deny namespace/data"}},
		{Check: EgressBlocksDNS{}, Fixture: base},
		{Check: IngressFromAnywhere{}, Fixture: base},
		{Check: Dangling{}, Fixture: base},
		{Check: PeerMatchesNothing{}, Fixture: base},
		{Check: CNINotEnforcing{}, Fixture: base},

		// policyTypes: [Egress] leaves ingress open whatever the ingress rules say.
		over(ingress, "netpol-ingress-unisolated.yaml", "low netpol-ingress-unisolated "+db+","+cart),
		over(egress, "netpol-egress-unisolated.yaml", "info netpol-egress-unisolated "+db+","+cart+","+web),
		// Egress rules without policyTypes isolate egress (and ingress, always implied).
		over(egress, "egress-implied-by-rules.yaml"),
		over(ingress, "egress-implied-by-rules.yaml"),
		// An empty podSelector is the namespace-wide default; one with labels is not.
		over(NoDefaultDeny{Options: DefaultOptions()}, "netpol-no-default-deny.yaml", "medium netpol-no-default-deny namespace/data,namespace/shop"),
		over(Dangling{}, "netpol-dangling.yaml", "low netpol-dangling data/networkpolicy/db-typo"),
		// Manifests are a partial input: an operator creates the pods a policy selects from a
		// custom resource. A policy selecting nothing is judged there only when the user says
		// the input is complete.
		{Check: Dangling{}, Base: base, Fixture: "dangling-operator-pods.yaml", Probes: manifests(false)},
		{Check: Dangling{}, Base: base, Fixture: "dangling-operator-pods.yaml", Probes: manifests(true),
			Want: []string{"low netpol-dangling monitoring/networkpolicy/prometheus-k8s"}},
		// namespaceSelector AND podSelector in one peer, OR across peers.
		over(PeerMatchesNothing{}, "netpol-peer-matches-nothing.yaml", "low netpol-peer-matches-nothing shop/networkpolicy/from-frontend"),
		over(EgressBlocksDNS{}, "netpol-egress-blocks-dns.yaml", blocked("high")),
		over(EgressBlocksDNS{}, "dns-or-peers.yaml"),
		over(EgressBlocksDNS{}, "dns-ipblock.yaml"),
		over(EgressBlocksDNS{}, "dns-ipblock-except.yaml", blocked("high")),
		over(EgressBlocksDNS{}, "dns-named-ports.yaml"),
		over(EgressBlocksDNS{}, "dns-named-port-wrong-protocol.yaml", blocked("high")),
		over(EgressBlocksDNS{}, "dns-endport.yaml", blocked("medium")),
		over(EgressBlocksDNS{}, "dns-no-to.yaml"),
		over(EgressBlocksDNS{}, "dns-default-protocol.yaml", blocked("high")),
		over(EgressBlocksDNS{}, "dns-legacy-namespace-label.yaml", blocked("high")),
		// Policies see the pod's port, not the Service's.
		over(EgressBlocksDNS{}, "dns-port-5353.yaml", blocked("high")),
		over(EgressBlocksDNS{}, "dns-port-5353-named.yaml"),
		over(EgressBlocksDNS{}, "dns-nodelocal.yaml"),
		over(EgressBlocksDNS{}, "dns-policy-default.yaml", "high netpol-egress-blocks-dns "+cart),
		// A rule admitting every source matters only where nothing exposes the pods anyway.
		over(IngressFromAnywhere{}, "netpol-ingress-from-anywhere.yaml", "medium netpol-ingress-from-anywhere shop/networkpolicy/cart-from-web,"+cart),
		over(IngressFromAnywhere{}, "from-anywhere-narrowed.yaml"),
		over(IngressFromAnywhere{}, "from-anywhere-ipblock.yaml", "medium netpol-ingress-from-anywhere shop/networkpolicy/cart-from-web,"+cart),
		// The API server calls aggregated APIs and admission webhooks from outside any pod
		// selector: their pods must admit every source.
		over(IngressFromAnywhere{}, "from-anywhere-no-apiservice.yaml", "medium netpol-ingress-from-anywhere shop/networkpolicy/cart-from-web,"+cart),
		over(IngressFromAnywhere{}, "from-anywhere-apiservice.yaml"),
		over(IngressFromAnywhere{}, "from-anywhere-webhook.yaml"),
		over(CNINotEnforcing{}, "netpol-cni-not-enforcing.yaml", "high netpol-cni-not-enforcing "),
		over(CNINotEnforcing{}, "cni-aws-with-agent.yaml"),
		over(CNINotEnforcing{}, "cni-aws-without-agent.yaml", "high netpol-cni-not-enforcing "),
	})
}

// manifests makes a fixture what diagnose -f reads: workloads' pod templates, no pods, and
// complete as --complete says.
func manifests(complete bool) func(*snapshot.Snapshot) {
	return func(s *snapshot.Snapshot) {
		s.Source, s.Pods, s.Complete = snapshot.SourceManifests, nil, complete
		s.Finish()
	}
}

// With manifests there are no pods: the checks judge the workloads' pod templates.
func TestManifestsAreJudgedByTemplates(t *testing.T) {
	s := fixture.LoadOverlay(t, base, "dns-default-protocol.yaml")
	s.Source = snapshot.SourceManifests
	s.Pods = nil
	s.Finish()
	findings := EgressBlocksDNS{}.Run(s)
	got := fixture.Summaries(findings)
	if want := "high netpol-egress-blocks-dns " + cart + "," + web; len(got) != 1 || got[0] != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Without the DNS pods in view their labels are unknown: a peer naming other labels is given
	// the benefit of the doubt rather than reported.
	s = fixture.LoadOverlay(t, base, "netpol-egress-blocks-dns.yaml")
	s.Source, s.Pods = snapshot.SourceManifests, nil
	s.Finish()
	if got := fixture.Summaries(EgressBlocksDNS{}.Run(s)); len(got) != 0 {
		t.Errorf("unsure, yet reported: %q", got)
	}
	if len(findings) > 0 && findings[0].Incident {
		t.Error("a manifest is a risk, not an incident")
	}
}

// -o wide shows, for each reported workload, which policies select it.
func TestEvidenceNamesSelectingPolicies(t *testing.T) {
	findings := egress.Run(fixture.LoadOverlay(t, base, "netpol-egress-unisolated.yaml"))
	evidence := strings.Join(findings[0].Evidence, "\n")
	for _, want := range []string{
		db + ": selected by no NetworkPolicy",
		cart + ": selected by cart-from-web (ingress); default-deny (ingress)",
	} {
		if !strings.Contains(evidence, want) {
			t.Errorf("evidence lacks %q:\n%s", want, evidence)
		}
	}
}

func TestCNINotEvaluableWhenNoneIsInView(t *testing.T) {
	s := fixture.LoadOverlay(t, base, "netpol-cni-not-enforcing.yaml")
	s.DaemonSets = nil
	if reason := (CNINotEnforcing{}).NotApplicable(s); !strings.Contains(reason, "no known network plugin") {
		t.Errorf("NotEvaluable = %q", reason)
	}
	s.NetworkPolicies = nil
	if reason := (CNINotEnforcing{}).NotApplicable(s); reason != "" {
		t.Errorf("without policies there is nothing to enforce: NotEvaluable = %q", reason)
	}
}

func TestSystemNamespacesAreConfigurable(t *testing.T) {
	s := fixture.Load(t, base)
	dataIsSystem := Unisolated{Direction: networkingv1.PolicyTypeIngress, Options: Options{SystemNamespaces: []string{"data", "kube-system"}}}
	if got := fixture.Summaries(dataIsSystem.Run(s)); len(got) != 0 {
		t.Errorf("data declared a system namespace, yet reported: %q", got)
	}
	withSystem := Unisolated{Direction: networkingv1.PolicyTypeIngress, Options: Options{}}.Run(s)
	if got := fixture.Summaries(withSystem); len(got) != 1 || !strings.Contains(got[0], "kube-system/pod/coredns-7f9c") {
		t.Errorf("with no system namespaces, kube-system's pods are judged too: %q", got)
	}
}

// What the snapshot does not show is not held against a policy: with the namespaces unreadable,
// a selector on a label of kube-system may well match it.
func TestDNSUnknownNamespaceLabelsAreGivenTheBenefitOfTheDoubt(t *testing.T) {
	s := fixture.LoadOverlay(t, base, "dns-legacy-namespace-label.yaml")
	s.Namespaces = nil
	s.MarkUnavailable(snapshot.KindNamespaces, "forbidden")
	if got := fixture.Summaries(EgressBlocksDNS{}.Run(s)); len(got) != 0 {
		t.Errorf("unsure, yet reported: %q", got)
	}
}

// Limited to a namespace, the run cannot see whether NodeLocal DNSCache runs, which would make
// the policies moot for DNS: the finding says so, and says nothing of it on a whole-cluster run.
func TestDNSBlockedUnderNamespaceNamesWhatItCouldNotSee(t *testing.T) {
	const hedge = "NodeLocal DNSCache, with which pods ask their own node whatever the policies, would run in kube-system, " +
		"which this run (limited to namespace shop) did not read"
	s := fixture.LoadOverlay(t, base, "netpol-egress-blocks-dns.yaml")
	for _, f := range (EgressBlocksDNS{}).Run(s) {
		if slices.Contains(f.Evidence, hedge) {
			t.Errorf("whole-cluster run: %q", f.Evidence)
		}
	}
	s.Source, s.Namespace = snapshot.SourceCluster, "shop"
	findings := (EgressBlocksDNS{}).Run(s)
	if len(findings) == 0 {
		t.Fatal("no finding under -n shop")
	}
	for _, f := range findings {
		if !slices.Contains(f.Evidence, hedge) {
			t.Errorf("-n shop: evidence %q", f.Evidence)
		}
	}
}

// On a dual-stack cluster an IPv6 ipBlock reaches the DNS pod by its second address.
func TestDNSDualStack(t *testing.T) {
	s := fixture.LoadOverlay(t, base, "dns-ipblock.yaml")
	for i := range s.Pods {
		if s.Pods[i].Name == "coredns-7f9c" {
			s.Pods[i].Status.PodIPs = []corev1.PodIP{{IP: "127.0.50.10"}, {IP: "fd00:50::10"}}
		}
	}
	s.NetworkPolicies[0].Spec.Egress[0].To[0].IPBlock.CIDR = "fd00:50::/64"
	if s.NetworkPolicies[0].Name != "allow-dns" {
		t.Fatalf("policy order changed: %s", s.NetworkPolicies[0].Name)
	}
	if got := fixture.Summaries(EgressBlocksDNS{}.Run(s)); len(got) != 0 {
		t.Errorf("IPv6 block to the DNS pod's IPv6 address reported: %q", got)
	}
}

// The node agent's flag is a Go boolean flag: bare means true.
func TestAWSPolicyAgentFlag(t *testing.T) {
	for arg, enforced := range map[string]bool{
		"--enable-network-policy=true": true, "--enable-network-policy": true, "-enable-network-policy=1": true,
		"--enable-network-policy=false": false, "--enable-ipv6=true": false,
	} {
		s := fixture.LoadOverlay(t, base, "cni-aws-with-agent.yaml")
		s.DaemonSets[0].Spec.Template.Spec.Containers[1].Args = []string{arg}
		if s.DaemonSets[0].Name != "aws-node" {
			t.Fatalf("daemonset order changed: %s", s.DaemonSets[0].Name)
		}
		if got := len(CNINotEnforcing{}.Run(s)) == 0; got != enforced {
			t.Errorf("%s: enforced %v, want %v", arg, got, enforced)
		}
	}
}

// A namespace-wide policy whose rule admits everything back is no default deny.
func TestDefaultDenyThatAllowsAllIsNone(t *testing.T) {
	s := fixture.Load(t, base)
	for i := range s.NetworkPolicies {
		if s.NetworkPolicies[i].Name == "default-deny" {
			s.NetworkPolicies[i].Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{}}
		}
	}
	want := "medium netpol-no-default-deny namespace/data,namespace/shop"
	if got := fixture.Summaries(NoDefaultDeny{Options: DefaultOptions()}.Run(s)); len(got) != 1 || got[0] != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A hostPort exposes a pod on its node's address: it is not internal.
func TestHostPortCountsAsExposed(t *testing.T) {
	s := fixture.LoadOverlay(t, base, "netpol-ingress-from-anywhere.yaml")
	for i := range s.Pods {
		if s.Pods[i].Name == "cart-6c-bbbbb" {
			s.Pods[i].Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8080}}
		}
	}
	if got := fixture.Summaries(IngressFromAnywhere{}.Run(s)); len(got) != 0 {
		t.Errorf("a pod exposed by a hostPort reported as internal: %q", got)
	}
}

// Where the objects naming the API server's Services cannot be read, the check still judges,
// and says that the exemption is unknown.
func TestFromAnywhereWithoutAPIServicesSaysSo(t *testing.T) {
	s := fixture.LoadOverlay(t, base, "from-anywhere-apiservice.yaml")
	s.APIServices = nil
	s.MarkUnavailable(snapshot.KindAPIServices, "forbidden")
	findings := IngressFromAnywhere{}.Run(s)
	if len(findings) != 1 || !strings.Contains(strings.Join(findings[0].Evidence, "\n"), "cannot read apiservices (forbidden)") {
		t.Errorf("findings %q: want one, saying apiservices could not be read", fixture.Summaries(findings))
	}
}

// A default deny is proposed for every namespace the finding names; one for egress comes with
// the policy that keeps DNS reachable, or applying it would stop every name lookup there.
func TestDefaultDenyFixCoversEachNamespaceAndKeepsDNS(t *testing.T) {
	s := fixture.LoadOverlay(t, base, "netpol-egress-unisolated.yaml")
	findings := egress.Run(s)
	if len(findings) != 1 {
		t.Fatalf("%d findings", len(findings))
	}
	namespaces := map[string]bool{}
	for _, o := range findings[0].Objects {
		namespaces[o.Namespace] = true
	}
	fix := findings[0].Fix[0]
	loop, _, _ := strings.Cut(fix, ";")
	for ns := range namespaces {
		if !strings.Contains(loop+" ", " "+ns+" ") {
			t.Errorf("namespace %s missing from %q", ns, loop)
		}
	}
	if len(namespaces) < 2 {
		t.Errorf("the fixture should span several namespaces: %v", namespaces)
	}
	for _, want := range []string{"name: default-deny-egress", "name: allow-dns", "{protocol: UDP, port: 53}", "{protocol: TCP, port: 53}"} {
		if !strings.Contains(fix, want) {
			t.Errorf("fix lacks %q:\n%s", want, fix)
		}
	}
	if ingress := ingress.Run(s); len(ingress) > 0 && strings.Contains(ingress[0].Fix[0], "allow-dns") {
		t.Errorf("an ingress default deny needs no DNS rule:\n%s", ingress[0].Fix[0])
	}
}

// The DNS rule allows the DNS pods as they run: OpenShift's listen on 5353, in openshift-dns.
func TestAllowDNSFollowsTheDNSPods(t *testing.T) {
	dns := dnsTarget{servers: []endpoint{{namespace: "openshift-dns",
		labels: map[string]string{"dns.operator.openshift.io/daemonset-dns": "default"},
		spec: &corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{
			{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", ContainerPort: 5353, Protocol: corev1.ProtocolTCP},
		}}}}}}}
	policy := allowDNSPolicy(dns)
	for _, want := range []string{
		"namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: openshift-dns}",
		"podSelector:\n        matchLabels: {dns.operator.openshift.io/daemonset-dns: default}",
		"ports: [{protocol: UDP, port: 5353}, {protocol: TCP, port: 5353}]",
	} {
		if !strings.Contains(policy, want) {
			t.Errorf("policy lacks %q:\n%s", want, policy)
		}
	}
	for value, want := range map[string]string{"kube-dns": "kube-dns", "true": `"true"`, "123": `"123"`, "a\nEOF": `"a\nEOF"`} {
		if got := yamlScalar(value); got != want {
			t.Errorf("yamlScalar(%q) = %s, want %s", value, got, want)
		}
	}
}

// The message counts the peers in words that agree with the count.
func TestPeerMatchesNothingMessageCounts(t *testing.T) {
	s := fixture.LoadOverlay(t, base, "netpol-peer-matches-nothing.yaml")
	message := func() string {
		for _, f := range (PeerMatchesNothing{}).Run(s) {
			return f.Message
		}
		t.Fatal("no finding")
		return ""
	}
	if m := message(); !strings.Contains(m, "has 2 peers that match nothing in the cluster: the traffic they were written for") {
		t.Errorf("two peers: %q", m)
	}
	for i := range s.NetworkPolicies {
		if p := &s.NetworkPolicies[i]; p.Name == "from-frontend" {
			p.Spec.Ingress[0].From = p.Spec.Ingress[0].From[:1]
		}
	}
	if m := message(); !strings.Contains(m, "has 1 peer that matches nothing in the cluster: the traffic it was written for") {
		t.Errorf("one peer: %q", m)
	}
}
