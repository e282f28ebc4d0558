package dns

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// What the collector reads through the API server's proxies cannot come from manifests, so these
// tests add it to the healthy fixture in code.

func podRef(name string) snapshot.Ref { return snapshot.RefTo(snapshot.KindPods, "kube-system", name) }

func TestServfailRatio(t *testing.T) {
	scrape := func(noerror, servfail float64) snapshot.DNSMetrics {
		return snapshot.DNSMetrics{Pod: podRef("coredns-6f7d-aaaaa"),
			Responses: map[string]float64{"NOERROR": noerror, "NXDOMAIN": 100, "SERVFAIL": servfail}}
	}
	unreadable := snapshot.DNSMetrics{Pod: podRef("coredns-6f7d-bbbbb"), Error: "GET pods/coredns-6f7d-bbbbb:9153/proxy/metrics: timed out"}
	for name, tc := range map[string]struct {
		scrapes []snapshot.DNSMetrics
		want    []string
	}{
		"healthy":         {[]snapshot.DNSMetrics{scrape(9000, 10), unreadable}, nil},
		"two percent":     {[]snapshot.DNSMetrics{scrape(9700, 200), unreadable}, []string{"medium dns-servfail-ratio kube-system/pod/coredns-6f7d-aaaaa"}},
		"ten percent":     {[]snapshot.DNSMetrics{scrape(8900, 1000)}, []string{"high dns-servfail-ratio kube-system/pod/coredns-6f7d-aaaaa"}},
		"too few answers": {[]snapshot.DNSMetrics{scrape(100, 300)}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			s := fixture.Load(t, healthy)
			s.DNSMetrics = tc.scrapes
			findings := ServfailRatio{}.Run(s)
			if got := fixture.Summaries(findings); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if len(findings) == 1 && len(tc.scrapes) == 2 {
				if evidence := strings.Join(findings[0].Evidence, "\n"); !strings.Contains(evidence, "not read: GET pods/coredns-6f7d-bbbbb") {
					t.Errorf("the unreadable pod is not in the evidence:\n%s", evidence)
				}
			}
		})
	}
}

