package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/memtest"
)

// Manifests built to hurt: huge, deeply nested, aliased, binary. Each must load, or give an
// InputError naming the file (and the line, where one can be told), without a panic and with
// memory bounded by the input. The bounds on allocation are several times what was measured,
// so that only a change in kind fails them.

// repeatingReader yields pattern over and over, up to limit bytes (forever when limit < 0),
// counting what was read from it.
type repeatingReader struct {
	block    []byte // pattern repeated to a convenient size, so Read copies little at a time
	period   int
	offset   int
	limit    int64
	consumed int64
}

func newRepeatingReader(pattern string, limit int64) *repeatingReader {
	block := bytes.Repeat([]byte(pattern), 64<<10/len(pattern)+2)
	return &repeatingReader{block: block, period: len(pattern), limit: limit}
}

func (r *repeatingReader) Read(p []byte) (int, error) {
	if r.limit >= 0 && r.consumed >= r.limit {
		return 0, io.EOF
	}
	if r.limit >= 0 && int64(len(p)) > r.limit-r.consumed {
		p = p[:r.limit-r.consumed]
	}
	n := 0
	for n < len(p) {
		// Copy whole periods from block, which holds at least one beyond any offset.
		c := copy(p[n:], r.block[r.offset:len(r.block)-r.period+r.offset])
		n += c
		r.offset = (r.offset + c) % r.period
	}
	r.consumed += int64(n)
	return n, nil
}

