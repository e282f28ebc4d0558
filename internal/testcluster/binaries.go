// Package testcluster runs a real kube-apiserver and etcd on loopback for tests and for the
// demo. Both are built from the Go module proxy (see hack/tools) and cached, so only the first
// run on a machine pays for the build; so are node_exporter, for the conntrack tests, the
// Pushgateway, for the push tests, and Alertmanager, for the alert tests.
package testcluster

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// KubernetesVersion is what the test API server reports; it matches hack/tools/kube-apiserver.
const KubernetesVersion = "v1.37.2"

// Binaries are the paths of the built control-plane programs, and of kubectl.
type Binaries struct {
	APIServer string
	Etcd      string
	Kubectl   string
	// NodeExporter is Prometheus' node_exporter, which the conntrack tests point at a fixture
	// /proc of their own.
	NodeExporter string
}

type tool struct {
	name    string // file name of the binary
	dir     string // module directory under hack/tools
	pkg     string // package to build
	ldflags string
	// group names the tools one go build compiles together into one cache directory, because
	// they share most packages; "" is a group of the tool alone. Tools of a group share dir
	// and ldflags.
	group string
}

// kubernetesGroup is the Kubernetes programs: one build, since a second compile of the
// packages they share would cost CPU-minutes for nothing.
const kubernetesGroup = "kubernetes"

// catalog is every program this package can build, in the order ToolNames lists them.
func catalog() []tool {
	const v = "k8s.io/component-base/version"
	kubeLdflags := fmt.Sprintf("-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=37", v, KubernetesVersion, v, v)
	kube := func(name string) tool {
		return tool{name: name, dir: "kube-apiserver", pkg: "k8s.io/kubernetes/cmd/" + name, ldflags: kubeLdflags, group: kubernetesGroup}
	}
	return []tool{
		kube("kube-apiserver"),
		{name: "etcd", dir: "etcd", pkg: "go.etcd.io/etcd/server/v3"},
		kube("kubectl"),
		{name: "node_exporter", dir: "node-exporter", pkg: "github.com/prometheus/node_exporter"},
		{name: "pushgateway", dir: "pushgateway", pkg: "github.com/prometheus/pushgateway"},
		{name: "alertmanager", dir: "alertmanager", pkg: "github.com/prometheus/alertmanager/cmd/alertmanager"},
		kube("kube-controller-manager"),
		kube("kube-scheduler"),
		{name: "kwok", dir: "kwok", pkg: "sigs.k8s.io/kwok/cmd/kwok"},
		{name: "kube-score", dir: "kube-score", pkg: "github.com/zegl/kube-score/cmd/kube-score"},
		{name: "goreleaser", dir: "goreleaser", pkg: "github.com/goreleaser/goreleaser/v2"},
		{name: "krew", dir: "krew", pkg: "sigs.k8s.io/krew/cmd/krew"},
		{name: "validate-krew-manifest", dir: "krew", pkg: "sigs.k8s.io/krew/cmd/validate-krew-manifest"},
	}
}

// ToolNames are the names Ensure accepts.
func ToolNames() []string {
	var names []string
	for _, t := range catalog() {
		names = append(names, t.name)
	}
	return names
}

// ControlPlaneTools are what Start runs, and so all that the demo needs.
func ControlPlaneTools() []string { return []string{"kube-apiserver", "etcd"} }

// LivingTools are what Start adds with Options.Living: the controllers, the scheduler and kwok,
// which plays the nodes' kubelets.
func LivingTools() []string { return []string{"kube-controller-manager", "kube-scheduler", "kwok"} }

// DemoTools are what make demo runs: a living cluster, and kubectl to change it while the
// watch looks on.
func DemoTools() []string {
	return slices.Concat(ControlPlaneTools(), []string{"kubectl"}, LivingTools())
}

// TestTools are what the tests run against besides the release tools and kube-score: the
// control plane, kubectl, node_exporter, the Pushgateway, Alertmanager and the living cluster's
// programs.
func TestTools() []string {
	return slices.Concat(ControlPlaneTools(), []string{"kubectl", "node_exporter", "pushgateway", "alertmanager"}, LivingTools())
}

