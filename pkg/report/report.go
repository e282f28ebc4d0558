// Package report is the contract machines read: `-o json` and `-o yaml` print a Report. Field
// names here are public API; add fields, never rename them.
package report

import (
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

const (
	APIVersion = "alertmend.io/v1alpha1"
	Kind       = "Report"
)

type Report struct {
	APIVersion   string          `json:"apiVersion"`
	Kind         string          `json:"kind"`
	Metadata     Metadata        `json:"metadata"`
	Summary      Summary         `json:"summary"`
	Findings     []check.Finding `json:"findings"`
	NotEvaluated []NotEvaluated  `json:"notEvaluated"`
}

type Metadata struct {
	Source      string    `json:"source"`
	Context     string    `json:"context,omitempty"`
	Server      string    `json:"server,omitempty"`
	Namespace   string    `json:"namespace,omitempty"`
	GeneratedAt time.Time `json:"generatedAt"`
}

type Summary struct {
	Critical     int `json:"critical"`
	High         int `json:"high"`
	Medium       int `json:"medium"`
	Low          int `json:"low"`
	Info         int `json:"info"`
	ChecksRun    int `json:"checksRun"`
	NotEvaluated int `json:"notEvaluated"`
}

// NotEvaluated is a selected check that could not see what it needs.
type NotEvaluated struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// Exit codes, documented in the README and in --help.
const (
	ExitOK         = 0 // nothing at or above --fail-on
	ExitGateFailed = 1 // at least one finding at or above --fail-on
	ExitError      = 2 // the tool could not do its job
	ExitIncomplete = 3 // nothing at or above --fail-on, but some checks were not evaluated
)

// ExitCode applies the gate: failOn is the lowest severity that fails it, or "" for none.
func (r *Report) ExitCode(failOn check.Severity) int {
	if failOn != "" {
		for _, f := range r.Findings {
			if f.Severity.AtLeast(failOn) {
				return ExitGateFailed
			}
		}
	}
	if len(r.NotEvaluated) > 0 {
		return ExitIncomplete
	}
	return ExitOK
}
