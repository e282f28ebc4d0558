package report

import "time"

// KindFleetReport is the kind of a run over several kubeconfig contexts.
const KindFleetReport = "FleetReport"

// FleetReport is what `-o json|yaml` prints for a run over several clusters: one entry per
// kubeconfig context, in the order they were asked for (or by name for --all-contexts).
type FleetReport struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Metadata   FleetMetadata `json:"metadata"`
	Summary    FleetSummary  `json:"summary"`
	Clusters   []ClusterRun  `json:"clusters"`
}

type FleetMetadata struct {
	GeneratedAt time.Time `json:"generatedAt"`
	// Namespace is -n, applied in every cluster; empty for all namespaces.
	Namespace string `json:"namespace,omitempty"`
}

// ClusterRun is one context's outcome: a report, or the error that kept it from being made.
type ClusterRun struct {
	Context string  `json:"context"`
	Report  *Report `json:"report,omitempty"`
	// Error says why this cluster could not be diagnosed (unreachable, rejected credentials...).
	Error string `json:"error,omitempty"`
	// ExitCode is what a run against this context alone would have exited with.
	ExitCode int `json:"exitCode"`
	// DurationSeconds is how long this cluster's run took, reading it included.
	DurationSeconds float64 `json:"durationSeconds"`
}

// Duration is DurationSeconds as a time.Duration, for the formats that record a run's duration.
func (c ClusterRun) Duration() time.Duration {
	return time.Duration(c.DurationSeconds * float64(time.Second))
}

// FleetSummary adds the clusters' summaries up.
type FleetSummary struct {
	Clusters int `json:"clusters"`
	// Failed counts the clusters that could not be diagnosed.
	Failed       int `json:"failed"`
	Critical     int `json:"critical"`
	High         int `json:"high"`
	Medium       int `json:"medium"`
	Low          int `json:"low"`
	Info         int `json:"info"`
	NotEvaluated int `json:"notEvaluated"`
	Suppressed   int `json:"suppressed"`
	// NotApplicable counts the checks among NotEvaluated that do not apply to their cluster.
	NotApplicable int `json:"notApplicable"`
}

// NewFleetReport builds the fleet's report and its summary from the clusters' runs.
func NewFleetReport(generatedAt time.Time, namespace string, runs []ClusterRun) *FleetReport {
	f := &FleetReport{APIVersion: APIVersion, Kind: KindFleetReport,
		Metadata: FleetMetadata{GeneratedAt: generatedAt, Namespace: namespace}, Clusters: runs}
	s := &f.Summary
	s.Clusters = len(runs)
	for _, run := range runs {
		if run.Report == nil {
			s.Failed++
			continue
		}
		rs := run.Report.Summary
		s.Critical += rs.Critical
		s.High += rs.High
		s.Medium += rs.Medium
		s.Low += rs.Low
		s.Info += rs.Info
		s.NotEvaluated += rs.NotEvaluated
		s.NotApplicable += rs.NotApplicable
		s.Suppressed += rs.Suppressed
	}
	return f
}

// ExitCode is the worst cluster's: 2 if any cluster could not be diagnosed, else 1 if any
// failed the gate, else 3 if any had checks not evaluated, else 0.
func (f *FleetReport) ExitCode() int {
	worst := ExitOK
	for _, run := range f.Clusters {
		if exitRank(run.ExitCode) > exitRank(worst) {
			worst = run.ExitCode
		}
	}
	return worst
}

// exitRank orders exit codes by how bad they are for a fleet.
func exitRank(code int) int {
	switch code {
	case ExitOK:
		return 0
	case ExitIncomplete:
		return 1
	case ExitGateFailed:
		return 2
	default:
		return 3
	}
}
