package source

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const manifests = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: shop}
`

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want snapshot.Source
	}{
		{Config{}, snapshot.SourceCluster},
		{Config{Filenames: []string{"-"}}, snapshot.SourceManifests},
		{Config{SnapshotFile: "s.gz"}, snapshot.SourceSnapshot},
	} {
		if got := tc.c.Kind(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.c, got, tc.want)
		}
	}
}

// --complete reaches the checks through the snapshot: manifests are partial unless it is given.
func TestManifestsAreCompleteOnlyWhenSaidSo(t *testing.T) {
	for _, complete := range []bool{false, true} {
		c := Config{Filenames: []string{"-"}, Stdin: strings.NewReader(manifests), Complete: complete, Notes: &bytes.Buffer{}, Now: time.Now}
		snap, err := Read(context.Background(), c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Complete != complete {
			t.Errorf("Config.Complete %v read as Snapshot.Complete %v", complete, snap.Complete)
		}
	}
}

// Manifests are stamped with the time they were read and say which kinds were skipped; a
// recorded snapshot replays as a snapshot, with the time it was recorded.
func TestReadManifestsAndReplay(t *testing.T) {
	loaded := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	var notes bytes.Buffer
	c := Config{Filenames: []string{"-"}, Stdin: strings.NewReader(manifests), Notes: &notes, Now: func() time.Time { return loaded }}
	snap, err := Read(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Source != snapshot.SourceManifests || !snap.CollectedAt.Equal(loaded) || len(snap.Namespaces) != 1 {
		t.Errorf("source %s, collected %s, %d namespaces", snap.Source, snap.CollectedAt, len(snap.Namespaces))
	}
	if want := "note: skipped 1 object, the first at <stdin>:5; unknown to Kubernetes (custom resources, or misspelt): example.com/v1 Widget\n"; notes.String() != want {
		t.Errorf("notes %q, want %q", notes.String(), want)
	}

	file := filepath.Join(t.TempDir(), "s.gz")
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := snapshot.Record(snap, []snapshot.Kind{snapshot.KindNamespaces}, nil, "test").Write(out); err != nil {
		t.Fatal(err)
	}
	out.Close()
	later := func() time.Time { return loaded.Add(time.Hour) }
	replayed, err := Read(context.Background(), Config{SnapshotFile: file, Now: later}, []snapshot.Kind{snapshot.KindNamespaces, snapshot.KindPods})
	if err != nil {
		t.Fatal(err)
	}
	if replayed.Source != snapshot.SourceSnapshot || !replayed.CollectedAt.Equal(loaded) || len(replayed.Namespaces) != 1 {
		t.Errorf("replayed: source %s, collected %s, %d namespaces", replayed.Source, replayed.CollectedAt, len(replayed.Namespaces))
	}
	if _, blind := replayed.Unavailable[snapshot.KindPods]; !blind {
		t.Error("a kind the snapshot did not record replays as read")
	}
	if _, err := Read(context.Background(), Config{SnapshotFile: filepath.Join(t.TempDir(), "absent.gz"), Now: later}, nil); err == nil ||
		!strings.Contains(err.Error(), "cannot read the snapshot") {
		t.Errorf("a missing snapshot file: %v", err)
	}
}

// What the loader warns of and what it skipped reach the notes, warnings first; the object
// defined twice is judged as defined last, in -n's namespace.
func TestManifestNotes(t *testing.T) {
	input := `apiVersion: v1
kind: Service
metadata: {name: cart}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: PodTemplate
metadata: {name: data}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec: {ports: [{port: 8080}]}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
`
	var notes bytes.Buffer
	c := Config{Filenames: []string{"-"}, Stdin: strings.NewReader(input), Namespace: "shop", Notes: &notes, Now: time.Now}
	snap, err := Read(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Services) != 1 || snap.Services[0].Spec.Ports[0].Port != 8080 {
		t.Errorf("services %v, want cart once, with port 8080", snap.Services)
	}
	want := "warning: shop/service/cart is defined twice, at <stdin>:1 and <stdin>:10; the last one is judged\n" +
		"note: skipped 2 objects, the first at <stdin>:6; not checked by alertmend: v1 PodTemplate; " +
		"unknown to Kubernetes (custom resources, or misspelt): example.com/v1 Widget\n"
	if notes.String() != want {
		t.Errorf("notes\n%s\nwant\n%s", notes.String(), want)
	}
}
