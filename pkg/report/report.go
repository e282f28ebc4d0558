// Package report is the contract machines read: `-o json` and `-o yaml` print a Report. Field
// names here are public API; add fields, never rename them.
package report

import (
	"slices"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

const (
	APIVersion = "alertmend.io/v1alpha1"
	Kind       = "Report"
)

type Report struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Summary    Summary  `json:"summary"`
	// Findings are ordered incident by incident, each root first, then the findings in no
	// incident by priority: findings[0] is the most urgent incident's root cause.
	Findings []check.Finding `json:"findings"`
	// Incidents group the findings into root causes and the findings they explain, most urgent
	// first. Added to v1alpha1; readers that do not know it find the same findings in the same
	// order.
	Incidents    []Incident     `json:"incidents"`
	NotEvaluated []NotEvaluated `json:"notEvaluated"`
	// Suppressed lists the findings an ignore annotation or rule silenced; filled only with
	// --show-suppressed (the summary counts them either way).
	Suppressed []Suppressed `json:"suppressed,omitempty"`
	// RuleNotices lists ignore rules of the config file that need attention: expired, or
	// matching nothing (stale).
	RuleNotices []RuleNotice `json:"ruleNotices,omitempty"`
}

// Suppressed is a finding silenced on purpose, and by what.
type Suppressed struct {
	Finding check.Finding `json:"finding"`
	// By says what silenced it: "annotation on deployment shop/cart", "annotation on namespace
	// legacy", or ".alertmend.yaml:12".
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
}

// RuleNotice is an ignore rule that no longer does what its author meant.
type RuleNotice struct {
	// Rule is where the rule is written, "FILE:LINE".
	Rule string `json:"rule"`
	// Problem is "expired" or "stale".
	Problem string `json:"problem"`
	Detail  string `json:"detail"`
}

type Metadata struct {
	Source      string    `json:"source"`
	Context     string    `json:"context,omitempty"`
	Server      string    `json:"server,omitempty"`
	Namespace   string    `json:"namespace,omitempty"`
	GeneratedAt time.Time `json:"generatedAt"`
	// CollectedAt is when a replayed snapshot was recorded; absent for live runs.
	CollectedAt *time.Time `json:"collectedAt,omitempty"`
	// MinSeverity is --min-severity: findings below it are counted in the summary but not
	// listed.
	MinSeverity check.Severity `json:"minSeverity,omitempty"`
	// Notes say what the run read only in part, though no check was blinded by it: the Warning
	// events past the bound a live run keeps.
	Notes []string `json:"notes,omitempty"`
}

type Summary struct {
	Critical     int `json:"critical"`
	High         int `json:"high"`
	Medium       int `json:"medium"`
	Low          int `json:"low"`
	Info         int `json:"info"`
	ChecksRun    int `json:"checksRun"`
	NotEvaluated int `json:"notEvaluated"`
	// Suppressed counts findings silenced by ignore annotations or rules; they are not among
	// the counts above.
	Suppressed int `json:"suppressed"`
	// Baselined counts the findings above that the --baseline file already records.
	Baselined int `json:"baselined"`
	// OutOfScope counts the findings left out because they concern nothing the run is limited
	// to (-n, -l): other nodes, the cluster as a whole, objects the selector does not pick.
	OutOfScope int `json:"outOfScope,omitempty"`
	// NotApplicable counts the checks among NotEvaluated that do not apply here (code
	// not-applicable); the rest could not see, and make the run incomplete.
	NotApplicable int `json:"notApplicable"`
	// NotShown counts the findings above that --min-severity left out of the list.
	NotShown int `json:"notShown,omitempty"`
	// NotInIncidents counts the findings above that --incidents left out of the list: those in
	// no incident.
	NotInIncidents int `json:"notInIncidents,omitempty"`
}

// NotEvaluated is a selected check that did not judge, and why.
type NotEvaluated struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
	// Code tells the two kinds apart: CouldNotSee makes the run incomplete (exit 3),
	// NotApplicable does not.
	Code string `json:"code"`
}

// The codes of NotEvaluated.
const (
	// CouldNotSee: what the check needs is there but was not read: forbidden, timed out, an
	// error, no answer. The run is incomplete until someone fixes that.
	CouldNotSee = "could-not-see"
	// NotApplicable: what the check judges is absent from this cluster or this run by design:
	// an API that is not served (metrics.k8s.io without metrics-server), a component not
	// installed (kube-proxy, node-problem-detector, node_exporter), a managed control plane,
	// objects outside the namespace the run is limited to.
	NotApplicable = "not-applicable"
)

// Incomplete tells whether the check could have judged had the run seen more.
func (n NotEvaluated) Incomplete() bool { return n.Code != NotApplicable }

// Exit codes, documented in the README and in --help.
const (
	ExitOK         = 0 // nothing at or above --fail-on
	ExitGateFailed = 1 // at least one finding at or above --fail-on
	ExitError      = 2 // the tool could not do its job
	ExitIncomplete = 3 // nothing at or above --fail-on, but some checks could not see what they judge
	// ExitInterrupted follows the shell's convention for a process ended by SIGINT (128+2); the
	// binary turns it into 143 when the signal was SIGTERM.
	ExitInterrupted = 130
)

// ExitCode applies the gate: failOn is the lowest severity that fails it, or "" for none.
func (r *Report) ExitCode(failOn check.Severity) int {
	if failOn != "" {
		for _, f := range r.Findings {
			if !f.Baselined && f.Severity.AtLeast(failOn) {
				return ExitGateFailed
			}
		}
	}
	for _, ne := range r.NotEvaluated {
		if ne.Incomplete() {
			return ExitIncomplete
		}
	}
	return ExitOK
}

// AtOrAbove is r listing only the findings at least as severe as min: what --min-severity
// shows. The summary still counts every finding, and says how many are not listed; the gate is
// applied to r itself, so hiding a finding never passes it.
func (r *Report) AtOrAbove(min check.Severity) *Report {
	shown := *r
	shown.Metadata.MinSeverity = min
	shown.Findings = nil
	for _, f := range r.Findings {
		if f.Severity.AtLeast(min) {
			shown.Findings = append(shown.Findings, f)
		} else {
			shown.Summary.NotShown++
		}
	}
	shown.Incidents = slices.Clone(r.Incidents)
	shown.Arrange()
	return &shown
}
