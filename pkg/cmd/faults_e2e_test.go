//go:build e2e

package cmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// fault is what the proxy does to one request instead of, or besides, forwarding it.
type fault struct {
	delay      time.Duration
	status     int    // answer with this status instead of forwarding
	retryAfter string // with this Retry-After header
	cutAfter   int    // forward, but break the connection after this many bytes of the body
}

// faultProxy stands between the tool and the real test API server on loopback, forwarding
// requests with the caller's identity (the administrator's client certificate, or none) and
// injecting the faults decide picks for each request. seen counts the requests per path.
type faultProxy struct {
	server *httptest.Server
	decide func(r *http.Request, attempt int) fault

	mu   sync.Mutex
	seen map[string]int
}

func startFaultProxy(t *testing.T, decide func(r *http.Request, attempt int) fault) *faultProxy {
	t.Helper()
	target, err := url.Parse(cluster.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	withAdmin, err := rest.TransportFor(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	anonymous, err := rest.TransportFor(rest.AnonymousClientConfig(cluster.Config))
	if err != nil {
		t.Fatal(err)
	}
	forward := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			// Who the caller is shows in its TLS handshake: a client certificate is the administrator.
			if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
				return withAdmin.RoundTrip(r)
			}
			return anonymous.RoundTrip(r)
		}),
	}
	p := &faultProxy{decide: decide, seen: map[string]int{}}
	p.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		attempt := p.seen[r.URL.Path]
		p.seen[r.URL.Path]++
		p.mu.Unlock()
		f := p.decide(r, attempt)
		if f.delay > 0 {
			select {
			case <-time.After(f.delay):
			case <-r.Context().Done():
				return
			}
		}
		if f.status != 0 {
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.status)
			w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected by the test proxy","code":` +
				strconv.Itoa(f.status) + `}`))
			return
		}
		if f.cutAfter > 0 {
			w = &cuttingWriter{ResponseWriter: w, left: f.cutAfter}
		}
		forward.ServeHTTP(w, r)
	}))
	p.server.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	p.server.StartTLS()
	t.Cleanup(p.server.Close)
	return p
}

func (p *faultProxy) requests(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[path]
}

