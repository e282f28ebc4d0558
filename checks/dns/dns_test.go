package dns

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const healthy = "healthy.yaml"

const (
	deployment = "kube-system/deployment/coredns"
	configMap  = "kube-system/configmap/coredns"
)

// cases are mutations of the healthy fixture, probed as on a healthy cluster, each with the one
// finding it must cause; the metrics checks' cases change what the probes read instead.
func cases() []fixture.Case {
	mutation := func(c check.Check, file string, want ...string) fixture.Case {
		return fixture.Case{Check: c, Base: healthy, Fixture: file, Probes: healthyProbes, Want: want}
	}
	scraped := func(c check.Check, change func(metrics []snapshot.DNSMetrics), want ...string) fixture.Case {
		probes := func(s *snapshot.Snapshot) {
			healthyProbes(s)
			change(s.DNSMetrics)
		}
		return fixture.Case{Check: c, Fixture: healthy, Probes: probes, Want: want}
	}
	bothPods := "kube-system/pod/coredns-6f7d-aaaaa,kube-system/pod/coredns-6f7d-bbbbb"
	return []fixture.Case{
		scraped(ServfailRatio{}, func(m []snapshot.DNSMetrics) { m[1].Responses["SERVFAIL"] = 4000 },
			"medium dns-servfail-ratio "+bothPods),
		scraped(ForwardUnhealthy{}, func(m []snapshot.DNSMetrics) { m[0].ForwardHealthcheckBroken = 2 },
			"high dns-forward-unhealthy kube-system/pod/coredns-6f7d-aaaaa"),
		mutation(NotFound{}, "dns-not-found.yaml", "high dns-not-found "),
		mutation(NotFound{}, "dns-not-found-service.yaml", "high dns-not-found "+deployment),
		mutation(Unavailable{}, "dns-unavailable.yaml", "high dns-unavailable "+deployment),
		mutation(PodsUnhealthy{}, "dns-pods-unhealthy.yaml", "high dns-pods-unhealthy "+deployment),
		mutation(ServiceNoEndpoints{}, "dns-service-no-endpoints.yaml", "critical dns-service-no-endpoints kube-system/service/kube-dns,"+deployment),
		mutation(SingleReplica{}, "dns-single-replica.yaml", "medium dns-single-replica "+deployment),
		mutation(Colocated{}, "dns-replicas-colocated.yaml", "medium dns-replicas-colocated "+deployment),
		mutation(Colocated{}, "dns-replicas-colocated-zone.yaml", "low dns-replicas-colocated "+deployment),
		mutation(Colocated{}, "dns-replicas-colocated-spec.yaml", "low dns-replicas-colocated "+deployment),
		mutation(NoDisruptionBudget{}, "dns-no-pdb.yaml", "low dns-no-pdb "+deployment),
		mutation(PriorityClass{}, "dns-priority-class.yaml", "medium dns-priority-class "+deployment),
		mutation(MemoryLimitLow{}, "dns-memory-limit-low.yaml", "medium dns-memory-limit-low "+deployment),
		mutation(CorefileInvalid{}, "dns-corefile-invalid.yaml", "critical dns-corefile-invalid "+configMap+","+deployment),
		mutation(CorefileInvalid{}, "dns-corefile-invalid-directive.yaml", "critical dns-corefile-invalid "+configMap+","+deployment),
		mutation(CorefileInvalid{}, "dns-corefile-invalid-missing.yaml", "critical dns-corefile-invalid "+deployment),
		mutation(NoCache{}, "dns-corefile-no-cache.yaml", "medium dns-corefile-no-cache "+configMap+","+deployment),
		mutation(NoLoop{}, "dns-corefile-no-loop.yaml", "medium dns-corefile-no-loop "+configMap+","+deployment),
		mutation(ProbePluginMissing{}, "dns-probe-plugin-missing.yaml", "high dns-probe-plugin-missing "+configMap+","+deployment),
		mutation(ProbePluginMissing{}, "dns-probe-plugin-port.yaml", "high dns-probe-plugin-missing "+configMap+","+deployment),
		mutation(ForwardLoopback{}, "dns-forward-loopback.yaml", "high dns-forward-loopback "+configMap+","+deployment),
		mutation(ForwardLoopRisk{}, "dns-forward-loop-risk.yaml", "high dns-forward-loop-risk "+configMap+","+deployment),
		mutation(RemovedPlugin{}, "dns-corefile-removed-plugin.yaml", "high dns-corefile-removed-plugin "+configMap+","+deployment),
		mutation(NodeLocalMissing{MinNodes: 3}, "dns-nodelocal-missing.yaml", "low dns-nodelocal-missing "),
		mutation(NodeLocalMissing{MinNodes: 3}, "dns-nodelocal-present.yaml"),
		mutation(NdotsHigh{}, "dns-ndots-high.yaml", "info dns-ndots-high shop/deployment/web"),
		mutation(NdotsDefaultAtScale{}, "dns-ndots-default-at-scale.yaml", "info dns-ndots-default-at-scale shop/deployment/web"),
	}
}

