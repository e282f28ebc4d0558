// Package source reads what a run diagnoses into a snapshot: a live cluster (through
// pkg/collect), manifests (through the snapshot loader), or a snapshot file recorded earlier.
// It is the first step of the flow; everything after it works on the snapshot alone.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/pkg/collect"
	"github.com/alertmend/kubectl-alertmend/pkg/connect"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Config says what to read and how.
type Config struct {
	// Filenames are manifests (files, directories, - for Stdin); set, they are read instead of a cluster.
	Filenames []string
	Stdin     io.Reader
	// Complete says the manifests are everything that runs (--complete); see snapshot.Snapshot.Complete.
	Complete bool
	// SnapshotFile is a recorded snapshot to replay instead of a cluster.
	SnapshotFile string
	// Namespace is -n. On a cluster it limits namespaced kinds to one namespace, and empty reads
	// them all; for manifests it means what it means to kubectl apply -f (see snapshot.Loader).
	Namespace string

	// Cluster is where a live cluster is reached.
	Cluster connect.Target
	// Timeout bounds reading the cluster; what is not read by then is not evaluated. 0: none.
	Timeout time.Duration
	// ChunkSize is the page size of every LIST.
	ChunkSize int64
	// PrometheusURL is where node_exporter's conntrack series are queried first.
	PrometheusURL string

	// Notes receives what people should know about the input (objects defined twice, kinds
	// skipped) and, on a terminal, the progress line.
	Notes io.Writer
	// NotesTerminal tells whether Notes is a terminal, where progress is drawn.
	NotesTerminal bool
	// Notice says where the run is connecting when the server is slow to answer; nil: nothing.
	Notice *connect.Notice
	// Now stamps when the state was read.
	Now func() time.Time
}

// Kind is what the run reads: manifests with Filenames, else a cluster (live or recorded).
func (c Config) Kind() snapshot.Source {
	switch {
	case len(c.Filenames) > 0:
		return snapshot.SourceManifests
	case c.SnapshotFile != "":
		return snapshot.SourceSnapshot
	}
	return snapshot.SourceCluster
}

// Read reads kinds from the configured source. A recorded snapshot holds what it holds: kinds
// it lacks are unavailable in it, whatever is asked.
func Read(ctx context.Context, c Config, kinds []snapshot.Kind) (*snapshot.Snapshot, error) {
	switch c.Kind() {
	case snapshot.SourceSnapshot:
		return replay(c.SnapshotFile)
	case snapshot.SourceManifests:
		snap, err := c.loadManifests()
		if err != nil {
			return nil, err
		}
		snap.CollectedAt = c.Now()
		snap.Complete = c.Complete
		return snap, nil
	}
	snap, err := c.collect(ctx, kinds)
	if err != nil {
		return nil, err
	}
	snap.CollectedAt = c.Now()
	return snap, nil
}

func replay(file string) (*snapshot.Snapshot, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read the snapshot: %v", err)
	}
	defer f.Close()
	snap, _, err := snapshot.ReadFile(file, f)
	if err != nil {
		return nil, err
	}
	snap.Source = snapshot.SourceSnapshot
	return snap, nil
}

func (c Config) loadManifests() (*snapshot.Snapshot, error) {
	loader := &snapshot.Loader{Namespace: c.Namespace, Stdin: c.Stdin}
	snap, err := loader.LoadFiles(c.Filenames)
	if err != nil {
		return nil, err
	}
	for _, w := range loader.Warnings {
		fmt.Fprintf(c.Notes, "warning: %s\n", w.Message)
	}
	if summary := loader.SkippedSummary(); summary != "" {
		fmt.Fprintf(c.Notes, "note: %s\n", summary)
	}
	return snap, nil
}

// Connect makes the clients of the cluster and makes sure it answers, within Timeout: what a
// run that keeps reading it (a watch) needs before it starts.
func (c Config) Connect(ctx context.Context) (collect.Clients, *rest.Config, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	return c.connect(ctx)
}

func (c Config) connect(ctx context.Context) (collect.Clients, *rest.Config, error) {
	config, err := c.Cluster.RESTConfig()
	if err != nil {
		return collect.Clients{}, nil, err
	}
	config = connect.Protobuf(config)
	clients, err := collect.NewClients(config)
	if err != nil {
		return collect.Clients{}, nil, fmt.Errorf("cannot configure a client for %s: %v", config.Host, err)
	}
	contact := connect.Contact{Context: c.Cluster.ContextName(), Namespace: c.Namespace, Timeout: c.Timeout, Notice: c.Notice}
	if err := connect.Reach(ctx, clients.Kube, config, contact); err != nil {
		return collect.Clients{}, nil, err
	}
	return clients, config, nil
}

// collect connects to the cluster, makes sure it answers, and reads kinds from it.
func (c Config) collect(ctx context.Context, kinds []snapshot.Kind) (*snapshot.Snapshot, error) {
	if c.Timeout > 0 {
		// From the first request on: --timeout bounds reaching the server too.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	contextName := c.Cluster.ContextName()
	clients, config, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}

	progress := render.StartProgress(c.Notes, c.NotesTerminal, len(kinds))
	snap, err := collect.Collect(ctx, clients, kinds, collect.Options{
		Namespace: c.Namespace,
		ChunkSize: c.ChunkSize,
		Progress:  progress.Update,
		Received:  progress.Receive,

		PrometheusURL:     c.PrometheusURL,
		ConntrackResample: collect.DefaultConntrackResample,
	})
	progress.Finish()
	var unreachable *collect.UnreachableError
	switch {
	case errors.As(err, &unreachable) && c.Timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("%v: no list was answered before the run's deadline (--timeout)", connect.NoAnswer(config, c.Timeout, contextName))
	case err != nil:
		return nil, fmt.Errorf("reading the cluster at %s: %v", config.Host, err)
	}
	snap.Context = contextName
	snap.Server = config.Host
	return snap, nil
}
