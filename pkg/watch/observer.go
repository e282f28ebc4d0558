// Package watch keeps a cluster's report current: it lists then watches the kinds the selected
// checks read, re-evaluates them on every change, and tells what appeared, changed or resolved.
package watch

import (
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// Evaluation is one evaluation of the checks during a watch.
type Evaluation struct {
	// At is when the state the report judges was read.
	At time.Time
	// Report is the whole report of the evaluation: every finding, not only what changed.
	Report *report.Report
	// Options are how the report is rendered (the catalog, the gate), as -o prometheus needs them.
	Options render.Options
	// Held are the checks that ran without a kind they read before (see watcher.held): their
	// findings are to be kept as last seen, neither resolved nor new, as for a check not evaluated.
	Held map[string]bool
}

// Observer is told of every evaluation of a watch, in order, from one goroutine. It must return
// quickly: what takes time (sending alerts) it does on a goroutine of its own.
type Observer interface {
	Observe(Evaluation)
}