func TestFixtures(t *testing.T) {
	fixture.RunCases(t, check.CategoryDNS, Checks(), cases())
}

// withHealthyProbes is s with healthyProbes added.
func withHealthyProbes(s *snapshot.Snapshot) *snapshot.Snapshot {
	healthyProbes(s)
	return s
}

// healthyProbes adds what the collector would have read through the API server's proxies on the
// healthy cluster: kubelets that hand pods the real upstream servers, and quiet metrics.
func healthyProbes(s *snapshot.Snapshot) {
	for _, node := range []string{"node-a", "node-b"} {
		s.KubeletConfigs = append(s.KubeletConfigs, snapshot.KubeletConfig{Node: node, ResolvConf: resolvedUpstream})
	}
	for _, pod := range []string{"coredns-6f7d-aaaaa", "coredns-6f7d-bbbbb"} {
		s.DNSMetrics = append(s.DNSMetrics, snapshot.DNSMetrics{Pod: snapshot.RefTo(snapshot.KindPods, "kube-system", pod),
			Responses: map[string]float64{"NOERROR": 50000, "NXDOMAIN": 9000, "SERVFAIL": 3}})
	}
}

// runFamily runs every DNS check the way the engine does: a check that says it cannot see is
// left out.
func runFamily(s *snapshot.Snapshot, replace check.Check) []string {
	var findings []check.Finding
	for _, c := range Checks() {
		if replace != nil && c.Meta().ID == replace.Meta().ID {
			c = replace
		}
		if a, ok := c.(check.Applicability); ok && a.NotEvaluable(s) != "" {
			continue
		}
		findings = append(findings, c.Run(s)...)
	}
	return fixture.Summaries(findings)
}

func TestHealthyClusterDNSHasNoFinding(t *testing.T) {
	s := withHealthyProbes(fixture.Load(t, healthy))
	for _, c := range Checks() {
		if a, ok := c.(check.Applicability); ok {
			if reason := a.NotEvaluable(s); reason != "" {
				t.Errorf("%s is not evaluated on the healthy fixture: %s", c.Meta().ID, reason)
			}
		}
	}
	if got := runFamily(s, nil); len(got) != 0 {
		t.Errorf("the healthy fixture has findings: %q", got)
	}
}

// Each mutation causes exactly its own finding and no other DNS check fires: the checks do not
// overlap, and the healthy base stays healthy under every other rule.
func TestEachMutationCausesOnlyItsFinding(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.Fixture, func(t *testing.T) {
			got := runFamily(tc.Snapshot(t), tc.Check)
			want := append([]string{}, tc.Want...)
			slices.Sort(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("all DNS checks on %s:\n got  %q\n want %q", tc.Fixture, got, want)
			}
		})
	}
}

func TestZeroAvailableIsCriticalIncidentWithOOMEvidence(t *testing.T) {
	s := fixture.LoadOverlay(t, healthy, "dns-unavailable.yaml")
	s.Deployments[0].Status.AvailableReplicas = 0
	findings := Unavailable{}.Run(s)
	if len(findings) != 1 {
		t.Fatalf("got %d findings", len(findings))
	}
	f := findings[0]
	if f.Severity != check.Critical || !f.Incident {
		t.Errorf("severity %s incident %v, want critical incident", f.Severity, f.Incident)
	}
	evidence := strings.Join(f.Evidence, "\n")
	for _, want := range []string{"coredns-6f7d-bbbbb", "OOMKilled", "170Mi", "CrashLoopBackOff"} {
		if !strings.Contains(evidence, want) {
			t.Errorf("evidence lacks %q:\n%s", want, evidence)
		}
	}
	if fix := strings.Join(f.Fix, "\n"); !strings.Contains(fix, "--limits=memory=340Mi") {
		t.Errorf("fix does not double the OOMKilled limit:\n%s", fix)
	}
}