// RepoRoot is the checkout this package was compiled from.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// cacheDir is where built binaries live: $ALERTMEND_TOOLS_DIR, or the user's cache directory.
func cacheDir() (string, error) {
	if dir := os.Getenv("ALERTMEND_TOOLS_DIR"); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the control-plane binaries (set ALERTMEND_TOOLS_DIR): %w", err)
	}
	return filepath.Join(base, "kubectl-alertmend", "tools"), nil
}

// EnsureBinaries returns the control-plane binaries, kubectl and node_exporter, building any
// that are missing. Build output goes to log.
func EnsureBinaries(ctx context.Context, log io.Writer) (Binaries, error) {
	paths, err := Ensure(ctx, log, "kube-apiserver", "etcd", "kubectl", "node_exporter")
	if err != nil {
		return Binaries{}, err
	}
	return Binaries{APIServer: paths["kube-apiserver"], Etcd: paths["etcd"], Kubectl: paths["kubectl"],
		NodeExporter: paths["node_exporter"]}, nil
}

// EnsureKubeScore returns kube-score, which only the benchmark runs, building it if missing.
func EnsureKubeScore(ctx context.Context, log io.Writer) (string, error) {
	paths, err := Ensure(ctx, log, "kube-score")
	return paths["kube-score"], err
}

// EnsureAlertmanager returns Prometheus' Alertmanager, which only the alert tests run, building it
// if missing.
func EnsureAlertmanager(ctx context.Context, log io.Writer) (string, error) {
	paths, err := Ensure(ctx, log, "alertmanager")
	return paths["alertmanager"], err
}

// EnsurePushgateway returns Prometheus' Pushgateway, which only the push tests run, building it
// if missing.
func EnsurePushgateway(ctx context.Context, log io.Writer) (string, error) {
	paths, err := Ensure(ctx, log, "pushgateway")
	return paths["pushgateway"], err
}

// ReleaseTools are the programs `make release-check` runs against .goreleaser.yaml and .krew.yaml.
type ReleaseTools struct {
	Goreleaser           string
	Krew                 string
	ValidateKrewManifest string
}

// EnsureReleaseTools returns goreleaser, krew and krew's manifest validator, building any that
// are missing.
func EnsureReleaseTools(ctx context.Context, log io.Writer) (ReleaseTools, error) {
	paths, err := Ensure(ctx, log, "goreleaser", "krew", "validate-krew-manifest")
	return ReleaseTools{Goreleaser: paths["goreleaser"], Krew: paths["krew"], ValidateKrewManifest: paths["validate-krew-manifest"]}, err
}

