//go:build e2e

package cmd

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/internal/promtest"
	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

// A real node_exporter reads node-a's kernel files (a /proc of the test's own: 128,500 of
// 131,072 entries), and a Prometheus query API on loopback serves its series under node-a's
// address, as Prometheus would after scraping it, with node-b's insert failures rising. Against
// the scenario cluster, where kube-proxy's configuration shrinks the table and node-b's
// node-problem-detector reports it full, every conntrack check has something to say.
func TestConntrackFromPrometheusAndTheCluster(t *testing.T) {
	exporter := testcluster.RunNodeExporter(t, testcluster.ConntrackState{Entries: 128500, Max: 131072, InsertFailed: []int{12, 30}})
	resp, err := http.Get(exporter.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}

	prom := promtest.New()
	if err := prom.AnswerFromExposition(page, "127.0.0.11:9100"); err != nil {
		t.Fatal(err)
	}
	nodeB := map[string]string{"instance": "127.0.0.12:9100", "job": "node-exporter"}
	prom.Answer("node_nf_conntrack_entries", promtest.Series{Labels: nodeB, Value: 9000})
	prom.Answer("node_nf_conntrack_entries_limit", promtest.Series{Labels: nodeB, Value: 131072})
	nodeA := map[string]string{"instance": "127.0.0.11:9100", "job": "node-exporter"}
	prom.Answer("rate(node_nf_conntrack_stat_drop[5m])", promtest.Series{Labels: nodeA, Value: 0}, promtest.Series{Labels: nodeB, Value: 0})
	prom.Answer("rate(node_nf_conntrack_stat_early_drop[5m])", promtest.Series{Labels: nodeA, Value: 0})
	prom.Answer("rate(node_nf_conntrack_stat_insert_failed[5m])", promtest.Series{Labels: nodeA, Value: 0}, promtest.Series{Labels: nodeB, Value: 1.5})
	prom.Answer("node_uname_info")
	server := httptest.NewServer(prom)
	t.Cleanup(server.Close)

	r := admin(t, "diagnose", "--category", "conntrack", "-o", "json", "--prometheus-url", server.URL)
	if r.code != 1 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	rep := r.report(t)
	want := []string{
		"conntrack-drops node/node-b",
		"conntrack-table-full-reported node/node-b",
		"conntrack-table-usage node/node-a",
		"conntrack-table-small kube-system/daemonset/kube-proxy",
	}
	if got := findingKeys(rep); !slices.Equal(got, want) {
		t.Fatalf("findings %q, want %q\nnot evaluated: %+v", got, want, rep.NotEvaluated)
	}
	if len(rep.NotEvaluated) != 0 {
		t.Errorf("not evaluated: %+v", rep.NotEvaluated)
	}
	usage := findingOf(rep, "conntrack-table-usage")
	evidence := strings.Join(usage.Evidence, "\n")
	if usage.Severity != check.Critical || !strings.Contains(usage.Message, "node-a, holds 128,500 of 131,072 entries (98.0%)") ||
		!strings.Contains(evidence, "from Prometheus at "+server.URL) || !strings.Contains(evidence, "not measured: 1 node (node-c)") {
		t.Errorf("usage %s: %s\n%s", usage.Severity, usage.Message, evidence)
	}
	drops := findingOf(rep, "conntrack-drops")
	if drops.Severity != check.Critical || !drops.Incident || !strings.Contains(drops.Evidence[0], "0 dropped, 0 early-dropped, 450 insert failures in 5m0s") {
		t.Errorf("drops %s: %s %q", drops.Severity, drops.Message, drops.Evidence)
	}
	// kube-proxy's configuration asks for only 32,768 entries on these 4-CPU nodes; node-a and
	// node-b measure 131,072, and the measurement beats the computation: only node-c, whose real
	// size nobody measured, is reported, as a low risk.
	small := findingOf(rep, "conntrack-table-small")
	if small.Severity != check.Low || !strings.Contains(small.Message, "kube-proxy guarantees 1 node only a connection-tracking table "+
		"small for the load (conntrack maxPerCore 8192, min 0, from ConfigMap kube-system/kube-proxy, key config.conf)") ||
		len(small.Evidence) != 1 || !strings.HasPrefix(small.Evidence[0], "node node-c: kube-proxy raises the table to at least 32,768 entries") {
		t.Errorf("table-small: %s %s %q", small.Severity, small.Message, small.Evidence)
	}
	reported := findingOf(rep, "conntrack-table-full-reported")
	// The evidence gives the condition's age relative to when the cluster was read (10:00 by the
	// tests' clock); Since, the transition itself.
	if !strings.Contains(strings.Join(reported.Evidence, "\n"), "condition ConntrackFull=True for 16m") ||
		reported.Since == nil || !reported.Since.Equal(time.Date(2026, 11, 24, 9, 44, 0, 0, time.UTC)) {
		t.Errorf("reported evidence %q, since %v", reported.Evidence, reported.Since)
	}
	for _, m := range prom.Methods() {
		if m != http.MethodGet {
			t.Errorf("a %s request reached Prometheus", m)
		}
	}
}

func TestPrometheusURLMustBeAURL(t *testing.T) {
	for _, bad := range []string{"localhost:9090", "ftp://127.0.0.1/", "http://"} {
		r := admin(t, "diagnose", "--category", "conntrack", "--prometheus-url", bad)
		assertCleanFailure(t, r, "invalid --prometheus-url")
	}
}

// The kernel's message, as node-problem-detector's kernel monitor records it on the node, is read
// from the real API server (node events only), even in a run limited to another namespace.
func TestConntrackKernelEventOnTheRealServer(t *testing.T) {
	ctx := context.Background()
	events := cluster.Client.CoreV1().Events("default")
	event := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "node-c.conntrack-full", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "node-c", APIVersion: "v1"},
		Reason:         "KernelMessage",
		Message:        "kernel: [88123.456] nf_conntrack: nf_conntrack: table full, dropping packet",
		Source:         corev1.EventSource{Component: "kernel-monitor", Host: "node-c"},
		Count:          12,
		FirstTimestamp: metav1.NewTime(time.Date(2026, 11, 24, 9, 40, 0, 0, time.UTC)),
		LastTimestamp:  metav1.NewTime(time.Date(2026, 11, 24, 9, 55, 0, 0, time.UTC)),
		Type:           corev1.EventTypeWarning,
	}
	if _, err := events.Create(ctx, event, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := events.Delete(ctx, event.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting the event: %v", err)
		}
	})
	rep := admin(t, "diagnose", "-n", "shop", "--checks", "conntrack-table-full-reported", "-o", "json").report(t)
	f := findingOf(rep, "conntrack-table-full-reported")
	if f == nil {
		t.Fatalf("no finding: %q, not evaluated %+v", findingKeys(rep), rep.NotEvaluated)
	}
	evidence := strings.Join(f.Evidence, "\n")
	if f.Severity != check.Critical || len(f.Objects) != 2 ||
		!strings.Contains(evidence, "node node-c: event KernelMessage from kernel-monitor, 12 times, first 20m ago, last 5m ago: kernel: [88123.456] nf_conntrack") ||
		!strings.Contains(evidence, "node node-b: condition ConntrackFull=True") {
		t.Errorf("%s %v:\n%s", f.Severity, f.Objects, evidence)
	}
}