func TestCorefileParseErrorNamesTheLine(t *testing.T) {
	findings := CorefileInvalid{}.Run(fixture.LoadOverlay(t, healthy, "dns-corefile-invalid.yaml"))
	if len(findings) != 1 {
		t.Fatalf("got %d findings", len(findings))
	}
	// The block opened on line 5 is still open at the end of the file, line 11.
	if msg := findings[0].Message; !strings.Contains(msg, "kube-system/coredns:Corefile:11") {
		t.Errorf("message does not name the line: %s", msg)
	}
}

func TestMigrationEvidenceNamesVersions(t *testing.T) {
	findings := RemovedPlugin{}.Run(fixture.LoadOverlay(t, healthy, "dns-corefile-removed-plugin.yaml"))
	if len(findings) != 1 {
		t.Fatalf("got %d findings", len(findings))
	}
	want := []string{
		"option upstream of plugin kubernetes: removed in CoreDNS 1.7.0",
		"plugin proxy: removed in CoreDNS 1.5.0, replaced by forward",
	}
	if got := findings[0].Evidence; !reflect.DeepEqual(got, want) {
		t.Errorf("evidence:\n got  %q\n want %q", got, want)
	}
}

func TestRemovedPluginNeedsAVersion(t *testing.T) {
	s := fixture.LoadOverlay(t, healthy, "dns-corefile-removed-plugin.yaml")
	s.Deployments[0].Spec.Template.Spec.Containers[0].Image = "registry.k8s.io/coredns/coredns:latest"
	if reason := (RemovedPlugin{}).NotEvaluable(s); !strings.Contains(reason, "names no version") {
		t.Errorf("NotEvaluable = %q", reason)
	}
}

func TestCoreDNSVersionFromImage(t *testing.T) {
	for image, want := range map[string]string{
		"registry.k8s.io/coredns/coredns:v1.11.3":                                                       "1.11.3",
		"602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.11.1-eksbuild.4":                   "1.11.1",
		"coredns/coredns:1.8.0@sha256:cc8fb77bc2a0541949d1d9320a641b82fd392b0d3d8145469ca4709ae769980e": "1.8.0",
		"localhost:5000/coredns":           "",
		"coredns/coredns:latest":           "",
		"registry.k8s.io/kube-dns:1.14.13": "",
	} {
		srv := server{template: fixture.Load(t, healthy).Deployments[0].Spec.Template.DeepCopy()}
		srv.template.Spec.Containers[0].Image = image
		if got := srv.coreDNSVersion(); got != want {
			t.Errorf("%s: version %q, want %q", image, got, want)
		}
	}
}