func TestForwardUnhealthy(t *testing.T) {
	for name, tc := range map[string]struct {
		failures, broken float64
		want             []string
	}{
		"a few failures": {3, 0, nil},
		"many failures":  {25, 0, []string{"medium dns-forward-unhealthy kube-system/pod/coredns-6f7d-aaaaa"}},
		"all down":       {4, 2, []string{"high dns-forward-unhealthy kube-system/pod/coredns-6f7d-aaaaa"}},
	} {
		t.Run(name, func(t *testing.T) {
			s := fixture.Load(t, healthy)
			s.DNSMetrics = []snapshot.DNSMetrics{
				{Pod: podRef("coredns-6f7d-aaaaa"), ForwardHealthcheckFailures: tc.failures, ForwardHealthcheckBroken: tc.broken},
				{Pod: podRef("coredns-6f7d-bbbbb")},
			}
			got := fixture.Summaries(ForwardUnhealthy{}.Run(s))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestForwardLoopRiskFromKubeletConfig(t *testing.T) {
	loop := func(sev string) []string {
		return []string{sev + " dns-forward-loop-risk " + configMap + "," + deployment}
	}
	for name, tc := range map[string]struct {
		resolvConf, osImage string
		want                []string
		// unconfirmed: node-b's configuration is unreadable and node-a's says nothing, so the
		// check is not evaluated rather than passed.
		unconfirmed bool
	}{
		"systemd-resolved stub": {resolvedStub, "Debian GNU/Linux 12 (bookworm)", loop("high"), false},
		"ubuntu resolv.conf":    {defaultResolv, "Ubuntu 24.04.1 LTS", loop("medium"), false},
		"debian resolv.conf":    {defaultResolv, "Debian GNU/Linux 12 (bookworm)", nil, true},
		"resolved upstream":     {resolvedUpstream, "Ubuntu 24.04.1 LTS", nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			s := fixture.Load(t, healthy)
			s.Nodes[0].Status.NodeInfo.OSImage = tc.osImage
			s.KubeletConfigs = []snapshot.KubeletConfig{
				{Node: "node-a", ResolvConf: tc.resolvConf},
				{Node: "node-b", Error: "GET nodes/node-b/proxy/configz: forbidden"},
			}
			reason := ForwardLoopRisk{}.NotEvaluable(s)
			if unconfirmed := reason != ""; unconfirmed != tc.unconfirmed {
				t.Fatalf("NotEvaluable = %q", reason)
			}
			if tc.unconfirmed && !strings.Contains(reason, "nodes/node-b/proxy/configz: forbidden") {
				t.Errorf("reason does not say which node could not be read: %q", reason)
			}
			findings := ForwardLoopRisk{}.Run(s)
			if got := fixture.Summaries(findings); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if len(findings) == 1 && !strings.Contains(strings.Join(findings[0].Evidence, "\n"), "node node-a") {
				t.Errorf("evidence does not name the node: %q", findings[0].Evidence)
			}
		})
	}
}

// Which resolver CoreDNS's own pods get follows the kubelet's rules for dnsPolicy and hostNetwork.
func TestForwardLoopRiskFollowsDNSPolicy(t *testing.T) {
	loop := []string{"high dns-forward-loop-risk " + configMap + "," + deployment}
	for name, tc := range map[string]struct {
		policy      corev1.DNSPolicy
		hostNetwork bool
		nameservers []string
		want        []string
	}{
		"ClusterFirst":                  {corev1.DNSClusterFirst, false, nil, loop},
		"ClusterFirstWithHostNet":       {corev1.DNSClusterFirstWithHostNet, true, nil, loop},
		"ClusterFirst on host network":  {corev1.DNSClusterFirst, true, nil, nil},
		"None naming the Service":       {corev1.DNSNone, false, []string{"192.0.2.1", "127.0.100.10"}, loop},
		"None naming real upstreams":    {corev1.DNSNone, false, []string{"192.0.2.1"}, nil},
		"None naming loopback":          {corev1.DNSNone, false, []string{"127.0.0.1"}, loop},
		"None, loopback on the host ns": {corev1.DNSNone, true, []string{"127.0.0.53"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			s := withHealthyProbes(fixture.Load(t, healthy))
			spec := &s.Deployments[0].Spec.Template.Spec
			spec.DNSPolicy, spec.HostNetwork = tc.policy, tc.hostNetwork
			if tc.nameservers != nil {
				spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: tc.nameservers}
			}
			s.Services[0].Spec.ClusterIPs = []string{s.Services[0].Spec.ClusterIP}
			if reason := (ForwardLoopRisk{}).NotEvaluable(s); reason != "" {
				t.Fatalf("NotEvaluable = %q", reason)
			}
			if got := fixture.Summaries(ForwardLoopRisk{}.Run(s)); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestForwardLoopRiskUnconfirmable(t *testing.T) {
	s := fixture.Load(t, healthy)
	s.MarkUnavailable(snapshot.KindKubeletConfigs, "forbidden: cannot get resource nodes/proxy")
	reason := ForwardLoopRisk{}.NotEvaluable(s)
	if !strings.Contains(reason, "cannot be confirmed") || !strings.Contains(reason, "nodes/proxy") {
		t.Errorf("NotEvaluable = %q", reason)
	}
	// Forwarding to explicit upstreams does not depend on the nodes: nothing to confirm.
	s = fixture.LoadOverlay(t, healthy, "dns-corefile-no-loop.yaml")
	s.ConfigMaps[0].Data["Corefile"] = ".:53 {\n  forward . 192.0.2.53\n  cache\n  loop\n}\n"
	s.MarkUnavailable(snapshot.KindKubeletConfigs, "forbidden")
	if reason := (ForwardLoopRisk{}).NotEvaluable(s); reason != "" {
		t.Errorf("NotEvaluable = %q, want evaluated", reason)
	}
	// Manifests carry no kubelet configuration and are judged on their own.
	s = fixture.Load(t, healthy)
	s.Source = snapshot.SourceManifests
	if reason := (ForwardLoopRisk{}).NotEvaluable(s); reason != "" {
		t.Errorf("manifests: NotEvaluable = %q", reason)
	}
}

func TestMemorySizingRule(t *testing.T) {
	s := fixture.LoadOverlay(t, healthy, "dns-memory-limit-low.yaml")
	findings := MemoryLimitLow{}.Run(s)
	if len(findings) != 1 {
		t.Fatalf("got %d findings", len(findings))
	}
	if want := "(2 pods + 2 Services) / 1000 + 54 = 55 MB (CoreDNS sizing rule, default settings)"; findings[0].Evidence[0] != want {
		t.Errorf("evidence %q, want %q", findings[0].Evidence[0], want)
	}
	// autopath keeps every pod in memory: the steeper rule applies.
	s.ConfigMaps[0].Data["Corefile"] = ".:53 {\n  autopath @kubernetes\n  kubernetes cluster.local {\n    pods verified\n  }\n  forward . /etc/resolv.conf\n  cache 30\n  loop\n}\n"
	s.ForgetDerived() // the Corefile was parsed for the first run
	findings = MemoryLimitLow{}.Run(s)
	if len(findings) != 1 || !strings.Contains(findings[0].Evidence[0], "/ 250 + 56 = 57 MB") {
		t.Errorf("autopath: %+v", findings)
	}
	if findings[0].Severity != check.Medium {
		t.Errorf("severity %s without OOMKills", findings[0].Severity)
	}
}

// Edge cases of the objects and Corefiles clusters really have, as mutations in code of the
// healthy fixture; each names the findings of every DNS check it must cause (none: passes).
func TestDNSEdgeCases(t *testing.T) {
	corefile := func(text string) func(*snapshot.Snapshot) {
		return func(s *snapshot.Snapshot) { s.ConfigMaps[0].Data["Corefile"] = text }
	}
	plain := ".:53 {\n  kubernetes cluster.local\n  forward . /etc/resolv.conf\n  cache 30\n  loop\n  %s\n}\n"
	for name, tc := range map[string]struct {
		mutate       func(*snapshot.Snapshot)
		want         []string
		notEvaluated string // a check that must say it cannot judge
	}{
		"health and ready on explicit addresses": {
			mutate: corefile(strings.Replace(plain, "%s", "health 0.0.0.0:8080\n  ready :8181", 1)),
		},
		"health on localhost is out of the kubelet's reach": {
			mutate: corefile(strings.Replace(plain, "%s", "health localhost:8080\n  ready", 1)),
			want:   []string{"high dns-probe-plugin-missing " + configMap + "," + deployment},
		},
		"forward over TLS to an IPv6 loopback": {
			mutate: corefile(".:53 {\n  health\n  ready\n  kubernetes cluster.local\n  forward . tls://[::1]:853\n  cache 30\n  loop\n}\n"),
			want:   []string{"high dns-forward-loopback " + configMap + "," + deployment},
		},
		"environment variables are not filled in from this machine": {
			mutate:       corefile(strings.Replace(plain, "%s", "health\n  ready\n  {$HOME} 30", 1)),
			notEvaluated: "dns-corefile-no-cache",
		},
		"an import after other tokens on its line": {
			mutate:       corefile(".:53 { import /etc/coredns/custom/*.override\n  health\n  ready\n  forward . /etc/resolv.conf\n  cache\n  loop\n}\n"),
			notEvaluated: "dns-corefile-invalid",
		},
		"endpoints without a ready condition count as ready": {
			mutate: func(s *snapshot.Snapshot) {
				for i := range s.EndpointSlices[0].Endpoints {
					s.EndpointSlices[0].Endpoints[i].Conditions.Ready = nil
				}
			},
		},
		"a PodDisruptionBudget with an empty selector covers the namespace": {
			mutate: func(s *snapshot.Snapshot) { s.PodDisruptionBudgets[0].Spec.Selector = &metav1.LabelSelector{} },
		},
		"a PodDisruptionBudget with no selector covers nothing": {
			mutate: func(s *snapshot.Snapshot) { s.PodDisruptionBudgets[0].Spec.Selector = nil },
			want:   []string{"low dns-no-pdb " + deployment},
		},
		"the only DNS Deployment scaled to zero": {
			mutate: func(s *snapshot.Snapshot) {
				s.Deployments[0].Spec.Replicas = ptr.To(int32(0))
				s.Deployments[0].Status = appsv1.DeploymentStatus{ObservedGeneration: 2}
				s.Pods = s.Pods[:0]
				s.Finish()
			},
			want: []string{"critical dns-unavailable " + deployment},
		},
		"a kube-dns leftover at zero beside a running CoreDNS": {
			mutate: func(s *snapshot.Snapshot) {
				s.Deployments = append(s.Deployments, appsv1.Deployment{
					ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}},
					Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(int32(0))},
				})
				s.Finish()
			},
		},
		"OpenShift's CoreDNS, built under another image name": {
			mutate: func(s *snapshot.Snapshot) {
				c := &s.Deployments[0].Spec.Template.Spec.Containers[0]
				c.Image = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:0123"
				c.Command = []string{"coredns"}
				s.ConfigMaps[0].Data["Corefile"] = ".:53 {\n  health\n  ready\n  forward . /etc/resolv.conf\n  loop\n}\n"
			},
			want:         []string{"medium dns-corefile-no-cache " + configMap + "," + deployment},
			notEvaluated: "dns-corefile-removed-plugin",
		},
		"a node without a zone label leaves the zones unknown": {
			mutate: func(s *snapshot.Snapshot) {
				s.Nodes = append(s.Nodes, corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-c",
					Labels: map[string]string{"topology.kubernetes.io/zone": "zone-c"}}})
				delete(s.Nodes[1].Labels, "topology.kubernetes.io/zone")
				s.Finish()
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := withHealthyProbes(fixture.Load(t, healthy))
			tc.mutate(s)
			got := runFamily(s, nil)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if tc.notEvaluated != "" {
				for _, c := range Checks() {
					if c.Meta().ID != tc.notEvaluated {
						continue
					}
					if reason := c.(check.Applicability).NotEvaluable(s); reason == "" {
						t.Errorf("%s does not say it cannot judge this", tc.notEvaluated)
					}
				}
			}
		})
	}
}
