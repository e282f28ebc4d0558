package workloads

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/changes"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// undoComment says when the exact rollback applies.
const undoComment = "   # back to the revision before the rollout, whose pods fail"

// exactRollback is the command that rolls owner back to its previous revision, when owner is a
// Deployment whose newest revision is the one failing: its rollout stopped with the previous
// revision still serving (changes.RolloutUndo), and every one of failing is a pod of the newest
// ReplicaSet. A pod of an earlier revision failing too says the rollout is not the cause.
func exactRollback(s *snapshot.Snapshot, owner snapshot.Ref, failing []*corev1.Pod) (string, bool) {
	if owner.Kind != "Deployment" || len(failing) == 0 {
		return "", false
	}
	undo, ok := changes.RolloutUndo(s, owner)
	if !ok {
		return "", false
	}
	for _, pod := range failing {
		rs := metav1.GetControllerOfNoCopy(pod)
		if rs == nil || rs.Kind != "ReplicaSet" || !changes.InNewestRevision(s, owner, rs.Name) {
			return "", false
		}
	}
	return undo + undoComment, true
}
