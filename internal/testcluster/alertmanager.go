package testcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/alertmanager/api/v2/models"
)

// Alertmanager is a real Prometheus Alertmanager on loopback, alone (no gossip), its state in a
// directory of the test's.
type Alertmanager struct {
	// URL is where it serves, e.g. http://127.0.0.1:41234.
	URL    string
	binary string
	dir    string
	args   []string
	starts int
	proc   *process
}

// AlertmanagerOptions are how a test's Alertmanager routes what it receives.
type AlertmanagerOptions struct {
	// WebhookURL, when set, receives every alert's notifications, resolved ones included, each
	// alert in a group of its own, sent within a second; it must be a loopback server of the
	// test's. Unset, alerts go to a receiver that notifies nobody.
	WebhookURL string
}

// StartAlertmanager starts Alertmanager (built by EnsureAlertmanager) on a free loopback port with
// its configuration and storage in dir, and waits until it is ready.
func StartAlertmanager(ctx context.Context, binary, dir string, opts AlertmanagerOptions) (*Alertmanager, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	address := fmt.Sprintf("127.0.0.1:%d", ports[0])
	// Grouping by every label (...) makes each alert a group, notified on its own; a group
	// interval of a second sends resolutions at once rather than after the default 5 minutes.
	config := `route:
  receiver: test
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: test
`
	if opts.WebhookURL != "" {
		config += fmt.Sprintf("  webhook_configs:\n  - url: %q\n    send_resolved: true\n", opts.WebhookURL)
	}
	configPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	a := &Alertmanager{URL: "http://" + address, binary: binary, dir: dir, args: []string{
		"--config.file=" + configPath,
		"--storage.path=" + filepath.Join(dir, "alertmanager-data"),
		"--web.listen-address=" + address,
		// Empty disables gossip with peers, which would otherwise listen on 0.0.0.0:9094.
		"--cluster.listen-address=",
		"--log.level=debug",
	}}
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// Start starts Alertmanager again after Stop, on the same port and with the same storage; it
// forgets the alerts it had, as Alertmanager keeps them only in memory.
func (a *Alertmanager) Start(ctx context.Context) error {
	a.starts++
	logPath := filepath.Join(a.dir, fmt.Sprintf("alertmanager-%d.log", a.starts))
	var err error
	a.proc, err = startServerProcess(ctx, "Alertmanager", a.binary, a.args, logPath,
		func(ctx context.Context) (*http.Response, error) { return a.get(ctx, "/-/ready") })
	return err
}

// Stop ends Alertmanager and waits until it has, so that its port is free.
func (a *Alertmanager) Stop() {
	if a.proc == nil {
		return
	}
	_ = a.proc.cmd.Process.Kill()
	<-a.proc.done
	a.proc = nil
}

// Alerts is what GET /api/v2/alerts lists: the alerts that hold, silenced and inhibited ones
// included. Alertmanager leaves out every alert whose endsAt has passed (its API's alertFilter),
// so a resolved alert is seen here only by its absence; its webhook notification says it resolved.
func (a *Alertmanager) Alerts(ctx context.Context) (models.GettableAlerts, error) {
	resp, err := a.get(ctx, "/api/v2/alerts")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("listing Alertmanager's alerts: %s: %s", resp.Status, body)
	}
	var alerts models.GettableAlerts
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		return nil, fmt.Errorf("decoding Alertmanager's alerts: %w", err)
	}
	return alerts, nil
}

func (a *Alertmanager) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+path, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// RunAlertmanager is StartAlertmanager for a test: built if need be, in the test's temporary
// directory, stopped when the test ends; a failure to start fails the test.
func RunAlertmanager(t testing.TB, opts AlertmanagerOptions) *Alertmanager {
	t.Helper()
	ctx := context.Background()
	binary, err := EnsureAlertmanager(ctx, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := StartAlertmanager(ctx, binary, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	return a
}
