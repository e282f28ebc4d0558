package dns

import (
	"slices"
	"strings"
	"testing"

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
	for name, tc := range map[string]struct {
		resolvConf, osImage string
		want                []string
	}{
		"systemd-resolved stub": {resolvedStub, "Debian GNU/Linux 12 (bookworm)", []string{"high dns-forward-loop-risk " + configMap + "," + deployment}},
		"ubuntu resolv.conf":    {defaultResolv, "Ubuntu 24.04.1 LTS", []string{"medium dns-forward-loop-risk " + configMap + "," + deployment}},
		"debian resolv.conf":    {defaultResolv, "Debian GNU/Linux 12 (bookworm)", nil},
		"resolved upstream":     {resolvedUpstream, "Ubuntu 24.04.1 LTS", nil},
	} {
		t.Run(name, func(t *testing.T) {
			s := fixture.Load(t, healthy)
			s.Nodes[0].Status.NodeInfo.OSImage = tc.osImage
			s.KubeletConfigs = []snapshot.KubeletConfig{
				{Node: "node-a", ResolvConf: tc.resolvConf},
				{Node: "node-b", Error: "GET nodes/node-b/proxy/configz: forbidden"},
			}
			findings := ForwardLoopRisk{}.Run(s)
			got := fixture.Summaries(findings)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if len(findings) == 1 && !strings.Contains(strings.Join(findings[0].Evidence, "\n"), "node node-a") {
				t.Errorf("evidence does not name the node: %q", findings[0].Evidence)
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
	findings = MemoryLimitLow{}.Run(s)
	if len(findings) != 1 || !strings.Contains(findings[0].Evidence[0], "/ 250 + 56 = 57 MB") {
		t.Errorf("autopath: %+v", findings)
	}
	if findings[0].Severity != check.Medium {
		t.Errorf("severity %s without OOMKills", findings[0].Severity)
	}
}
