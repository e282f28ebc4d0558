package testcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Pushgateway is a real Prometheus Pushgateway on loopback, keeping what is pushed in memory only.
type Pushgateway struct {
	// URL is where it serves, e.g. http://127.0.0.1:41234, without credentials.
	URL string
	// reader is the user Metrics reads as, when the gateway asks for basic auth.
	reader *BasicAuthUser
	cmd    *exec.Cmd
}

// BasicAuthUser is an account of a Pushgateway that asks for basic auth.
type BasicAuthUser struct {
	Name string
	// Password is what Metrics and the readiness check send; the gateway itself holds only
	// BcryptHash, the bcrypt hash of Password, as its web configuration wants.
	Password   string
	BcryptHash string
}

// StartPushgateway starts the Pushgateway (built by EnsurePushgateway) on a free loopback port and
// waits until it answers. With users, every request must carry basic auth as one of them.
func StartPushgateway(ctx context.Context, binary, dir string, users ...BasicAuthUser) (*Pushgateway, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	address := fmt.Sprintf("127.0.0.1:%d", ports[0])
	p := &Pushgateway{URL: "http://" + address}
	// An empty persistence file keeps metrics in memory only, so every start is empty.
	args := []string{"--web.listen-address=" + address, "--persistence.file="}
	if len(users) > 0 {
		p.reader = &users[0]
		var config strings.Builder
		config.WriteString("basic_auth_users:\n")
		for _, u := range users {
			fmt.Fprintf(&config, "  %q: %q\n", u.Name, u.BcryptHash)
		}
		path := filepath.Join(dir, "pushgateway-web.yml")
		if err := os.WriteFile(path, []byte(config.String()), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--web.config.file="+path)
	}
	p.cmd, err = startServer(ctx, "the Pushgateway", binary, args, filepath.Join(dir, "pushgateway.log"),
		func(ctx context.Context) (*http.Response, error) { return p.get(ctx, "/-/ready") })
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Metrics is what the gateway serves on /metrics, by family name: every group pushed to it, each
// sample labelled with its group's job and grouping labels, besides the gateway's own metrics.
func (p *Pushgateway) Metrics(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	resp, err := p.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("reading the Pushgateway's metrics: %s: %s", resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parsing the Pushgateway's metrics: %w", err)
	}
	return families, nil
}

// get asks for the text format, which Metrics parses, as the reader when there is one.
func (p *Pushgateway) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	if p.reader != nil {
		req.SetBasicAuth(p.reader.Name, p.reader.Password)
	}
	return http.DefaultClient.Do(req)
}

// Stop ends the Pushgateway.
func (p *Pushgateway) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
}

// RunPushgateway is StartPushgateway for a test: built if need be, in the test's temporary
// directory, stopped when the test ends; a failure to start fails the test.
func RunPushgateway(t testing.TB, users ...BasicAuthUser) *Pushgateway {
	t.Helper()
	ctx := context.Background()
	binary, err := EnsurePushgateway(ctx, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartPushgateway(ctx, binary, t.TempDir(), users...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}
