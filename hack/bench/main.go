// Command bench measures kubectl-alertmend on a real control plane seeded with a cluster of a
// given size: the floor (concurrent raw LIST requests for the kinds diagnose reads, bodies
// discarded), `diagnose -o json` with every check, and `rbac-audit`, for wall time, peak RSS and
// API requests; `diagnose --watch` held on it while pods change, for its memory; then the
// manifests gate on that cluster's objects exported to one file, beside kube-score. It prints
// Markdown tables of medians and ratios to the floor.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

func main() {
	opts := options{}
	sizes := flag.String("sizes", "10000", "comma-separated cluster sizes, in pods; each sets namespaces (pods/50), nodes (pods/100), policies (pods×27/1000) and bindings (pods/10)")
	flag.StringVar(&opts.binary, "binary", "bin/kubectl-alertmend", "the kubectl-alertmend binary to measure")
	flag.IntVar(&opts.runs, "runs", 3, "runs of each measurement; the median is reported")
	flag.BoolVar(&opts.kubeScore, "kube-score", true, "time kube-score on the exported manifests too (built from the Go module proxy)")
	flag.IntVar(&opts.namespaces, "namespaces", 0, "override the number of namespaces")
	flag.IntVar(&opts.nodes, "nodes", 0, "override the number of nodes")
	flag.IntVar(&opts.policies, "policies", 0, "override the number of NetworkPolicies")
	flag.IntVar(&opts.bindings, "bindings", 0, "override the number of RoleBindings")
	flag.IntVar(&opts.events, "events", 0, "override the number of events (pods×5: 10 Warning events about each broken Deployment's pods, the rest older, half Warning)")
	flag.DurationVar(&opts.watchHold, "watch-hold", time.Minute, "hold diagnose --watch this long after its first report while pods change, for its memory (0: skip)")
	flag.BoolVar(&opts.hold, "hold", false, "after seeding the first size, print its kubeconfig and wait for Ctrl-C instead of measuring (to profile by hand)")
	flag.Parse()
	if opts.runs < 1 {
		fmt.Fprintln(os.Stderr, "bench: -runs must be 1 or more")
		os.Exit(2)
	}
	for _, field := range strings.Split(*sizes, ",") {
		pods, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || pods < 1 {
			fmt.Fprintf(os.Stderr, "bench: invalid -sizes entry %q: want a number of pods\n", field)
			os.Exit(2)
		}
		opts.sizes = append(opts.sizes, pods)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout, os.Stderr); err != nil && !(opts.hold && ctx.Err() != nil) {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	binary                                string
	sizes                                 []int
	runs                                  int
	kubeScore, hold                       bool
	namespaces, nodes, policies, bindings int
	events                                int
	watchHold                             time.Duration
}

func (o options) size(pods int) Size {
	s := sizeFor(pods)
	for _, override := range []struct{ from, into *int }{
		{&o.namespaces, &s.Namespaces}, {&o.nodes, &s.Nodes}, {&o.policies, &s.Policies}, {&o.bindings, &s.Bindings}, {&o.events, &s.Events}} {
		if *override.from > 0 {
			*override.into = *override.from
		}
	}
	return s
}

// result is one size's medians.
type result struct {
	size                           Size
	objects                        int
	floor                          time.Duration
	diagnose, rbacAudit, manifests measurement
	kubeScore                      measurement
	watch                          watchMeasurement
	manifestObjects, manifestBytes int
}

func run(ctx context.Context, opts options, out, log io.Writer) error {
	binary, err := filepath.Abs(opts.binary)
	if err != nil {
		return err
	}
	if _, err := os.Stat(binary); err != nil {
		return fmt.Errorf("the binary to measure: %w (run make build)", err)
	}
	var kubeScore string
	if opts.kubeScore {
		if kubeScore, err = testcluster.EnsureKubeScore(ctx, log); err != nil {
			return err
		}
	}
	var results []result
	for _, pods := range opts.sizes {
		r, err := measureSize(ctx, opts, opts.size(pods), binary, kubeScore, log)
		if err != nil {
			return fmt.Errorf("%d pods: %w", pods, err)
		}
		results = append(results, r)
	}
	writeTable(out, results, opts.runs)
	if opts.watchHold > 0 {
		writeWatchTable(out, results, opts.watchHold)
	}
	return nil
}

// auditPolicy logs only the measured user's requests, one line each, so they can be counted
// without slowing the seeding.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [alertmend-bench]
- level: None
`

func measureSize(ctx context.Context, opts options, size Size, binary, kubeScore string, log io.Writer) (result, error) {
	r := result{size: size}
	dir, err := os.MkdirTemp("", "alertmend-bench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	policyFile, auditLog := filepath.Join(dir, "audit-policy.yaml"), filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policyFile, []byte(auditPolicy), 0o600); err != nil {
		return r, err
	}
	fmt.Fprintf(log, "bench: %d pods: starting the control plane\n", size.Pods)
	cluster, err := testcluster.Start(ctx, testcluster.Options{Log: log,
		APIServerArgs: []string{"--audit-policy-file=" + policyFile, "--audit-log-path=" + auditLog,
			// Seeding sends thousands of requests at once; the defaults would queue them.
			"--max-requests-inflight=1000", "--max-mutating-requests-inflight=500"}})
	if err != nil {
		return r, err
	}
	defer cluster.Stop()

	seeder := rest.CopyConfig(cluster.Config)
	seeder.QPS, seeder.Burst = 5000, 5000
	client, err := kubernetes.NewForConfig(seeder)
	if err != nil {
		return r, err
	}
	started := time.Now()
	fmt.Fprintf(log, "bench: seeding %d pods, %d namespaces, %d nodes, %d policies, %d bindings, %d events\n",
		size.Pods, size.Namespaces, size.Nodes, size.Policies, size.Bindings, size.Events)
	if r.objects, err = seed(ctx, cluster.Config, client, size); err != nil {
		return r, err
	}
	fmt.Fprintf(log, "bench: seeded %d objects in %s\n", r.objects, time.Since(started).Round(time.Second))

	kubeconfig, err := cluster.UserKubeconfig("alertmend-bench", "system:masters")
	if err != nil {
		return r, err
	}
	if opts.hold {
		fmt.Fprintf(log, "bench: holding the seeded cluster; KUBECONFIG=%s; Ctrl-C ends it\n", kubeconfig)
		<-ctx.Done()
		return r, ctx.Err()
	}
	floorClient, err := newFloor(cluster.Config)
	if err != nil {
		return r, err
	}
	defer floorClient.client.CloseIdleConnections()
	var floors []time.Duration
	for range opts.runs {
		d, err := floorClient.list(ctx)
		if err != nil {
			return r, fmt.Errorf("floor: %w", err)
		}
		floors = append(floors, d)
	}
	r.floor = median(floors)

	requests := &requestCounter{path: auditLog}
	if r.diagnose, err = repeat(ctx, opts.runs, requests, binary, "diagnose", "-o", "json", "--fail-on", "none", "--kubeconfig", kubeconfig); err != nil {
		return r, err
	}
	if r.rbacAudit, err = repeat(ctx, opts.runs, requests, binary, "rbac-audit", "-o", "json", "--fail-on", "none", "--kubeconfig", kubeconfig); err != nil {
		return r, err
	}

	if opts.watchHold > 0 {
		if r.watch, err = measureWatch(ctx, binary, kubeconfig, client, size, opts.watchHold, log); err != nil {
			return r, fmt.Errorf("watch: %w", err)
		}
	}

	manifests := filepath.Join(dir, "cluster.yaml")
	if r.manifestObjects, r.manifestBytes, err = exportManifests(ctx, client, manifests); err != nil {
		return r, fmt.Errorf("exporting manifests: %w", err)
	}
	if r.manifests, err = repeat(ctx, opts.runs, nil, binary, "diagnose", "-f", manifests, "-o", "json", "--fail-on", "none"); err != nil {
		return r, err
	}
	if kubeScore != "" {
		if r.kubeScore, err = repeat(ctx, opts.runs, nil, kubeScore, "score", manifests, "--output-format", "json"); err != nil {
			return r, err
		}
	}
	return r, nil
}

// median of at least one value; of an even count, the mean of the middle two.
func median(values []time.Duration) time.Duration {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	mid := len(sorted) / 2
	if len(sorted)%2 == 0 {
		return (sorted[mid-1] + sorted[mid]) / 2
	}
	return sorted[mid]
}

// machine describes where the figures were measured.
func machine() string {
	memory := "unknown memory"
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "MemTotal:" {
				if kb, err := strconv.Atoi(fields[1]); err == nil {
					memory = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	return fmt.Sprintf("%d cores, %s, %s/%s, %s", runtime.NumCPU(), memory, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func writeTable(w io.Writer, results []result, runs int) {
	fmt.Fprintf(w, "Measured on %s; median of %d runs; the API server and etcd share the machine.\n\n", machine(), runs)
	fmt.Fprintln(w, "| pods | objects | floor (raw LISTs) | diagnose | × floor | peak RSS | requests | rbac-audit | × floor | peak RSS | requests |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range results {
		fmt.Fprintf(w, "| %d | %d | %s | %s | %.1f | %s | %d | %s | %.1f | %s | %d |\n", r.size.Pods, r.objects, seconds(r.floor),
			seconds(r.diagnose.wall), ratio(r.diagnose.wall, r.floor), megabytes(r.diagnose.peakRSS), r.diagnose.requests,
			seconds(r.rbacAudit.wall), ratio(r.rbacAudit.wall, r.floor), megabytes(r.rbacAudit.peakRSS), r.rbacAudit.requests)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| pods | manifests | diagnose -f | peak RSS | kube-score | peak RSS | kube-score ÷ diagnose -f |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range results {
		score, scoreRSS, speedup := "not run", "", ""
		if r.kubeScore.wall > 0 {
			score, scoreRSS, speedup = seconds(r.kubeScore.wall), megabytes(r.kubeScore.peakRSS), fmt.Sprintf("%.1f", ratio(r.kubeScore.wall, r.manifests.wall))
		}
		fmt.Fprintf(w, "| %d | %d objects, %.1f MB | %s | %s | %s | %s | %s |\n", r.size.Pods, r.manifestObjects,
			float64(r.manifestBytes)/1e6, seconds(r.manifests.wall), megabytes(r.manifests.peakRSS), score, scoreRSS, speedup)
	}
}

// writeWatchTable compares a watch's memory with one diagnose run's, on the same cluster.
func writeWatchTable(w io.Writer, results []result, hold time.Duration) {
	fmt.Fprintf(w, "\n`diagnose --watch -o json`, held %s after its first report while %s pod updates a second arrive:\n\n", hold, strconv.Itoa(int(time.Second/churnInterval)))
	fmt.Fprintln(w, "| pods | diagnose peak RSS | watch peak RSS | watch RSS at the end | ÷ diagnose peak | pod updates | lines printed |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range results {
		fmt.Fprintf(w, "| %d | %s | %s | %s | %.2f | %d | %d |\n", r.size.Pods, megabytes(r.diagnose.peakRSS), megabytes(r.watch.peakRSS),
			megabytes(r.watch.steadyRSS), float64(r.watch.steadyRSS)/float64(max(r.diagnose.peakRSS, 1)), r.watch.changes, r.watch.lines)
	}
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
func megabytes(kb int64) string      { return fmt.Sprintf("%d MiB", kb/1024) }
func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}
