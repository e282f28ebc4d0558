package check

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Link is one way a check's finding causes findings of other checks: those findings are its
// symptoms, and the engine groups them with it into one incident, the cause first. A link is
// declared by the family that owns the cause, never guessed from wording: a finding of a check
// in Explains is linked only when every object it is about is among Reach's.
type Link struct {
	// Explains names the checks whose findings this link can explain.
	Explains []string
	// How says how the objects connect, for people: "the workloads whose pods ran on these nodes".
	How string
	// Reach lists the objects the cause's finding affects, as the snapshot shows them connected
	// (the pods on its node, the workloads whose events name it); nil reaches the finding's own
	// objects. It must be a pure function of s, linear in what it reads.
	Reach func(s *snapshot.Snapshot, cause Finding) []snapshot.Ref
}

// Reaches is what a finding of a check with link l affects: Reach's objects, or the finding's own.
func (l Link) Reaches(s *snapshot.Snapshot, cause Finding) []snapshot.Ref {
	if l.Reach == nil {
		return cause.Objects
	}
	return l.Reach(s, cause)
}

// SameObjects links the findings of checks about the objects the cause's finding is about: the
// workload whose pods crash, the workloads an egress policy isolates.
func SameObjects(how string, explains ...string) Link {
	return Link{Explains: explains, How: how}
}

// FindingID names a finding by what it is about, its check and its objects, so that it is
// stable across runs as long as the finding is the one a baseline would call the same.
func FindingID(f Finding) string {
	keys := make([]string, 0, len(f.Objects))
	for _, o := range f.Objects {
		keys = append(keys, o.String())
	}
	slices.Sort(keys)
	sum := sha256.Sum256([]byte(f.Check + "\x00" + strings.Join(keys, "\x00")))
	return f.Check + "-" + hex.EncodeToString(sum[:4])
}

// OwnersOfPods names, once each and in the pods' order, the workloads (snapshot.TopOwner) of
// the pods pick selects: what a link reaches when a cause acts on pods.
func OwnersOfPods(s *snapshot.Snapshot, pick func(pod *corev1.Pod) bool) []snapshot.Ref {
	var owners []snapshot.Ref
	seen := map[snapshot.Ref]bool{}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if !pick(pod) {
			continue
		}
		if owner := s.TopOwner(pod); !seen[owner] {
			seen[owner] = true
			owners = append(owners, owner)
		}
	}
	return owners
}

// NodesOf is the names of the nodes among a finding's objects.
func NodesOf(f Finding) map[string]bool {
	nodes := map[string]bool{}
	for _, o := range f.Objects {
		if o.Kind == "Node" {
			nodes[o.Name] = true
		}
	}
	return nodes
}

// PodEventSays tells whether one of the pod's Warning events says one of the phrases (in any
// case): the cluster's own words connecting a pod's failure to a cause.
func PodEventSays(s *snapshot.Snapshot, pod *corev1.Pod, phrases ...string) bool {
	for _, e := range s.WarningEvents("Pod", pod.Namespace, pod.Name) {
		message := strings.ToLower(e.Message)
		for _, p := range phrases {
			if strings.Contains(message, p) {
				return true
			}
		}
	}
	return false
}
