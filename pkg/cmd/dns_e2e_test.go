//go:build e2e

package cmd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// In the scenario both CoreDNS replicas are OOMKilled and crash looping: that outage leads the
// report, as one finding that carries the evidence and the fix, with the generic findings about
// the same Deployment folded into it.
func TestCoreDNSOutageLeadsTheReport(t *testing.T) {
	rep := admin(t, "diagnose", "-o", "json").report(t)
	top := rep.Findings[0]
	if top.Check != "dns-unavailable" || top.Severity != check.Critical || !top.Incident || top.Scope != check.ScopeCluster {
		t.Fatalf("top finding %s (%s, incident %v, scope %s), want the CoreDNS outage", top.Check, top.Severity, top.Incident, top.Scope)
	}
	evidence := strings.Join(top.Evidence, "\n")
	for _, want := range []string{
		"pod coredns-5c7b9d8f6-h4w8n on node node-a: not ready; container coredns CrashLoopBackOff, last terminated OOMKilled (exit code 137) at memory limit 32Mi 3m8s ago, 9 restarts",
		"also reported by container-oomkilled, deployment-unavailable, pod-crashloop; folded into this finding",
	} {
		if !strings.Contains(evidence, want) {
			t.Errorf("evidence lacks %q:\n%s", want, evidence)
		}
	}
	if !slices.Contains(top.Fix, "kubectl set resources -n kube-system deployment/coredns -c coredns --limits=memory=64Mi") {
		t.Errorf("fix %q", top.Fix)
	}
	for _, f := range rep.Findings[1:] {
		if f.Objects[0].Name == "coredns" && !strings.HasPrefix(f.Check, "dns-") {
			t.Errorf("%s about CoreDNS was not folded into the outage", f.Check)
		}
	}
}

// A Corefile edit that breaks the syntax is reported with the Caddyfile parser's line.
func TestBrokenCorefileIsReportedWithTheParserLine(t *testing.T) {
	ctx := context.Background()
	configMaps := cluster.Client.CoreV1().ConfigMaps("kube-system")
	original, err := configMaps.Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		restored, err := configMaps.Get(ctx, "coredns", metav1.GetOptions{})
		if err == nil {
			restored.Data = original.Data
			_, err = configMaps.Update(ctx, restored, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Errorf("restoring the Corefile: %v", err)
		}
	})
	broken := original.DeepCopy()
	// Line 3 opens a block that nothing closes; the parser runs out of input on line 8.
	broken.Data["Corefile"] = ".:53 {\n    errors\n    health {\n    ready\n    kubernetes cluster.local {\n    forward . /etc/resolv.conf\n    cache 30\n}\n"
	if _, err := configMaps.Update(ctx, broken, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	r := admin(t, "diagnose", "--category", "dns", "-o", "json")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	f := findingOf(r.report(t), "dns-corefile-invalid")
	if f == nil {
		t.Fatalf("no dns-corefile-invalid finding: %q", findingKeys(r.report(t)))
	}
	if f.Severity != check.Critical || !strings.Contains(f.Message, "kube-system/coredns:Corefile:8 - Error during parsing: Unexpected EOF") {
		t.Errorf("%s: %s", f.Severity, f.Message)
	}
	if want := "kubectl edit configmap -n kube-system coredns"; !slices.Contains(f.Fix, want) {
		t.Errorf("fix %q, want %q", f.Fix, want)
	}
	// The checks of the Corefile's content have nothing to read and stay quiet.
	for _, key := range findingKeys(r.report(t)) {
		if strings.HasPrefix(key, "dns-corefile-no-") || strings.HasPrefix(key, "dns-probe-plugin") {
			t.Errorf("a check judged the unparsable Corefile: %s", key)
		}
	}
}

func findingOf(rep *report.Report, id string) *check.Finding {
	for i := range rep.Findings {
		if rep.Findings[i].Check == id {
			return &rep.Findings[i]
		}
	}
	return nil
}

// Limited to another namespace, the DNS checks cannot see kube-system and say so; those about
// workloads' own DNS settings still run.
func TestDNSChecksOutsideKubeSystem(t *testing.T) {
	rep := admin(t, "diagnose", "-n", "shop", "--category", "dns", "-o", "json").report(t)
	evaluated := rep.Summary.ChecksRun
	if evaluated != 2 {
		t.Errorf("%d DNS checks ran under -n shop, want the 2 ndots checks", evaluated)
	}
	for _, ne := range rep.NotEvaluated {
		if !strings.Contains(ne.Reason, "namespace shop") && !strings.Contains(ne.Reason, "beyond namespace shop") {
			t.Errorf("%s: %s", ne.Check, ne.Reason)
		}
	}
}

// As a pre-deploy gate, a Corefile written for an old CoreDNS fails the build before it reaches
// the cluster.
func TestManifestGateCatchesARemovedPlugin(t *testing.T) {
	dir := t.TempDir()
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 2
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {k8s-app: kube-dns}}}
      containers:
      - name: coredns
        image: registry.k8s.io/coredns/coredns:v1.12.0
        resources: {requests: {cpu: 100m, memory: 70Mi}, limits: {memory: 170Mi}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: coredns, namespace: kube-system}
spec: {maxUnavailable: 1, selector: {matchLabels: {k8s-app: kube-dns}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        kubernetes cluster.local
        proxy . /etc/resolv.conf
        cache 30
        loop
    }
`
	path := filepath.Join(dir, "coredns.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, testEnv{}, "diagnose", "-f", path, "--category", "dns", "-o", "json")
	if r.code != 1 {
		t.Errorf("exit %d, want 1; stderr %s", r.code, r.stderr)
	}
	if got := findingKeys(r.report(t)); !slices.Equal(got, []string{"dns-corefile-removed-plugin kube-system/configmap/coredns"}) {
		t.Errorf("findings %q", got)
	}
}
