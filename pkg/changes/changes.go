// Package changes lists what changed about an incident's objects before it started. This file
// holds its API; the timeline itself is built on the changes branch.
package changes

import (
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Change is one thing that changed about an incident's objects before it started.
type Change struct {
	Time    time.Time    `json:"time"`
	Object  snapshot.Ref `json:"object"`
	Kind    string       `json:"kind"`    // "rollout", "config", "node", "policy", "webhook", "event", ...
	Summary string       `json:"summary"` // one line: "image app:1.4 -> app:1.5", "updated by helm"
	Manager string       `json:"manager,omitempty"`
	Undo    string       `json:"undo,omitempty"` // an exact command, e.g. kubectl rollout undo ... --to-revision=3
}

// Before lists, oldest first, the changes to objects (and the objects they reference) in window before started.
func Before(s *snapshot.Snapshot, objects []snapshot.Ref, started time.Time, window time.Duration) []Change {
	return nil
}
