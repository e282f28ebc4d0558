// Package testcluster runs a real kube-apiserver and etcd on loopback for tests and for the
// demo. Both are built from the Go module proxy (see hack/tools) and cached, so only the first
// run on a machine pays for the build; so are node_exporter, for the conntrack tests, and the
// Pushgateway, for the push tests.
package testcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
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
}

func tools() []tool {
	const v = "k8s.io/component-base/version"
	return []tool{
		{name: "kube-apiserver", dir: "kube-apiserver", pkg: "k8s.io/kubernetes/cmd/kube-apiserver",
			ldflags: fmt.Sprintf("-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=37", v, KubernetesVersion, v, v)},
		{name: "etcd", dir: "etcd", pkg: "go.etcd.io/etcd/server/v3"},
		{name: "node_exporter", dir: "node-exporter", pkg: "github.com/prometheus/node_exporter"},
		{name: "kubectl", dir: "kube-apiserver", pkg: "k8s.io/kubernetes/cmd/kubectl",
			ldflags: fmt.Sprintf("-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=37", v, KubernetesVersion, v, v)},
	}
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

// EnsureBinaries returns the control-plane binaries, building any that are missing. Concurrent
// callers (test packages run in parallel) wait on a file lock instead of building twice. Build
// output goes to log.
func EnsureBinaries(ctx context.Context, log io.Writer) (Binaries, error) {
	paths, err := ensure(ctx, log, tools())
	if err != nil {
		return Binaries{}, err
	}
	return Binaries{APIServer: paths["kube-apiserver"], Etcd: paths["etcd"], Kubectl: paths["kubectl"],
		NodeExporter: paths["node_exporter"]}, nil
}

// EnsureKubeScore returns kube-score, which only the benchmark runs, building it if missing.
func EnsureKubeScore(ctx context.Context, log io.Writer) (string, error) {
	paths, err := ensure(ctx, log, []tool{{name: "kube-score", dir: "kube-score", pkg: "github.com/zegl/kube-score/cmd/kube-score"}})
	return paths["kube-score"], err
}

// EnsurePushgateway returns Prometheus' Pushgateway, which only the push tests run, building it
// if missing.
func EnsurePushgateway(ctx context.Context, log io.Writer) (string, error) {
	paths, err := ensure(ctx, log, []tool{{name: "pushgateway", dir: "pushgateway", pkg: "github.com/prometheus/pushgateway"}})
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
	paths, err := ensure(ctx, log, []tool{
		{name: "goreleaser", dir: "goreleaser", pkg: "github.com/goreleaser/goreleaser/v2"},
		{name: "krew", dir: "krew", pkg: "sigs.k8s.io/krew/cmd/krew"},
		{name: "validate-krew-manifest", dir: "krew", pkg: "sigs.k8s.io/krew/cmd/validate-krew-manifest"},
	})
	return ReleaseTools{Goreleaser: paths["goreleaser"], Krew: paths["krew"], ValidateKrewManifest: paths["validate-krew-manifest"]}, err
}

// ensure builds the tools that are not in the cache yet, under the cache's lock, and returns
// their paths by name.
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
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("locking %s: %w", base, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	paths := map[string]string{}
	for _, t := range wanted {
		key, err := buildKey(root, t)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(base, key, t.name)
		paths[t.name] = path
		if _, err := os.Stat(path); err == nil {
			continue
		}
		fmt.Fprintf(log, "testcluster: building %s (once per machine; kube-apiserver and kubectl take a few minutes)\n", t.name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		tmp := path + ".tmp"
		args := []string{"build", "-o", tmp}
		if t.ldflags != "" {
			args = append(args, "-ldflags", t.ldflags)
		}
		cmd := exec.CommandContext(ctx, "go", append(args, t.pkg)...)
		cmd.Dir = filepath.Join(root, "hack", "tools", t.dir)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("building %s in %s: %w", t.name, cmd.Dir, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// buildKey changes whenever the tool's dependencies, build flags or Go version change, so a
// stale binary is never reused.
func buildKey(root string, t tool) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(root, "hack", "tools", t.dir, f))
		if err != nil {
			return "", fmt.Errorf("reading the build recipe of %s: %w", t.name, err)
		}
		h.Write(data)
	}
	fmt.Fprintf(h, "%s|%s|%s|%s/%s", t.pkg, t.ldflags, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return t.name + "-" + hex.EncodeToString(h.Sum(nil))[:16], nil
}