func TestFileImportsAreNotReadFromThisMachine(t *testing.T) {
	dir := t.TempDir()
	local := filepath.Join(dir, "extra.server")
	if err := os.WriteFile(local, []byte("example.org {\n  whoami\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := "(common) {\n  cache 30\n}\n.:53 {\n  import common\n  import " + local + "\n  forward . /etc/resolv.conf\n}\nimport " + local + "\n"
	cf, err := parseCorefile(text, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.blocks) != 1 || cf.blocks[0].plugin("whoami") != nil {
		t.Errorf("a file on this machine was imported: %+v", cf.blocks)
	}
	if cf.blocks[0].plugin("cache") == nil {
		t.Errorf("the snippet import was not followed: %+v", cf.blocks[0])
	}
	if want := []string{local, local}; !reflect.DeepEqual(cf.imports, want) {
		t.Errorf("imports = %q, want %q", cf.imports, want)
	}
}

// The checks of the DNS server do not apply to a run limited to another namespace; those of
// workloads' resolver settings judge any namespace.
func TestOutsideTheDNSNamespace(t *testing.T) {
	for _, c := range Checks() {
		m := c.Meta()
		reason := m.OutOfNamespace("shop")
		switch {
		case strings.HasPrefix(m.ID, "dns-ndots-"):
			if reason != "" {
				t.Errorf("%s does not apply to -n shop: %s", m.ID, reason)
			}
		case !strings.Contains(reason, "beyond namespace shop"):
			t.Errorf("%s applies to -n shop (reason %q)", m.ID, reason)
		}
		if !m.WholeCluster {
			for _, ns := range snapshot.ClusterDNSNamespaces() {
				if reason := m.OutOfNamespace(ns); reason != "" {
					t.Errorf("%s does not apply to -n %s: %s", m.ID, ns, reason)
				}
			}
		}
	}
}

// Corefiles come from the cluster, so from anyone who may edit a ConfigMap in kube-system: the
// parser must never panic, and must read the same Corefile the same way every time (its tokens
// come out of a map). That it never follows a file import is TestFileImportsAreNotReadFromThisMachine's.
func FuzzParseCorefile(f *testing.F) {
	for _, seed := range []string{
		".:53 {\n  forward . /etc/resolv.conf\n  cache 30\n}\n",
		"(snip) {\n  cache\n  errors\n}\n.:53 {\n  import snip\n  import /etc/passwd\n  log\n}\n",
		"import /etc/hostname\n",
		".:53 {\n  x \"multi\nline\" import /etc/hostname\n}\n",
		"{$HOME} {\n  import {$HOME}/.bashrc\n}\n",
		".:53 {\n  health {\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		first, err := parseCorefile(text, "fuzz")
		second, err2 := parseCorefile(text, "fuzz")
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(first, second) {
			t.Fatalf("two parses differ: %+v (%v) and %+v (%v)", first, err, second, err2)
		}
		if err != nil {
			return
		}
		for _, b := range first.blocks {
			for _, p := range b.plugins {
				if p.line < 1 {
					t.Fatalf("plugin %s without a line", p.name)
				}
			}
		}
	})
}

// The DNS incidents say when they began, and their fixes name the pod whose logs tell why.
func TestDNSIncidentsSayWhenTheyBegan(t *testing.T) {
	unavailable := Unavailable{}.Run(fixture.LoadOverlay(t, healthy, "dns-unavailable.yaml"))
	unhealthy := PodsUnhealthy{}.Run(fixture.LoadOverlay(t, healthy, "dns-pods-unhealthy.yaml"))
	if len(unavailable) != 1 || len(unhealthy) != 1 {
		t.Fatalf("got %d dns-unavailable and %d dns-pods-unhealthy findings", len(unavailable), len(unhealthy))
	}
	for _, tc := range []struct {
		f        check.Finding
		since    string
		evidence []string
		fix      string
	}{
		// Not ready since 09:47: earlier than its last OOM kill, at 09:58.
		{unavailable[0], "2026-11-24T09:47:00Z", []string{"not ready for 13m", "OOMKilled (exit code 137) at memory limit 170Mi 2m ago"},
			"kubectl logs -n kube-system coredns-6f7d-bbbbb -c coredns --previous"},
		// Ready again: the OOM kill is when its trouble began.
		{unhealthy[0], "2026-11-24T09:20:00Z", []string{"OOMKilled (exit code 137) at memory limit 170Mi 40m ago"},
			"kubectl logs -n kube-system coredns-6f7d-aaaaa -c coredns --previous"},
	} {
		if tc.f.Since == nil || tc.f.Since.Format(time.RFC3339) != tc.since {
			t.Errorf("%s: since %v, want %s", tc.f.Check, tc.f.Since, tc.since)
		}
		evidence := strings.Join(tc.f.Evidence, "\n")
		for _, want := range tc.evidence {
			if !strings.Contains(evidence, want) {
				t.Errorf("%s: evidence lacks %q:\n%s", tc.f.Check, want, evidence)
			}
		}
		if !slices.Contains(tc.f.Fix, tc.fix) {
			t.Errorf("%s: fix %q lacks %q", tc.f.Check, tc.f.Fix, tc.fix)
		}
	}
}

// Fixes select the DNS pods by the labels their controller selects them by, not by the
// conventional k8s-app=kube-dns they may not carry.
func TestDNSFixesSelectThePodsByTheirOwnLabels(t *testing.T) {
	s := fixture.LoadOverlay(t, healthy, "dns-no-pdb.yaml")
	d := &s.Deployments[0]
	d.Spec.Selector.MatchLabels = map[string]string{"app.kubernetes.io/name": "coredns"}
	d.Spec.Template.Labels = map[string]string{"app.kubernetes.io/name": "coredns"}
	findings := NoDisruptionBudget{}.Run(s)
	want := "kubectl create poddisruptionbudget -n kube-system coredns --selector=app.kubernetes.io/name=coredns --max-unavailable=1"
	if len(findings) != 1 || !slices.Contains(findings[0].Fix, want) {
		t.Errorf("dns-no-pdb fix: %+v, want %q", findings, want)
	}
}