// kubeconfig points the administrator's credentials at the proxy.
func (p *faultProxy) kubeconfig(t *testing.T) string {
	t.Helper()
	config, err := clientcmd.LoadFromFile(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range config.Clusters {
		c.Server = p.server.URL
		c.CertificateAuthorityData = nil
		c.InsecureSkipTLSVerify = true // the proxy's own certificate, on loopback
	}
	path := filepath.Join(t.TempDir(), "proxy.kubeconfig")
	if err := clientcmd.WriteToFile(*config, path); err != nil {
		t.Fatal(err)
	}
	return path
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// cuttingWriter passes left bytes of the body on, then breaks the connection mid-answer.
type cuttingWriter struct {
	http.ResponseWriter
	left int
}

func (w *cuttingWriter) Write(b []byte) (int, error) {
	if len(b) > w.left {
		w.ResponseWriter.Write(b[:w.left])
		w.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the server closes the connection without finishing
	}
	w.left -= len(b)
	return w.ResponseWriter.Write(b)
}

// notEvaluatedReasons maps each check not evaluated to the reason.
func notEvaluatedReasons(rep *report.Report) map[string]string {
	reasons := map[string]string{}
	for _, ne := range rep.NotEvaluated {
		reasons[ne.Check] = ne.Reason
	}
	return reasons
}

func isList(r *http.Request, path string) bool {
	return r.Method == http.MethodGet && r.URL.Path == path
}

// The reference: what the administrator's run finds with no faults.
func referenceFindings(t *testing.T) []string {
	t.Helper()
	return findingKeys(admin(t, "diagnose", "-o", "json").report(t))
}

func TestFaultsThroughAProxy(t *testing.T) {
	reference := referenceFindings(t)
	diagnoseVia := func(t *testing.T, p *faultProxy, args ...string) result {
		t.Helper()
		return run(t, testEnv{}, append([]string{"diagnose", "-o", "json", "--kubeconfig", p.kubeconfig(t)}, args...)...)
	}

	t.Run("429 with Retry-After is waited out and retried", func(t *testing.T) {
		p := startFaultProxy(t, func(r *http.Request, attempt int) fault {
			if isList(r, "/api/v1/pods") && attempt == 0 {
				return fault{status: http.StatusTooManyRequests, retryAfter: "1"}
			}
			return fault{}
		})
		r := diagnoseVia(t, p)
		if got := findingKeys(r.report(t)); !slices.Equal(got, reference) {
			t.Errorf("findings after a 429:\n got  %q\n want %q", got, reference)
		}
		if n := p.requests("/api/v1/pods"); n < 2 {
			t.Errorf("pods were asked for %d times; the 429 was not retried", n)
		}
	})

	t.Run("a server error once is asked for again", func(t *testing.T) {
		p := startFaultProxy(t, func(r *http.Request, attempt int) fault {
			if isList(r, "/apis/apps/v1/deployments") && attempt == 0 {
				return fault{status: http.StatusInternalServerError}
			}
			return fault{}
		})
		r := diagnoseVia(t, p)
		if got := findingKeys(r.report(t)); !slices.Equal(got, reference) {
			t.Errorf("findings after a 500:\n got  %q\n want %q", got, reference)
		}
		if n := p.requests("/apis/apps/v1/deployments"); n != 2 {
			t.Errorf("deployments were asked for %d times, want 2", n)
		}
	})

	t.Run("latency on every request changes nothing", func(t *testing.T) {
		p := startFaultProxy(t, func(*http.Request, int) fault { return fault{delay: 300 * time.Millisecond} })
		r := diagnoseVia(t, p)
		if got := findingKeys(r.report(t)); !slices.Equal(got, reference) {
			t.Errorf("findings with 300ms of latency:\n got  %q\n want %q", got, reference)
		}
	})

	t.Run("an answer cut off mid-way is asked for again", func(t *testing.T) {
		p := startFaultProxy(t, func(r *http.Request, attempt int) fault {
			if isList(r, "/api/v1/pods") && attempt < 2 {
				return fault{cutAfter: 100}
			}
			return fault{}
		})
		r := diagnoseVia(t, p)
		if got := findingKeys(r.report(t)); !slices.Equal(got, reference) {
			t.Errorf("findings after two broken answers:\n got  %q\n want %q\nstderr %s", got, reference, r.stderr)
		}
		if n := p.requests("/api/v1/pods"); n != 3 {
			t.Errorf("pods were asked for %d times, want 3 (two cut off, one whole)", n)
		}
	})

	t.Run("a kind that keeps failing is not evaluated, the rest is reported", func(t *testing.T) {
		p := startFaultProxy(t, func(r *http.Request, attempt int) fault {
			if isList(r, "/apis/apps/v1/deployments") {
				return fault{status: http.StatusInternalServerError}
			}
			if isList(r, "/api/v1/services") {
				return fault{cutAfter: 50}
			}
			return fault{}
		})
		r := diagnoseVia(t, p)
		rep := r.report(t)
		reasons := notEvaluatedReasons(rep)
		if !strings.Contains(reasons["deployment-unavailable"], "cannot read deployments: server error") {
			t.Errorf("deployment-unavailable: %q", reasons["deployment-unavailable"])
		}
		if !strings.Contains(reasons["dns-service-no-endpoints"], "cannot read services: no answer from the API server") {
			t.Errorf("dns-service-no-endpoints: %q", reasons["dns-service-no-endpoints"])
		}
		if len(rep.Findings) == 0 || r.code == report.ExitError {
			t.Errorf("exit %d with %d findings: the kinds that were read must still be judged", r.code, len(rep.Findings))
		}
	})

	t.Run("a slow kind hits --request-timeout and is not evaluated", func(t *testing.T) {
		p := startFaultProxy(t, func(r *http.Request, attempt int) fault {
			if isList(r, "/api/v1/nodes") {
				return fault{delay: 20 * time.Second}
			}
			return fault{}
		})
		// Generous, as every request has this bound and the machine may be loaded.
		r := diagnoseVia(t, p, "--request-timeout", "5s")
		reasons := notEvaluatedReasons(r.report(t))
		if !strings.Contains(reasons["node-not-ready"], "cannot read nodes: timed out") {
			t.Errorf("node-not-ready: %q (stderr %s)", reasons["node-not-ready"], r.stderr)
		}
	})

	t.Run("--timeout ends the run with what was read", func(t *testing.T) {
		p := startFaultProxy(t, func(r *http.Request, attempt int) fault {
			if isList(r, "/api/v1/pods") {
				return fault{delay: time.Minute}
			}
			return fault{}
		})
		start := time.Now()
		r := diagnoseVia(t, p, "--timeout", "2s")
		if elapsed := time.Since(start); elapsed > 30*time.Second {
			t.Errorf("the run took %s with --timeout 2s", elapsed)
		}
		rep := r.report(t)
		reasons := notEvaluatedReasons(rep)
		if !strings.Contains(reasons["pod-crashloop"], "cannot read pods: not read before the run's deadline (--timeout)") {
			t.Errorf("pod-crashloop: %q", reasons["pod-crashloop"])
		}
		if len(rep.Findings) == 0 {
			t.Error("nothing reported from the kinds that were read in time")
		}
	})

	t.Run("nothing answers in time: exit 2 with one line", func(t *testing.T) {
		p := startFaultProxy(t, func(r *http.Request, attempt int) fault {
			if r.URL.Path == "/version" {
				return fault{}
			}
			return fault{delay: time.Minute}
		})
		assertCleanFailure(t, diagnoseVia(t, p, "--timeout", "2s"),
			"after 2s (context "+testcluster.ContextName+"): no list was answered before the run's deadline (--timeout)")
	})

	t.Run("a stopped server: exit 2 with one line", func(t *testing.T) {
		p := startFaultProxy(t, func(*http.Request, int) fault { return fault{} })
		kubeconfig := p.kubeconfig(t)
		p.server.Close()
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "--kubeconfig", kubeconfig), "cannot reach the Kubernetes API server")
	})
}

