//go:build e2e

package cmd

import (
	"context"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// A watch with --alertmanager-url and --listen: the only node stopping being Ready is a critical alert in a
// real Alertmanager and a series of /metrics, read back with Prometheus' parser; when the node
// is Ready again the alert resolves and the series drops to 0. Only reads reach the cluster.
func TestWatchAlertsAndServesMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := testcluster.Start(ctx, testcluster.Options{Audit: true, Log: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	am := testcluster.RunAlertmanager(t, testcluster.AlertmanagerOptions{})

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}
	if node, err = c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setReady := func(ready corev1.ConditionStatus) {
		t.Helper()
		n, err := c.Client.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.Now()
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: "KubeletNotReady",
			LastHeartbeatTime: now, LastTransitionTime: metav1.NewTime(now.Add(-10 * time.Minute))}}
		if _, err := c.Client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setReady(corev1.ConditionTrue)

	address := freeLoopbackAddress(t)
	w := startWatch(ctx, t, c.Kubeconfig, "--debounce", "300ms", "--checks", "node-not-ready",
		"--alertmanager-url", am.URL, "--alertmanager-resend", "2s", "--listen", address)
	waitFor(ctx, t, "the first evaluation", func() bool { return strings.Contains(w.stderr(), "watching ") })
	if code := get(t, "http://"+address+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after the first evaluation: %d, want 200", code)
	}

	setReady(corev1.ConditionFalse)
	w.waitEvent(ctx, t, "NEW node-not-ready", func(e watchEvent) bool { return e.Type == "new" && e.Finding.Check == "node-not-ready" })
	waitFor(ctx, t, "the alert in Alertmanager", func() bool { return len(firing(ctx, t, am, "node-not-ready")) == 1 })
	alert := firing(ctx, t, am, "node-not-ready")[0]
	for label, want := range map[string]string{"severity": "critical", "category": "workloads", "object": "node/node-a"} {
		if got := alert.Labels[label]; got != want {
			t.Errorf("the alert's label %s is %q, want %q (labels %v)", label, got, want, alert.Labels)
		}
	}
	if !strings.Contains(alert.Annotations["summary"], "not Ready") || alert.Annotations["runbook"] == "" {
		t.Errorf("the alert's annotations lack the summary or the runbook: %v", alert.Annotations)
	}
	waitFor(ctx, t, "/metrics to count the finding", func() bool { return findings(t, address, "node-not-ready") == 1 })

	setReady(corev1.ConditionTrue)
	w.waitEvent(ctx, t, "RESOLVED node-not-ready", func(e watchEvent) bool { return e.Type == "resolved" && e.Finding.Check == "node-not-ready" })
	waitFor(ctx, t, "the alert to resolve", func() bool { return len(firing(ctx, t, am, "node-not-ready")) == 0 })
	waitFor(ctx, t, "/metrics to count no finding", func() bool { return findings(t, address, "node-not-ready") == 0 })

	if code := w.stop(); code != 0 {
		t.Errorf("Ctrl-C ended the watch with exit %d, want 0\nstderr: %s", code, w.stderr())
	}
	// The address is let go of with the watch.
	if l, err := net.Listen("tcp", address); err != nil {
		t.Errorf("after the watch, --listen's address is still held: %v", err)
	} else {
		l.Close()
	}
	if read := auditedReads(t, c); !read["/nodes"] {
		t.Errorf("the audit log shows no read of nodes: %v", read)
	}
}

func freeLoopbackAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// firing is what Alertmanager's API holds as active for a check: resolved alerts leave it.
func firing(ctx context.Context, t *testing.T, am *testcluster.Alertmanager, check string) []alertRead {
	t.Helper()
	alerts, err := am.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []alertRead
	for _, a := range alerts {
		if a.Labels["alertname"] == check && a.Status != nil && a.Status.State != nil && *a.Status.State == "active" {
			out = append(out, alertRead{Labels: a.Labels, Annotations: a.Annotations})
		}
	}
	return out
}

type alertRead struct{ Labels, Annotations map[string]string }

// findings is alertmend_check_findings{check} as /metrics serves it, read with Prometheus'
// own parser; -1 when the series is not there.
func findings(t *testing.T, address, check string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + address + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	family, ok := families["alertmend_check_findings"]
	if !ok {
		return -1
	}
	i := slices.IndexFunc(family.Metric, func(m *dto.Metric) bool {
		return slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == "check" && l.GetValue() == check })
	})
	if i < 0 {
		return -1
	}
	return family.Metric[i].GetGauge().GetValue()
}
