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
)

// NodeExporter is a real node_exporter on loopback whose /proc is a directory of the test's,
// with only its conntrack collector on.
type NodeExporter struct {
	// URL is where it serves, e.g. http://127.0.0.1:41234.
	URL string
	// Procfs is the directory it reads as /proc; SetConntrack rewrites it.
	Procfs string
	cmd    *exec.Cmd
}

// ConntrackState is what a node's kernel says of its connection-tracking table.
type ConntrackState struct {
	Entries, Max int
	// Per CPU, as /proc/net/stat/nf_conntrack has one row per CPU.
	InsertFailed, Drop, EarlyDrop []int
}

// StartNodeExporter starts node_exporter (built by EnsureBinaries) on a free loopback port,
// reading the given state, and waits until it answers.
func StartNodeExporter(ctx context.Context, binary, dir string, state ConntrackState) (*NodeExporter, error) {
	ne := &NodeExporter{Procfs: filepath.Join(dir, "proc")}
	if err := ne.SetConntrack(state); err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	address := fmt.Sprintf("127.0.0.1:%d", ports[0])
	ne.URL = "http://" + address
	ne.cmd, err = startServer(ctx, "node_exporter", binary, []string{"--path.procfs=" + ne.Procfs, "--path.sysfs=" + filepath.Join(dir, "sys"),
		"--collector.disable-defaults", "--collector.conntrack", "--web.listen-address=" + address},
		filepath.Join(dir, "node_exporter.log"), func(ctx context.Context) (*http.Response, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, ne.URL+"/metrics?collect[]=conntrack", nil)
			if err != nil {
				return nil, err
			}
			return http.DefaultClient.Do(req)
		})
	if err != nil {
		return nil, err
	}
	return ne, nil
}

// SetConntrack writes the files node_exporter's conntrack collector reads:
// sys/net/netfilter/nf_conntrack_{count,max} and net/stat/nf_conntrack.
func (ne *NodeExporter) SetConntrack(state ConntrackState) error {
	netfilter := filepath.Join(ne.Procfs, "sys", "net", "netfilter")
	stat := filepath.Join(ne.Procfs, "net", "stat")
	for _, dir := range []string{netfilter, stat} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(netfilter, "nf_conntrack_count"), []byte(fmt.Sprintln(state.Entries)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(netfilter, "nf_conntrack_max"), []byte(fmt.Sprintln(state.Max)), 0o644); err != nil {
		return err
	}
	// The kernel's layout: a header, then one row of hexadecimal counters per CPU.
	var b strings.Builder
	b.WriteString("entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n")
	cpus := max(len(state.InsertFailed), len(state.Drop), len(state.EarlyDrop), 1)
	at := func(values []int, cpu int) int {
		if cpu < len(values) {
			return values[cpu]
		}
		return 0
	}
	for cpu := range cpus {
		fmt.Fprintf(&b, "%08x  00000000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 %08x %08x %08x 00000000  00000000 00000000 00000000 00000000\n",
			state.Entries, at(state.InsertFailed, cpu), at(state.Drop, cpu), at(state.EarlyDrop, cpu))
	}
	tmp := filepath.Join(stat, "nf_conntrack.tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(stat, "nf_conntrack"))
}

// Stop ends node_exporter.
func (ne *NodeExporter) Stop() {
	if ne.cmd != nil && ne.cmd.Process != nil {
		_ = ne.cmd.Process.Kill()
	}
}

// RunNodeExporter is StartNodeExporter for a test: built if need be, in the test's temporary
// directory, stopped when the test ends; a failure to start fails the test.
func RunNodeExporter(t testing.TB, state ConntrackState) *NodeExporter {
	t.Helper()
	ctx := context.Background()
	bins, err := EnsureBinaries(ctx, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ne, err := StartNodeExporter(ctx, bins.NodeExporter, t.TempDir(), state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ne.Stop)
	return ne
}
