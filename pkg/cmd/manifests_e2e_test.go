//go:build e2e

package cmd

import (
	"bytes"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiagnoseManifests(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "app")
	os.MkdirAll(good, 0o755)
	os.WriteFile(filepath.Join(good, "deploy.yaml"), []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: app, image: web:1}]}\n"), 0o644)
	os.WriteFile(filepath.Join(good, "crd.yaml"), []byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"), 0o644)
	malformed := filepath.Join(dir, "malformed.yaml")
	os.WriteFile(malformed, []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: app: web\n"), 0o644)
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, []byte("# nothing\n"), 0o644)

	t.Run("the gate on a template without resources", func(t *testing.T) {
		r := run(t, testEnv{}, "diagnose", "-f", filepath.Join(good, "deploy.yaml"), "-o", "json")
		rep := r.report(t)
		// memory-limit-missing, memory-request-missing and netpol-no-default-deny (medium);
		// cpu-request-missing, netpol-ingress-unisolated, pod-security-restricted and
		// image-pull-rate-limited (low: web:1 is Docker Hub's); netpol-egress-unisolated (info).
		if r.code != 0 || rep.Summary.Medium != 3 || rep.Summary.Low != 4 || rep.Summary.Info != 1 {
			t.Errorf("default gate (high): exit %d, summary %+v", r.code, rep.Summary)
		}
		if r := run(t, testEnv{}, "diagnose", "-f", filepath.Join(good, "deploy.yaml"), "--fail-on", "medium"); r.code != 1 {
			t.Errorf("--fail-on medium: exit %d, want 1", r.code)
		}
		if !strings.Contains(r.stderr, "checks that judge live status (conditions, restarts, usage) are left out for manifests") {
			t.Errorf("no note about live-only checks: %q", r.stderr)
		}
	})
	t.Run("no selected check applies: an error, not a silent pass", func(t *testing.T) {
		r := run(t, testEnv{}, "diagnose", "-f", filepath.Join(good, "deploy.yaml"), "--category", "workloads")
		assertCleanFailure(t, r, "none of the selected checks can judge manifests")
	})
	t.Run("unknown kinds are skipped with a note", func(t *testing.T) {
		r := run(t, testEnv{}, "diagnose", "-f", good, "--checks", "pod-crashloop", "-o", "json")
		if !strings.Contains(r.stderr, "skipped 1 object, the first at "+filepath.Join(good, "crd.yaml")+":1; unknown to Kubernetes (custom resources, or misspelt): example.com/v1 Widget") {
			t.Errorf("no note about the unknown kind: %q", r.stderr)
		}
		if rep := r.report(t); rep.Metadata.Source != "manifests" {
			t.Errorf("metadata %+v", rep.Metadata)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		manifest, _ := os.ReadFile(filepath.Join(good, "deploy.yaml"))
		r := run(t, testEnv{stdin: strings.NewReader(string(manifest))}, "diagnose", "-f", "-", "--checks", "pod-crashloop", "-o", "json")
		if r.code != 3 || r.report(t).Metadata.Source != "manifests" {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("naming a live-only check is reported as not evaluated", func(t *testing.T) {
		r := run(t, testEnv{}, "diagnose", "-f", good, "--checks", "pod-crashloop", "-o", "json")
		rep := r.report(t)
		if r.code != 3 || len(rep.NotEvaluated) != 1 || !strings.Contains(rep.NotEvaluated[0].Reason, "live cluster state") {
			t.Errorf("exit %d, not evaluated %+v", r.code, rep.NotEvaluated)
		}
	})
	t.Run("malformed YAML names the file and line", func(t *testing.T) {
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "-f", malformed), malformed+":5: invalid YAML")
	})
	t.Run("empty input", func(t *testing.T) {
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "-f", empty), "no Kubernetes objects found")
	})
	t.Run("missing file", func(t *testing.T) {
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "-f", filepath.Join(dir, "absent.yaml")), "absent.yaml: no such file or directory")
	})
}

// Hostile manifests end the run with one line naming the input, exit 2, and bounded reading.
func TestHostileManifests(t *testing.T) {
	dir := t.TempDir()
	garbage := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(garbage)
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\nbig: &big " + strings.Repeat("x", 1<<20) +
		"\nlist: [" + strings.Repeat("*big,", 20000) + "]\n"
	files := map[string]struct {
		content []byte
		message string
	}{
		"garbage.yaml":    {garbage, "garbage.yaml:"},
		"bomb.yaml":       {[]byte(bomb), "bomb.yaml:1: YAML aliases expand this document past the limit of 64 MiB"},
		"nested.json":     {[]byte(`{"a":` + strings.Repeat("[", 100000)), "nested.json:1:"},
		"invalid.yaml":    {[]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"x\xff\"}\n"), "invalid.yaml:3:"},
		"separators.yaml": {bytes.Repeat([]byte("---\n"), 1000000), "no Kubernetes objects found"},
	}
	for name, tc := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, tc.content, 0o644); err != nil {
			t.Fatal(err)
		}
		assertCleanFailure(t, run(t, testEnv{}, "diagnose", "-f", path, "-o", "json"), tc.message)
	}

	// An endless stream on stdin: refused once past the limit, having read no more than that.
	endless := &countingReader{r: endlessManifests{}}
	assertCleanFailure(t, run(t, testEnv{stdin: endless}, "diagnose", "-f", "-"), "<stdin>: more than 64 MiB of manifests")
	if endless.read > 64<<20+1 {
		t.Errorf("read %d bytes of stdin, past the 64 MiB limit", endless.read)
	}
}

// endlessManifests is a stream of Pods that never ends.
type endlessManifests struct{}

func (endlessManifests) Read(p []byte) (int, error) {
	const doc = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\n"
	for i := range p {
		p[i] = doc[i%len(doc)]
	}
	return len(p), nil
}

type countingReader struct {
	r    io.Reader
	read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}
