//go:build e2e

package cmd

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// silentServer accepts connections on loopback and never answers, not even the TLS handshake.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, conn)
		}
	}()
	return "https://" + l.Addr().String()
}

// webServer answers every request as handler does, over TLS on loopback: a server that is not
// a Kubernetes API server.
func webServer(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewTLSServer(handler)
	t.Cleanup(s.Close)
	return s.URL
}

// The first contact with a server: what does not answer, what is not a Kubernetes API server,
// and a kubeconfig that leads nowhere each end the run with exit 2 and one line that names the
// server or the file, whichever command makes the contact.
func TestFirstContact(t *testing.T) {
	dir := t.TempDir()
	silent := silentServer(t)
	hanging := writeKubeconfig(t, dir, "hanging", silent)
	notFound := webServer(t, http.NotFound)
	html := webServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!doctype html><html><body>Welcome to nginx!</body></html>"))
	})
	noContexts := filepath.Join(dir, "no-contexts.kubeconfig")
	os.WriteFile(noContexts, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \""+notFound+"\"}\n"), 0o600)
	snapshotFile := filepath.Join(dir, "never.gz")

	noAnswer := "no answer from " + silent + " after 2s (context hanging)"
	for _, tc := range []struct {
		name    string
		args    []string
		message string
	}{
		{"diagnose: no answer within --timeout", []string{"diagnose", "--kubeconfig", hanging, "--timeout", "2s"}, noAnswer},
		{"snapshot: no answer within --timeout", []string{"snapshot", "-o", snapshotFile, "--kubeconfig", hanging, "--timeout", "2s"}, noAnswer},
		{"who-can: no answer within --timeout", []string{"rbac-audit", "--who-can", "get", "pods", "--kubeconfig", hanging, "--timeout", "2s"}, noAnswer},
		{"explain-permissions: no answer within --timeout", []string{"diagnose", "--explain-permissions", "--kubeconfig", hanging, "--timeout", "2s"}, noAnswer},
		{"--request-timeout shorter than --timeout", []string{"diagnose", "--kubeconfig", hanging, "--timeout", "1m", "--request-timeout", "1s"},
			"no answer from " + silent + " after 1s (context hanging)"},
		{"404", []string{"diagnose", "--kubeconfig", writeKubeconfig(t, dir, "notfound", notFound)},
			"not a Kubernetes API server: " + notFound + " (context notfound) answered GET /version with 404 Not Found (text/plain)"},
		{"HTML", []string{"diagnose", "--kubeconfig", writeKubeconfig(t, dir, "html", html)},
			"not a Kubernetes API server: " + html + " (context html) answered GET /version with an HTML page (200 OK)"},
		{"who-can: HTML", []string{"rbac-audit", "--who-can", "get", "pods", "--kubeconfig", writeKubeconfig(t, dir, "html", html)},
			"not a Kubernetes API server: " + html + " (context html)"},
		{"--server: 404", []string{"diagnose", "--server", notFound, "--insecure-skip-tls-verify", "--kubeconfig", hanging},
			"not a Kubernetes API server: " + notFound + " (context hanging) answered GET /version with 404"},
		{"a kubeconfig without contexts", []string{"diagnose", "--kubeconfig", noContexts},
			"the kubeconfig " + noContexts + " has no contexts: add one with kubectl config set-context, or pass --server"},
		{"a context with a typo", []string{"diagnose", "--kubeconfig", cluster.Kubeconfig, "--context", "alertmend-tset"},
			`context "alertmend-tset" does not exist in the kubeconfig ` + cluster.Kubeconfig + ` (did you mean "` + testcluster.ContextName + `"?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, testEnv{}, tc.args...)
			assertCleanFailure(t, r, tc.message)
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
		})
	}
	if _, err := os.Stat(snapshotFile); err == nil {
		t.Error("a snapshot was written although the server never answered")
	}

	t.Run("KUBECONFIG names a missing file", func(t *testing.T) {
		missing := filepath.Join(dir, "absent", "config")
		t.Setenv("KUBECONFIG", missing)
		assertCleanFailure(t, run(t, testEnv{}, "diagnose"), "KUBECONFIG names "+missing+", which does not exist")
	})

	// At a terminal, a person waiting is told where the run is connecting, once, on stderr,
	// before the error; the report's stream stays empty.
	t.Run("connecting, at a terminal", func(t *testing.T) {
		for _, format := range []string{"pretty", "json"} {
			r := run(t, testEnv{terminal: true}, "diagnose", "-o", format, "--kubeconfig", hanging, "--timeout", "2s")
			want := "connecting to " + silent + " (context hanging)\nerror: " + noAnswer + "\n"
			if r.code != 2 || r.stderr != want || r.stdout != "" {
				t.Errorf("-o %s: exit %d\nstderr %q\nwant   %q\nstdout %q", format, r.code, r.stderr, want, r.stdout)
			}
		}
	})
}