func writeBytes(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantInputError checks that err is an InputError at file:line (any line when line is 0) whose
// message holds each of contains.
func wantInputError(t *testing.T, err error, file string, line int, contains ...string) {
	t.Helper()
	var inputErr *InputError
	if !errors.As(err, &inputErr) {
		t.Fatalf("err = %v (%T), want an InputError", err, err)
	}
	if inputErr.File != file || (line > 0 && inputErr.Line != line) {
		t.Errorf("error at %s:%d, want %s:%d: %v", inputErr.File, inputErr.Line, file, line, err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q does not say %q", err, c)
		}
	}
}

// aNode is a small valid document of four lines, separator included, put before a hostile one
// so that the line an error names is not 1 by chance.
const aNode = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\n"

// An endless stream on stdin meets the real limit: no more than one byte past it is read.
func TestLoadStdinStopsAtTheLimit(t *testing.T) {
	stdin := newRepeatingReader(aNode, -1)
	var err error
	alloc := memtest.Allocated(func() { _, err = (&Loader{Stdin: stdin}).LoadFiles([]string{StdinName}) })
	wantInputError(t, err, "<stdin>", 0, "more than 64 MiB of manifests", "split the input")
	if stdin.consumed > DefaultMaxBytes+1 {
		t.Errorf("read %d bytes of stdin, more than the limit of %d and one", stdin.consumed, int64(DefaultMaxBytes))
	}
	// The buffer grows by a quarter at a time as a stream comes in: measured, 6 times the limit
	// allocated in all, of which two buffers at most are alive at once.
	if alloc > memtest.RaceFactor*10*DefaultMaxBytes {
		t.Errorf("reading up to the limit allocated %d MiB", alloc>>20)
	}
}

// A file over the limit is refused on its size, unread, alone or found in a directory.
func TestLoadRefusesALargeFileUnread(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", aNode)
	huge := filepath.Join(dir, "b-huge.yaml")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: 500 MB to stat, nothing on disk.
	if err := f.Truncate(500 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, path := range []string{huge, dir} {
		alloc := memtest.Allocated(func() { _, err = (&Loader{}).LoadFiles([]string{path}) })
		wantInputError(t, err, huge, 0, "more than 64 MiB of manifests")
		// Setting up a Loader takes 0.6 MiB; reading the file would take over 64.
		if alloc > memtest.RaceFactor*8<<20 {
			t.Errorf("%s: refusing the file allocated %d KiB: it was read", path, alloc>>10)
		}
	}
}

// The limit counts everything one run reads, up to the byte.
func TestLoadLimitSpansAllInputs(t *testing.T) {
	dir := t.TempDir()
	doc := func(name string, size int) string {
		text := fmt.Sprintf("apiVersion: v1\nkind: Node\nmetadata: {name: %s}\n", name)
		return text + "#" + strings.Repeat("x", size-len(text)-2) + "\n"
	}
	exact := write(t, dir, "exact.yaml", doc("exact", 1024))
	first := write(t, dir, "first.yaml", doc("first", 600))
	second := write(t, dir, "second.yaml", doc("second", 600))

	if _, err := (&Loader{MaxBytes: 1024}).LoadFiles([]string{exact}); err != nil {
		t.Errorf("a file of exactly the limit: %v", err)
	}
	_, err := (&Loader{MaxBytes: 1023}).LoadFiles([]string{exact})
	wantInputError(t, err, exact, 0, "more than 1023 bytes of manifests")

	_, err = (&Loader{MaxBytes: 1024}).LoadFiles([]string{first, second})
	wantInputError(t, err, second, 0, "with the input before it, more than 1 KiB of manifests")

	// A directory is measured before any of it is parsed: a broken first file is not even read.
	tree := t.TempDir()
	write(t, tree, "a-broken.yaml", "apiVersion: v1\nkind: [\n")
	tooMuch := write(t, tree, "b-second.yaml", doc("second", 1024))
	_, err = (&Loader{MaxBytes: 1024}).LoadFiles([]string{tree})
	wantInputError(t, err, tooMuch, 0, "more than 1 KiB of manifests")

	stdin := newRepeatingReader(doc("stdin", 600), 600)
	_, err = (&Loader{MaxBytes: 1024, Stdin: stdin}).LoadFiles([]string{first, StdinName})
	wantInputError(t, err, "<stdin>", 0, "with the input before it, more than 1 KiB")
	if stdin.consumed != 1024-600+1 {
		t.Errorf("read %d bytes of stdin, want what was left of the limit and one", stdin.consumed)
	}

	// Each run starts afresh.
	l := &Loader{MaxBytes: 1024}
	for range 2 {
		if _, err := l.LoadFiles([]string{first}); err != nil {
			t.Fatalf("loading again with the same loader: %v", err)
		}
	}
}

func TestLoadAliases(t *testing.T) {
	// Billion laughs: nine levels of ten aliases of the level below.
	var laughs strings.Builder
	laughs.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&laughs, "  a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 10), ","))
	}
	// A 1 MiB string aliased 20,000 times: few nodes, so the parser lets it through, and 20 GB
	// of JSON once converted.
	bigScalar := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\nbig: &big " + strings.Repeat("x", 1<<20) +
		"\nlist: [" + strings.Repeat("*big,", 20000) + "]\n"

	for _, tc := range []struct {
		name, content string
		contains      string
	}{
		{"laughs.yaml", laughs.String(), "excessive aliasing"},
		{"big-scalar.yaml", bigScalar, "YAML aliases expand this document past the limit of 64 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeBytes(t, tc.name, []byte(aNode+tc.content))
			var err error
			alloc := memtest.Allocated(func() { _, err = (&Loader{}).LoadFiles([]string{path}) })
			wantInputError(t, err, path, 5, tc.contains)
			// Measured: 17 MiB for the 1 MiB string.
			if limit := memtest.RaceFactor * (64*uint64(len(tc.content)) + 8<<20); alloc > limit {
				t.Errorf("allocated %d MiB for %d KiB of input", alloc>>20, len(tc.content)>>10)
			}
		})
	}

	t.Run("what aliases add counts against the limit", func(t *testing.T) {
		value := strings.Repeat("v", 10<<10)
		aliased := func(times int) string {
			return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  a: &v " + value + "\n" + aliasKeys(times)
		}
		// 10 KiB and three copies fit in 64 KiB; ten copies do not.
		s, err := (&Loader{MaxBytes: 64 << 10}).LoadFiles([]string{writeBytes(t, "three.yaml", []byte(aliased(3)))})
		if err != nil {
			t.Fatalf("three aliases: %v", err)
		}
		if s.ConfigMaps[0].Data["copy2"] != value {
			t.Error("the aliases were not expanded")
		}
		path := writeBytes(t, "ten.yaml", []byte(aliased(10)))
		_, err = (&Loader{MaxBytes: 64 << 10}).LoadFiles([]string{path})
		wantInputError(t, err, path, 1, "YAML aliases expand this document past the limit of 64 KiB")
	})

	t.Run("anchors as people use them load", func(t *testing.T) {
		path := write(t, t.TempDir(), "anchors.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: &labels {app: web, tier: front}
spec:
  selector: {matchLabels: *labels}
  template:
    metadata: {labels: *labels}
    spec: {containers: [{name: app, image: "web:1", args: ["--a=1&b=2", "*"]}]}
`)
		s, err := (&Loader{}).LoadFiles([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		d := s.Deployments[0]
		if d.Spec.Template.Labels["tier"] != "front" || d.Spec.Selector.MatchLabels["app"] != "web" {
			t.Errorf("aliases not expanded: %+v", d.Spec)
		}
	})
}

// aliasKeys is a ConfigMap data entry per alias of the anchor v.
func aliasKeys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  copy%d: *v\n", i)
	}
	return b.String()
}

// The parsers stop at 10,000 levels, whatever the syntax: the loader need not count them.
func TestLoadDeepNesting(t *testing.T) {
	const depth = 100000
	var blockMapping strings.Builder
	blockMapping.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\nnested:\n")
	// 10,001 levels, each indented one more space, is all the input limit has room for.
	for i := 1; i <= 10001; i++ {
		blockMapping.WriteString(strings.Repeat(" ", i) + "a:\n")
	}
	for _, tc := range []struct {
		name, content string
		line          int
		contains      string
	}{
		{"flow-sequence.yaml", "a: " + strings.Repeat("[", depth), 5, "invalid YAML: exceeded max depth of 10000"},
		{"flow-mapping.yaml", "a: " + strings.Repeat("{a: ", depth), 5, "invalid YAML: exceeded max depth of 10000"},
		{"block-sequence.yaml", strings.Repeat("- ", depth), 5, "invalid YAML: exceeded max depth of 10000"},
		// The parser names the line of the level too deep: the document's 4th line holds the
		// first mapping of nested, the top-level mapping being one more level.
		{"block-mapping.yaml", blockMapping.String(), 5 + 3 + 10000, "invalid YAML: exceeded max depth of 10000"},
		{"open.json", `{"apiVersion": "v1", "a": ` + strings.Repeat("[", depth), 1, "invalid JSON"},
		{"closed.json", `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "a": ` +
			strings.Repeat("[", depth) + strings.Repeat("]", depth) + "}", 1, "exceeded max depth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content := tc.content
			if strings.HasSuffix(tc.name, ".yaml") {
				content = aNode + content
			}
			path := writeBytes(t, tc.name, []byte(content))
			var err error
			alloc := memtest.Allocated(func() { _, err = (&Loader{}).LoadFiles([]string{path}) })
			wantInputError(t, err, path, tc.line, tc.contains)
			// Measured: at most 50 times the input, for 100,000 brackets.
			if limit := memtest.RaceFactor * (200*uint64(len(content)) + 16<<20); alloc > limit {
				t.Errorf("allocated %d MiB for %d KiB of input", alloc>>20, len(content)>>10)
			}
		})
	}
}

// Bytes YAML does not allow are reported at their line, which the parser does not name.
func TestLoadUnreadableBytes(t *testing.T) {
	garbage := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(garbage)
	for _, tc := range []struct {
		name     string
		content  []byte
		line     int
		contains string
	}{
		{"garbage.yaml", garbage, 0, "invalid YAML"},
		{"utf8.yaml", []byte(aNode + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"x\xff\xfe\"}\n"), 7, "invalid leading UTF-8 octet"},
		{"nul.yaml", []byte(aNode + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: \"b\x00\"}\n"), 8, "control characters are not allowed"},
		{"nul.json", []byte("{\"apiVersion\": \"v1\",\n\"kind\": \"ConfigMap\x00\"}"), 2, "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeBytes(t, tc.name, tc.content)
			_, err := (&Loader{}).LoadFiles([]string{path})
			wantInputError(t, err, path, tc.line, tc.contains)
		})
	}
}

func TestLoadManyDocuments(t *testing.T) {
	t.Run("five million separators", func(t *testing.T) {
		content := bytes.Repeat([]byte("---\n"), 5000000)
		path := writeBytes(t, "separators.yaml", content)
		var err error
		// Measured: 1.9 times the input (reading it, then nothing per empty document); it was
		// 800 times, the YAML parser being started for each.
		alloc := memtest.Allocated(func() { _, err = (&Loader{}).LoadFiles([]string{path}) })
		wantInputError(t, err, path, 0, "no Kubernetes objects found")
		if limit := memtest.RaceFactor * (8 * uint64(len(content))); alloc > limit {
			t.Errorf("allocated %d MiB for %d MiB of separators", alloc>>20, len(content)>>20)
		}
	})

	t.Run("tiny documents of an unknown kind", func(t *testing.T) {
		const documents = 100000
		content := bytes.Repeat([]byte("apiVersion: x/v1\nkind: X\n---\n"), documents)
		path := writeBytes(t, "tiny.yaml", content)
		l := &Loader{}
		var err error
		// Measured: 230 times the input, 7 KiB a document.
		alloc := memtest.Allocated(func() { _, err = l.LoadFiles([]string{path}) })
		wantInputError(t, err, path, 0, "no object of a kind alertmend checks: skipped 100000 objects")
		if len(l.Skipped) != documents || l.Skipped[documents-1].Origin.Line != 3*(documents-1)+1 {
			t.Errorf("%d skipped, the last at %v", len(l.Skipped), l.Skipped[len(l.Skipped)-1].Origin)
		}
		if limit := memtest.RaceFactor * (1000 * uint64(len(content))); alloc > limit {
			t.Errorf("allocated %d MiB for %d MiB of documents", alloc>>20, len(content)>>20)
		}
	})
}

// A Corefile of a million hosts entries fits in the limit, and loads whole. (The DNS checks do
// not parse it: see checks/dns.)
func TestLoadMillionLineConfigMap(t *testing.T) {
	const lines = 1000000
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: coredns, namespace: kube-system}\ndata:\n  Corefile: |\n    .:53 {\n        hosts {\n")
	for i := range lines {
		fmt.Fprintf(&b, "            10.%d.%d.%d host-%d.example.com\n", i>>16&255, i>>8&255, i&255, i)
	}
	b.WriteString("        }\n    }\n")
	path := writeBytes(t, "coredns.yaml", b.Bytes())
	var s *Snapshot
	var err error
	// Measured: 21 times the input.
	alloc := memtest.Allocated(func() { s, err = (&Loader{}).LoadFiles([]string{path}) })
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(s.ConfigMaps[0].Data["Corefile"], "\n"); got != lines+4 {
		t.Errorf("the Corefile has %d lines, want %d", got, lines+4)
	}
	if limit := memtest.RaceFactor * (100 * uint64(b.Len())); alloc > limit {
		t.Errorf("allocated %d MiB for %d MiB of input", alloc>>20, b.Len()>>20)
	}
}

// realisticManifests is size bytes of what a platform team applies: a Deployment, Service,
// NetworkPolicy, Role and RoleBinding per application.
func realisticManifests(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%[1]d
  namespace: team-%[2]d
  labels: {app.kubernetes.io/name: app-%[1]d, app.kubernetes.io/part-of: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app.kubernetes.io/name: app-%[1]d}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: app-%[1]d, app.kubernetes.io/part-of: shop}
    spec:
      serviceAccountName: app-%[1]d
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: app
        image: registry.example.com/shop/app-%[1]d:v1.2.3
        args: [--port=8080, --log-level=info]
        ports: [{name: http, containerPort: 8080}]
        env:
        - {name: LOG_FORMAT, value: json}
        - name: DB_PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {memory: 256Mi}
        readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 5}
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Service
metadata: {name: app-%[1]d, namespace: team-%[2]d}
spec:
  selector: {app.kubernetes.io/name: app-%[1]d}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: app-%[1]d, namespace: team-%[2]d}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: app-%[1]d}}
  ingress: [{from: [{podSelector: {matchLabels: {app.kubernetes.io/part-of: shop}}}], ports: [{port: 8080}]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: app-%[1]d, namespace: team-%[2]d}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: app-%[1]d, namespace: team-%[2]d}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: app-%[1]d}
subjects: [{kind: ServiceAccount, name: app-%[1]d, namespace: team-%[2]d}]
---
`, i, i%300)
	}
	return b.Bytes()
}

// BenchmarkLoadManifests measures what the loader costs per input byte, which DefaultMaxBytes
// is chosen by: about 90 bytes allocated, 5 kept in the snapshot and 13 at the peak of the
// process's memory (seen by /usr/bin/time on 60 MB), and 0.2 seconds a megabyte, on 2 cores.
func BenchmarkLoadManifests(b *testing.B) {
	path := filepath.Join(b.TempDir(), "apps.yaml")
	content := realisticManifests(4 << 20)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	var s *Snapshot
	for b.Loop() {
		var err error
		if s, err = (&Loader{}).LoadFiles([]string{path}); err != nil {
			b.Fatal(err)
		}
	}
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapAlloc)/float64(len(content)), "kept-B/input-B")
	runtime.KeepAlive(s)
}

// BenchmarkLoadTinyDocuments measures the cost of a document, whatever its size: the most
// documents fit in the limit when each is as small as a kind and an apiVersion.
func BenchmarkLoadTinyDocuments(b *testing.B) {
	path := filepath.Join(b.TempDir(), "tiny.yaml")
	const documents = 10000
	if err := os.WriteFile(path, bytes.Repeat([]byte("apiVersion: x/v1\nkind: X\n---\n"), documents), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (&Loader{}).LoadFiles([]string{path}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*documents), "ns/document")
}

// A pipe inside a directory would block the walk: it is refused, naming it, without being opened.
func TestLoadRefusesAPipeInADirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(aNode), 0o644); err != nil {
		t.Fatal(err)
	}
	pipe := filepath.Join(dir, "b.yaml")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	_, err := (&Loader{}).LoadFiles([]string{dir})
	var inputErr *InputError
	if !errors.As(err, &inputErr) || inputErr.File != pipe || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("got %v, want an error naming %s", err, pipe)
	}
}
