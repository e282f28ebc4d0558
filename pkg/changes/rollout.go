package changes

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// RevisionAnnotation numbers a Deployment's ReplicaSets; kubectl rollout undo --to-revision
// takes the number.
const RevisionAnnotation = "deployment.kubernetes.io/revision"

// changeCauseAnnotation is what kubectl rollout history shows as CHANGE-CAUSE.
const changeCauseAnnotation = "kubernetes.io/change-cause"

// Revision is one of a Deployment's ReplicaSets and the revision number it carries.
type Revision struct {
	Number     int64
	ReplicaSet *appsv1.ReplicaSet
}

type revisionsKey struct{}

// ownerKey names a Deployment by namespace and name; the UID tells a Deployment from an
// earlier one of the same name whose ReplicaSets are not yet collected.
type ownerKey struct{ namespace, name string }

// revisionIndex is every numbered ReplicaSet controlled by a Deployment, by Deployment, newest
// revision first: built once per snapshot, so that a lookup does not scan every ReplicaSet.
func revisionIndex(s *snapshot.Snapshot) map[ownerKey][]Revision {
	return snapshot.Derived(s, revisionsKey{}, func() map[ownerKey][]Revision {
		index := map[ownerKey][]Revision{}
		for i := range s.ReplicaSets {
			rs := &s.ReplicaSets[i]
			owner := metav1.GetControllerOfNoCopy(rs)
			if owner == nil || owner.Kind != "Deployment" {
				continue
			}
			n, err := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
			if err != nil || n <= 0 {
				continue
			}
			key := ownerKey{rs.Namespace, owner.Name}
			index[key] = append(index[key], Revision{Number: n, ReplicaSet: rs})
		}
		for _, revisions := range index {
			slices.SortFunc(revisions, func(a, b Revision) int {
				return cmp.Or(cmp.Compare(b.Number, a.Number), cmp.Compare(a.ReplicaSet.Name, b.ReplicaSet.Name))
			})
		}
		return index
	})
}

// Revisions lists a Deployment's ReplicaSets that carry a revision number, newest first; none
// when the Deployment or its ReplicaSets are not in the snapshot.
func Revisions(s *snapshot.Snapshot, deployment snapshot.Ref) []Revision {
	d, ok := lookup[*appsv1.Deployment](s, deployment)
	if !ok {
		return nil
	}
	return deploymentRevisions(s, d)
}

func deploymentRevisions(s *snapshot.Snapshot, d *appsv1.Deployment) []Revision {
	all := revisionIndex(s)[ownerKey{d.Namespace, d.Name}]
	var out []Revision
	for _, r := range all {
		owner := metav1.GetControllerOfNoCopy(r.ReplicaSet)
		if owner.UID == "" || d.UID == "" || owner.UID == d.UID {
			out = append(out, r)
		}
	}
	return out
}

// UndoCommand is the command that rolls a Deployment, StatefulSet or DaemonSet back to a
// revision.
func UndoCommand(workload snapshot.Ref, revision int64) string {
	return fmt.Sprintf("kubectl rollout undo %s -n %s --to-revision=%d", check.Target(workload), check.Quote(workload.Namespace), revision)
}

// RolloutUndo is the exact command that rolls a Deployment back to its previous revision when
// its newest revision is the one failing: the newest ReplicaSet has fewer ready replicas than it
// wants while an earlier one still runs replicas (the rollout stopped halfway, the old pods still
// serving). ok is false when nothing says the rollout is at fault, or there is no earlier
// revision to go back to.
func RolloutUndo(s *snapshot.Snapshot, deployment snapshot.Ref) (cmd string, ok bool) {
	revisions := Revisions(s, deployment)
	if len(revisions) < 2 {
		return "", false
	}
	newest := revisions[0].ReplicaSet
	want := int32(1)
	if newest.Spec.Replicas != nil {
		want = *newest.Spec.Replicas
	}
	if want == 0 || newest.Status.ReadyReplicas >= want {
		return "", false
	}
	for _, r := range revisions[1:] {
		if r.ReplicaSet.Status.Replicas > 0 || (r.ReplicaSet.Spec.Replicas != nil && *r.ReplicaSet.Spec.Replicas > 0) {
			// The newest revision that still runs pods is the one that served before the rollout;
			// a revision between them scaled to nothing is an earlier rollout that failed too.
			return UndoCommand(deployment, r.Number), true
		}
	}
	return "", false
}

// InNewestRevision tells whether a ReplicaSet (by name, in the Deployment's namespace) is the
// Deployment's newest revision.
func InNewestRevision(s *snapshot.Snapshot, deployment snapshot.Ref, replicaSet string) bool {
	revisions := Revisions(s, deployment)
	return len(revisions) > 0 && revisions[0].ReplicaSet.Name == replicaSet
}

// maxSummary bounds a change's one line.
const maxSummary = 300

// rollout adds a Deployment's newest revision when its ReplicaSet was created in the window,
// with what changed from the revision before. A rollback makes an old ReplicaSet the newest
// revision again without creating one: the snapshot holds no time for it, so it is not told.
func (t *timeline) rollout(ref snapshot.Ref, revisions []Revision) {
	if len(revisions) == 0 || !t.in(revisions[0].ReplicaSet.CreationTimestamp.Time) {
		return
	}
	newest := revisions[0]
	c := Change{Time: newest.ReplicaSet.CreationTimestamp.Time, Object: ref, Kind: KindRollout}
	if len(revisions) == 1 {
		c.Summary = fmt.Sprintf("revision %d, the first", newest.Number)
	} else {
		previous := revisions[1]
		c.Summary = fmt.Sprintf("revision %d -> %d", previous.Number, newest.Number)
		if diff := TemplateDiff(&previous.ReplicaSet.Spec.Template, &newest.ReplicaSet.Spec.Template); len(diff) > 0 {
			c.Summary += ": " + strings.Join(diff, "; ")
		}
		// Back to the revision that served before: the newest earlier one still running pods
		// (one between, scaled to nothing, was a rollout that failed too), else the previous.
		back := previous.Number
		for _, r := range revisions[1:] {
			if r.ReplicaSet.Status.Replicas > 0 || (r.ReplicaSet.Spec.Replicas != nil && *r.ReplicaSet.Spec.Replicas > 0) {
				back = r.Number
				break
			}
		}
		c.Undo = UndoCommand(ref, back)
	}
	if cause := newest.ReplicaSet.Annotations[changeCauseAnnotation]; cause != "" {
		c.Summary += " (change-cause: " + cause + ")"
	}
	c.Summary = check.OneLine(c.Summary, maxSummary)
	t.add(c)
}
