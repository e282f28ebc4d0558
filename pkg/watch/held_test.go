package watch

import (
	"maps"
	"slices"
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Only a kind read before and lost now holds the checks that read it, optional kinds included;
// a kind never read or absent from the cluster holds nothing.
func TestHeldChecks(t *testing.T) {
	w := &watcher{Config: Config{
		Kinds: []snapshot.Kind{snapshot.KindPods, snapshot.KindReplicaSets, snapshot.KindPodMetrics, snapshot.KindRoles},
		Options: render.Options{Catalog: []check.Meta{
			{ID: "pod-crashloop", Requires: []snapshot.Kind{snapshot.KindPods}, Optional: []snapshot.Kind{snapshot.KindReplicaSets}},
			{ID: "memory-usage-near-limit", Requires: []snapshot.Kind{snapshot.KindPodMetrics}},
			{ID: "rbac-pod-exec", Requires: []snapshot.Kind{snapshot.KindRoles}},
		}},
	}}
	read := func(unavailable []snapshot.Kind, absent ...snapshot.Kind) []string {
		snap := snapshot.New(snapshot.SourceCluster)
		for _, k := range unavailable {
			snap.MarkUnavailable(k, "forbidden")
		}
		for _, k := range absent {
			snap.MarkAbsent(k, "not served")
		}
		return slices.Sorted(maps.Keys(w.held(snap)))
	}
	// Roles are forbidden from the start, pod metrics not served: nothing is held.
	if got := read([]snapshot.Kind{snapshot.KindRoles}, snapshot.KindPodMetrics); len(got) != 0 {
		t.Fatalf("first evaluation: held %v", got)
	}
	if got := read([]snapshot.Kind{snapshot.KindRoles, snapshot.KindReplicaSets}, snapshot.KindPodMetrics); !slices.Equal(got, []string{"pod-crashloop"}) {
		t.Errorf("replicasets lost: held %v, want pod-crashloop", got)
	}
	if got := read([]snapshot.Kind{snapshot.KindRoles}, snapshot.KindPodMetrics); len(got) != 0 {
		t.Errorf("replicasets read again: held %v", got)
	}
}
