//go:build e2e

package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/api/v2/models"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
)

// notification is the part of Alertmanager's webhook message the test reads.
type notification struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
		EndsAt time.Time         `json:"endsAt"`
	} `json:"alerts"`
}

// webhook is a receiver of the test's on loopback that records Alertmanager's notifications.
type webhook struct {
	*httptest.Server
	mu    sync.Mutex
	got   []notification
	inbox chan struct{}
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var n notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("decoding a notification: %v", err)
		}
		w.mu.Lock()
		w.got = append(w.got, n)
		w.mu.Unlock()
	}))
	t.Cleanup(w.Close)
	return w
}

// resolvedOf is the endsAt of the resolved notification of finding's alert, if one came.
func (w *webhook) resolvedOf(finding string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range w.got {
		for _, a := range n.Alerts {
			if a.Status == "resolved" && a.Labels[LabelFinding] == finding {
				return a.EndsAt, true
			}
		}
	}
	return time.Time{}, false
}

// eventually polls try until it succeeds, failing the test with its last error after a while.
func eventually(t *testing.T, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// active is Alertmanager's alerts by their finding label.
func active(ctx context.Context, am *testcluster.Alertmanager) (map[string]*models.GettableAlert, error) {
	alerts, err := am.Alerts(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]*models.GettableAlert{}
	for _, a := range alerts {
		out[a.Labels[LabelFinding]] = a
	}
	return out, nil
}

func TestARealAlertmanagerReceivesFiringAndResolvedAlertsAndSurvivesARestart(t *testing.T) {
	hook := newWebhook(t)
	am := testcluster.RunAlertmanager(t, testcluster.AlertmanagerOptions{WebhookURL: hook.URL})
	var notes bytes.Buffer
	var notesMu sync.Mutex
	s, err := New(Config{URLs: []string{am.URL}, FailOn: check.High, Resend: time.Second, Notes: lockedWriter{&notesMu, &notes}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	crash := finding("crash", "pod-crashloop", check.Critical, ref("Deployment", "shop", "cart"))
	crash.Evidence = []string{"cart-1: exit 137"}
	crash.Fix = []string{"kubectl -n shop rollout undo deployment/cart"}
	node := finding("node", "node-not-ready", check.High, ref("Node", "", "worker-1"))
	first := evaluation(time.Now(), []check.Finding{crash, node})
	first.Options = render.Options{Catalog: []check.Meta{{ID: "pod-crashloop", References: []string{"https://docs.example/pod-crashloop"}}}}
	s.Observe(first)

	eventually(t, "both alerts active in Alertmanager", func() error {
		got, err := active(ctx, am)
		if err != nil {
			return err
		}
		a, b := got["crash"], got["node"]
		if a == nil || b == nil {
			return fmt.Errorf("alerts %v", got)
		}
		if a.Status == nil || a.Status.State == nil || *a.Status.State != "active" {
			return fmt.Errorf("crash's status %v, want active", a.Status)
		}
		want := map[string]string{"alertname": "pod-crashloop", "severity": "critical", "category": "workloads", "cluster": "prod",
			"namespace": "shop", "object": "deployment/cart", "finding": "crash"}
		for k, v := range want {
			if a.Labels[k] != v {
				return fmt.Errorf("crash's labels %v, want %v", a.Labels, want)
			}
		}
		if a.Annotations["runbook"] != "https://docs.example/pod-crashloop" || a.Annotations["fix"] != crash.Fix[0] ||
			a.Annotations["evidence"] != "cart-1: exit 137" || a.Annotations["summary"] != "Pods crash: 2 of 3 pods restart" {
			return fmt.Errorf("crash's annotations %v", a.Annotations)
		}
		if !time.Time(*a.EndsAt).After(time.Now()) {
			return fmt.Errorf("crash ends %v, in the past while it fires", a.EndsAt)
		}
		return nil
	})

	// The crash is gone from an evaluation of its check: resolved.
	s.Observe(evaluation(time.Now(), []check.Finding{node}))
	eventually(t, "the crash's alert resolved", func() error {
		got, err := active(ctx, am)
		if err != nil {
			return err
		}
		if _, ok := got["crash"]; ok || got["node"] == nil {
			return fmt.Errorf("Alertmanager still lists %v, want node alone", got)
		}
		endsAt, ok := hook.resolvedOf("crash")
		if !ok {
			return fmt.Errorf("no resolved notification of the crash yet")
		}
		if endsAt.After(time.Now()) {
			return fmt.Errorf("the resolved crash ends at %v, in the future", endsAt)
		}
		return nil
	})

	// Alertmanager goes away; the evaluations go on and a new finding appears meanwhile.
	am.Stop()
	oom := finding("oom", "pod-oomkilled", check.High, ref("Deployment", "shop", "web"))
	s.Observe(evaluation(time.Now(), []check.Finding{node, oom}))
	eventually(t, "the outage seen", func() error {
		if up := metric(s, "alertmend_alertmanager_up"); up != 0 {
			return fmt.Errorf("alertmanager_up %v", up)
		}
		return nil
	})
	// Restarted, it has forgotten every alert: what fires must come back by the sender's retries.
	if err := am.Start(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the firing alerts back in the restarted Alertmanager", func() error {
		got, err := active(ctx, am)
		if err != nil {
			return err
		}
		if got["node"] == nil || got["oom"] == nil || len(got) != 2 {
			return fmt.Errorf("alerts %v, want node and oom", got)
		}
		return nil
	})
	notesMu.Lock()
	text := notes.String()
	notesMu.Unlock()
	if strings.Count(text, "is unavailable") != 1 || strings.Count(text, "takes alerts again") != 1 {
		t.Errorf("notes %q, want the outage said once and its end once", text)
	}
}
