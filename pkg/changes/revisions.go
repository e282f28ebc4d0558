package changes

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

type controllerRevisionsKey struct{}

// revisionOwnerKey names a StatefulSet or DaemonSet by kind, namespace and name.
type revisionOwnerKey struct{ kind, namespace, name string }

// controllerRevisionIndex is the snapshot's ControllerRevisions by owner, newest revision first:
// built once per snapshot.
func controllerRevisionIndex(s *snapshot.Snapshot) map[revisionOwnerKey][]*snapshot.ControllerRevision {
	return snapshot.Derived(s, controllerRevisionsKey{}, func() map[revisionOwnerKey][]*snapshot.ControllerRevision {
		index := map[revisionOwnerKey][]*snapshot.ControllerRevision{}
		for i := range s.ControllerRevisions {
			r := &s.ControllerRevisions[i]
			key := revisionOwnerKey{r.OwnerKind, r.Namespace, r.OwnerName}
			index[key] = append(index[key], r)
		}
		for _, revisions := range index {
			slices.SortFunc(revisions, func(a, b *snapshot.ControllerRevision) int {
				return cmp.Or(cmp.Compare(b.Revision, a.Revision), cmp.Compare(a.Name, b.Name))
			})
		}
		return index
	})
}

// controllerRevisions lists a StatefulSet's or DaemonSet's revisions, newest first; the UID
// tells an owner from an earlier one of the same name.
func controllerRevisions(s *snapshot.Snapshot, ref snapshot.Ref, owner metav1.Object) []*snapshot.ControllerRevision {
	var out []*snapshot.ControllerRevision
	for _, r := range controllerRevisionIndex(s)[revisionOwnerKey{ref.Kind, ref.Namespace, ref.Name}] {
		if r.OwnerUID == "" || owner.GetUID() == "" || r.OwnerUID == string(owner.GetUID()) {
			out = append(out, r)
		}
	}
	return out
}

// controllerRollout adds a StatefulSet's or DaemonSet's newest revision when it was created in
// the window, with what changed in its pod template from the revision before, and the command
// that goes back to that one: kubectl rollout undo applies the revision's template whole, so
// it is exact. Like a Deployment's rollback, one to an earlier revision renumbers that revision
// without creating one, and the snapshot holds no time for it.
func (t *timeline) controllerRollout(ref snapshot.Ref, revisions []*snapshot.ControllerRevision) {
	if len(revisions) == 0 || !t.in(revisions[0].Created.Time) {
		return
	}
	newest := revisions[0]
	c := Change{Time: newest.Created.Time, Object: ref, Kind: KindRollout}
	if len(revisions) == 1 {
		c.Summary = fmt.Sprintf("revision %d, the first", newest.Revision)
	} else {
		previous := revisions[1]
		c.Summary = fmt.Sprintf("revision %d -> %d", previous.Revision, newest.Revision)
		if previous.Template != nil && newest.Template != nil {
			if diff := TemplateDiff(previous.Template, newest.Template); len(diff) > 0 {
				c.Summary += ": " + strings.Join(diff, "; ")
			}
		}
		c.Undo = UndoCommand(ref, previous.Revision)
	}
	c.Summary = check.OneLine(c.Summary, maxSummary)
	t.add(c)
}

type configMapMetadataKey struct{}

// configMapMetadata finds a ConfigMap's metadata among those a whole-cluster run read without
// their data (snapshot.ConfigMapMetadata).
func configMapMetadata(s *snapshot.Snapshot, ref snapshot.Ref) (metav1.Object, bool) {
	index := snapshot.Derived(s, configMapMetadataKey{}, func() map[snapshot.Ref]*snapshot.ConfigMapMetadata {
		index := make(map[snapshot.Ref]*snapshot.ConfigMapMetadata, len(s.ConfigMapMetadata))
		for i := range s.ConfigMapMetadata {
			m := &s.ConfigMapMetadata[i]
			index[snapshot.RefTo(snapshot.KindConfigMaps, m.Namespace, m.Name)] = m
		}
		return index
	})
	m, ok := index[ref]
	if !ok {
		return nil, false
	}
	return m.ObjectMeta(), true
}