// Ensure returns the paths of the named tools (see ToolNames), by name, building the ones not
// in the cache yet. An unknown name is an error before anything is built. Concurrent callers
// (test packages run in parallel) wait on a file lock instead of building twice. Build output,
// and a line a minute while a build runs, go to log.
func Ensure(ctx context.Context, log io.Writer, names ...string) (map[string]string, error) {
	known := catalog()
	var wanted []tool
	for _, name := range names {
		i := slices.IndexFunc(known, func(t tool) bool { return t.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown tool %q (known: %s)", name, strings.Join(ToolNames(), ", "))
		}
		wanted = append(wanted, known[i])
	}
	return ensure(ctx, &syncWriter{w: log}, wanted)
}

// unit is what one go build compiles into one cache directory: a group of tools, or one tool.
type unit struct {
	name  string // the group's name, or the tool's
	tools []tool
}

// unitsOf returns the units that hold the wanted tools, each once, in the order first wanted:
// asking for one tool of a group builds the whole group.
func unitsOf(wanted []tool) []unit {
	var units []unit
	for _, t := range wanted {
		name := cmp.Or(t.group, t.name)
		if slices.ContainsFunc(units, func(u unit) bool { return u.name == name }) {
			continue
		}
		u := unit{name: name, tools: []tool{t}}
		if t.group != "" {
			u.tools = slices.DeleteFunc(catalog(), func(o tool) bool { return o.group != t.group })
		}
		units = append(units, u)
	}
	return units
}

func (u unit) names() []string {
	var names []string
	for _, t := range u.tools {
		names = append(names, t.name)
	}
	return names
}

// ensure builds the units of the wanted tools that are not in the cache yet, under the cache's
// lock, and returns the tools' paths by name.
func ensure(ctx context.Context, log io.Writer, wanted []tool) (map[string]string, error) {
	root := RepoRoot()
	base, err := cacheDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(base, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		// Say why nothing happens while another process (make test's packages, a second
		// terminal) builds into the same cache.
		fmt.Fprintf(log, "testcluster: waiting for another process building into %s\n", base)
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			return nil, fmt.Errorf("locking %s: %w", base, err)
		}
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	paths := map[string]string{}
	type pending struct {
		unit unit
		dir  string
	}
	var missing []pending
	for _, u := range unitsOf(wanted) {
		key, err := buildKey(root, u)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(base, key)
		complete := true
		for _, t := range u.tools {
			paths[t.name] = filepath.Join(dir, t.name)
			if _, err := os.Stat(paths[t.name]); err != nil {
				complete = false
			}
		}
		if !complete {
			missing = append(missing, pending{u, dir})
		}
	}
	for i, m := range missing {
		fmt.Fprintf(log, "testcluster: building %s (%d of %d; once per machine, the Kubernetes programs take several minutes)\n",
			strings.Join(m.unit.names(), ", "), i+1, len(missing))
		if err := build(ctx, log, root, m.unit, m.dir); err != nil {
			return nil, err
		}
	}
	for name := range paths {
		if !slices.ContainsFunc(wanted, func(t tool) bool { return t.name == name }) {
			delete(paths, name)
		}
	}
	return paths, nil
}

// heartbeatEvery is how often a running build says it is still running.
const heartbeatEvery = time.Minute

// build compiles u's tools by one go build into a new directory that replaces dir once every
// binary is there, writing a heartbeat to log while it runs so that a build of several silent
// minutes does not look hung.
func build(ctx context.Context, log io.Writer, root string, u unit, dir string) error {
	ticker := time.NewTicker(heartbeatEvery)
	defer ticker.Stop()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { heartbeat(log, strings.Join(u.names(), ", "), time.Now(), ticker.C, done) })
	defer wg.Wait()
	defer close(done)

	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	// One package is written to a named file: go build names a directory's binaries after
	// their packages, which for a major-version path (etcd's server/v3) is not the tool's name.
	out := filepath.Join(tmp, u.tools[0].name)
	var pkgs []string
	for _, t := range u.tools {
		pkgs = append(pkgs, t.pkg)
	}
	if len(u.tools) > 1 {
		out = tmp + string(filepath.Separator)
	}
	args := []string{"build", "-o", out}
	if ldflags := u.tools[0].ldflags; ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...)
	cmd.Dir = filepath.Join(root, "hack", "tools", u.tools[0].dir)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s in %s: %w", strings.Join(u.names(), ", "), cmd.Dir, err)
	}
	for _, t := range u.tools {
		if _, err := os.Stat(filepath.Join(tmp, t.name)); err != nil {
			return fmt.Errorf("building %s in %s: go build wrote no %s", strings.Join(u.names(), ", "), cmd.Dir, t.name)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// heartbeat writes, for every tick until done is closed, that what is still building and for
// how long since start.
func heartbeat(log io.Writer, what string, start time.Time, ticks <-chan time.Time, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case now := <-ticks:
			elapsed := now.Sub(start).Round(time.Second)
			fmt.Fprintf(log, "testcluster: still building %s, %dm%02ds so far\n", what, int(elapsed.Minutes()), int(elapsed.Seconds())%60)
		}
	}
}

// syncWriter serialises writes to w: the heartbeat writes while go build's output is copied.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// buildKey names u's cache directory; it changes whenever the tools' dependencies, packages,
// build flags or Go version change, so a stale binary is never reused. (For a tool alone it is
// what it was before groups, so those caches stay valid.)
func buildKey(root string, u unit) (string, error) {
	first := u.tools[0]
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(root, "hack", "tools", first.dir, f))
		if err != nil {
			return "", fmt.Errorf("reading the build recipe of %s: %w", u.name, err)
		}
		h.Write(data)
	}
	var pkgs []string
	for _, t := range u.tools {
		pkgs = append(pkgs, t.pkg)
	}
	fmt.Fprintf(h, "%s|%s|%s|%s/%s", strings.Join(pkgs, ","), first.ldflags, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return u.name + "-" + hex.EncodeToString(h.Sum(nil))[:16], nil
}
