package cmd

import (
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// A node exporter that shares its node's network and processes, in a namespace of its own.
const nodeAgentManifest = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-exporter, namespace: monitoring}
spec:
  selector: {matchLabels: {app: node-exporter}}
  template:
    metadata: {labels: {app: node-exporter}}
    spec:
      hostNetwork: true
      hostPID: true
      containers: [{name: node-exporter, image: quay.io/prometheus/node-exporter:v1.9.1}]
`

// --system-namespaces names the namespaces whose privileged components the Pod Security checks
// report once, at info, as it names those the NetworkPolicy checks leave alone;
// --netpol-system-namespaces, its old name, works as before; both at once is an error.
func TestSystemNamespacesFlag(t *testing.T) {
	path := writeManifest(t, "agent.yaml", nodeAgentManifest)
	severity := func(flags ...string) string {
		t.Helper()
		args := append([]string{"diagnose", "-f", path, "--checks", "pod-security-baseline", "-o", "json", "--fail-on", "none"}, flags...)
		rep := run(t, testEnv{}, args...).report(t)
		if len(rep.Findings) != 1 {
			t.Fatalf("%v: findings %q", flags, findingKeys(rep))
		}
		return string(rep.Findings[0].Severity)
	}
	if got := severity(); got != "high" {
		t.Errorf("outside the system namespaces: %s, want high", got)
	}
	if got := severity("--system-namespaces", "kube-system,monitoring"); got != "info" {
		t.Errorf("--system-namespaces monitoring: %s, want info", got)
	}
	if got := severity("--netpol-system-namespaces", "kube-system,monitoring"); got != "info" {
		t.Errorf("--netpol-system-namespaces monitoring: %s, want info", got)
	}
	both := run(t, testEnv{}, "diagnose", "-f", path, "--system-namespaces", "a", "--netpol-system-namespaces", "b")
	if both.code != report.ExitError || !strings.Contains(both.stderr, "--netpol-system-namespaces is the old name of --system-namespaces") {
		t.Errorf("both flags: exit %d, stderr %q", both.code, both.stderr)
	}
}
