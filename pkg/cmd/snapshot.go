package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	"github.com/alertmend/kubectl-alertmend/pkg/source"
	"github.com/alertmend/kubectl-alertmend/pkg/version"
)

// SnapshotOptions are the flags of `snapshot`.
type SnapshotOptions struct {
	configFlags *genericclioptions.ConfigFlags
	streams     genericiooptions.IOStreams
	env         Environment

	// OutputFile is -o: a file, or - for stdout.
	OutputFile string
	readFlags
	// namespace is -n: only that namespace's objects are recorded.
	namespace     string
	allNamespaces bool
}

func newSnapshotCommand(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, env Environment) *cobra.Command {
	o := &SnapshotOptions{configFlags: configFlags, streams: streams, env: env}
	cmd := &cobra.Command{
		Use:   "snapshot -o FILE|-",
		Short: "Record what the checks read from the cluster, to diagnose it elsewhere with diagnose --snapshot",
		Long: `snapshot reads the cluster once, as diagnose does, and writes what the checks
need to a compressed file, so someone without access to the cluster can run the
same diagnosis:

  kubectl alertmend diagnose --snapshot FILE

The file never holds Secrets (they are never read). ConfigMaps keep only the
data checks read (the CoreDNS Corefile, kube-proxy's configuration);
environment variable values, kubectl's last-applied-configuration annotations
and managed fields are left out. Object names, labels, annotations, images and
commands are in it: share it as you would share "kubectl get -o yaml".

With -o - the snapshot is written to stdout, and only it: progress and the
summary go to stderr. With -n only that namespace's objects are recorded (and
the cluster-scoped ones: nodes, cluster roles); there is no -l, since checks
judge an object by the others: record everything, and narrow the replay with
diagnose --snapshot FILE -l SELECTOR.`,
		Example: `  # Record the current context's cluster
  kubectl alertmend snapshot -o incident.alertmend.gz

  # Stream it elsewhere without a local file
  kubectl alertmend snapshot -o - | ssh jump 'cat > incident.alertmend.gz'

  # Replay it on another machine
  kubectl alertmend diagnose --snapshot incident.alertmend.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.OutputFile == "" {
				return failed("-o FILE is required: where to write the snapshot (- for stdout)")
			}
			if o.OutputFile == "-" && o.env.IsTerminal(o.streams.Out) {
				return failed("-o - writes the compressed snapshot to stdout, which is a terminal: redirect it (> incident.alertmend.gz) or give -o FILE")
			}
			var err error
			if o.namespace, err = namespaceFlag(cmd, o.allNamespaces); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.OutputFile, "output", "o", "", "The `FILE` to write the snapshot to (gzip-compressed JSON), or - for stdout")
	addAllNamespacesFlag(f, &o.allNamespaces)
	o.addReadFlags(f, "Stop reading the cluster after this long and record what was read (0: no limit)",
		"Prometheus to read node_exporter's conntrack series from (see diagnose --help)")
	return cmd
}

// Run reads every kind the catalog needs and writes the file; nothing is written on failure.
func (o *SnapshotOptions) Run(ctx context.Context) error {
	plan, err := engine.Select(checks.All(checks.DefaultOptions()), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		return failed("%v", err)
	}
	kinds := liveKinds(plan)
	src := o.sourceConfig(o.env.target(o.configFlags), o.streams, o.env)
	src.Namespace = o.namespace
	snap, err := source.Read(ctx, src, kinds)
	if err != nil {
		return failed("%v", err)
	}
	keep := checks.ConfigMapKeys(snap)
	file := snapshot.Record(snap, kinds, keep, "kubectl-alertmend "+version.Get().Version)
	where, size := o.OutputFile, int64(0)
	if o.OutputFile == "-" {
		where = "stdout"
		size, err = writeSnapshotStdout(o.streams.Out, file)
	} else {
		size, err = writeSnapshotFile(o.OutputFile, file)
	}
	if err != nil {
		return err
	}
	var kept []string
	for _, k := range keep {
		kept = append(kept, fmt.Sprintf("%s/%s key %s", k.Namespace, k.Name, k.Key))
	}
	if len(kept) == 0 {
		kept = []string{"none"}
	}
	fmt.Fprintf(o.streams.ErrOut, "recorded %s of %s to %s (%s)\n", check.Plural(countObjects(file), "object", "objects"),
		check.Plural(len(kinds), "kind", "kinds"), where, humanBytes(size))
	fmt.Fprintf(o.streams.ErrOut, "ConfigMap data kept: %s\n", strings.Join(kept, ", "))
	if len(snap.Unavailable) > 0 {
		fmt.Fprintf(o.streams.ErrOut, "not readable, recorded as such: %s\n", check.Plural(len(snap.Unavailable), "kind", "kinds"))
	}
	return nil
}

// writeSnapshotFile writes the snapshot beside path and renames it there, so a failed run never leaves
// half a snapshot; it returns the file's size.
func writeSnapshotFile(path string, file *snapshot.File) (int64, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".alertmend-snapshot-*")
	if err != nil {
		return 0, failed("cannot write the snapshot in %s: %v", dir, err)
	}
	defer os.Remove(tmp.Name())
	if err := file.Write(tmp); err != nil {
		tmp.Close()
		return 0, failed("writing the snapshot: %v", err)
	}
	if err := tmp.Close(); err != nil {
		return 0, failed("writing the snapshot: %v", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, failed("writing the snapshot: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return 0, failed("writing the snapshot: %v", err)
	}
	return info.Size(), nil
}

// writeSnapshotStdout compresses the whole snapshot before writing any of it, so that a failure leaves
// nothing on stdout rather than half a snapshot.
func writeSnapshotStdout(out io.Writer, file *snapshot.File) (int64, error) {
	var buf bytes.Buffer
	if err := file.Write(&buf); err != nil {
		return 0, failed("writing the snapshot: %v", err)
	}
	n, err := out.Write(buf.Bytes())
	if err != nil {
		return 0, failed("writing the snapshot to stdout: %v", err)
	}
	return int64(n), nil
}

func countObjects(f *snapshot.File) int {
	return f.ObjectCount()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