// TestInterruptStopsPromptly sends SIGINT, then SIGTERM, to the real binary while it waits on a
// slow API server: it ends within a second with the shell's code for the signal, prints nothing
// on stdout, and says why on stderr.
func TestInterruptStopsPromptly(t *testing.T) {
	for _, tc := range []struct {
		signal syscall.Signal
		code   int
	}{{syscall.SIGINT, report.ExitInterrupted}, {syscall.SIGTERM, 143}} {
		t.Run(tc.signal.String(), func(t *testing.T) { interruptMidList(t, tc.signal, tc.code) })
	}
}

func interruptMidList(t *testing.T, signal syscall.Signal, wantCode int) {
	listed := make(chan struct{}, 1)
	p := startFaultProxy(t, func(r *http.Request, attempt int) fault {
		if r.URL.Path == "/version" {
			return fault{}
		}
		select {
		case listed <- struct{}{}:
		default:
		}
		return fault{delay: time.Minute}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "diagnose", "-o", "json", "--kubeconfig", p.kubeconfig(t))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-listed:
	case <-ctx.Done():
		t.Fatal("the binary never started listing")
	}
	interrupted := time.Now()
	if err := cmd.Process.Signal(signal); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	stopped := time.Since(interrupted)
	// The promise is a second; the bound is looser so that a loaded CI machine, slow to schedule
	// the process, does not fail the run. Unloaded, it stops in milliseconds.
	if stopped > 3*time.Second {
		t.Errorf("stopped %s after %s, want within a second", stopped, signal)
	}
	if code := cmd.ProcessState.ExitCode(); code != wantCode {
		t.Errorf("exit %d (%v), want %d", code, err, wantCode)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout after an interrupt: %q", stdout.String())
	}
	if strings.TrimSpace(stderr.String()) != "error: interrupted" {
		t.Errorf("stderr %q", stderr.String())
	}
}
