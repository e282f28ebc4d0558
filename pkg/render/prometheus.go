package render

import (
	"cmp"
	"io"
	"maps"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// writePrometheus writes MetricFamilies in Prometheus' text exposition format, for a
// node_exporter textfile collector or a Pushgateway.
func writePrometheus(w io.Writer, r *report.Report, opts Options) error {
	encoder := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range MetricFamilies(r, opts) {
		if err := encoder.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// MetricFamilies is the report as Prometheus gauges. Every check that ran has a findings series,
// zero included, so an alert on it resolves when the problem is gone; findings by severity,
// checks not evaluated, and the run's time and duration complete it. Families without samples
// are left out, since they are not valid exposition.
func MetricFamilies(r *report.Report, opts Options) []*dto.MetricFamily {
	categories := map[string]string{}
	for _, m := range opts.Catalog {
		categories[m.ID] = string(m.Category)
	}
	perCheck := map[string]float64{}
	type checkSeverity struct{ check, category, severity string }
	perSeverity := map[checkSeverity]float64{}
	for _, f := range r.Findings {
		categories[f.Check] = string(f.Category)
		perCheck[f.Check]++
		perSeverity[checkSeverity{f.Check, string(f.Category), string(f.Severity)}]++
	}
	notEvaluated, notApplicable := map[string]bool{}, map[string]bool{}
	for _, ne := range r.NotEvaluated {
		notEvaluated[ne.Check] = true
		if !ne.Incomplete() {
			notApplicable[ne.Check] = true
		}
	}

	ran := maps.Clone(perCheck)
	for _, m := range opts.Catalog {
		if !notEvaluated[m.ID] {
			ran[m.ID] += 0
		}
	}
	checkFindings := family("alertmend_check_findings", "Findings of each check that ran, by check and category (0 when it found nothing).")
	for _, id := range slices.Sorted(maps.Keys(ran)) {
		checkFindings.Metric = append(checkFindings.Metric, gauge(ran[id], "category", categories[id], "check", id))
	}
	findings := family("alertmend_findings", "Findings by check, category and severity.")
	for _, key := range slices.SortedFunc(maps.Keys(perSeverity), func(a, b checkSeverity) int {
		return cmp.Or(cmp.Compare(a.check, b.check), cmp.Compare(check.Severity(a.severity).Rank(), check.Severity(b.severity).Rank()))
	}) {
		findings.Metric = append(findings.Metric, gauge(perSeverity[key], "category", key.category, "check", key.check, "severity", key.severity))
	}
	unevaluated := family("alertmend_check_not_evaluated", "1 for each selected check that could not see what it needs (forbidden, timed out, an error).")
	inapplicable := family("alertmend_check_not_applicable", "1 for each selected check whose subject is absent here (an API not served, a component not installed).")
	for _, id := range slices.Sorted(maps.Keys(notEvaluated)) {
		if notApplicable[id] {
			inapplicable.Metric = append(inapplicable.Metric, gauge(1, "category", categories[id], "check", id))
		} else {
			unevaluated.Metric = append(unevaluated.Metric, gauge(1, "category", categories[id], "check", id))
		}
	}
	summary := r.Summary
	bySeverity := family("alertmend_findings_by_severity", "Findings by severity, suppressed ones left out.")
	for _, s := range []struct {
		severity check.Severity
		count    int
	}{{check.Critical, summary.Critical}, {check.High, summary.High}, {check.Medium, summary.Medium}, {check.Low, summary.Low}, {check.Info, summary.Info}} {
		bySeverity.Metric = append(bySeverity.Metric, gauge(float64(s.count), "severity", string(s.severity)))
	}
	checksRun := family("alertmend_checks_run", "Selected checks that ran.")
	checksRun.Metric = []*dto.Metric{gauge(float64(summary.ChecksRun))}
	suppressed := family("alertmend_findings_suppressed", "Findings silenced by ignore annotations or rules.")
	suppressed.Metric = []*dto.Metric{gauge(float64(summary.Suppressed))}
	duration := family("alertmend_run_duration_seconds", "How long the run took, reading the cluster included.")
	duration.Metric = []*dto.Metric{gauge(opts.Duration.Seconds())}
	finished := family("alertmend_run_timestamp_seconds", "When the report was made, in seconds since the Unix epoch.")
	finished.Metric = []*dto.Metric{gauge(float64(r.Metadata.GeneratedAt.UnixMilli()) / 1000)}
	info := family("alertmend_run_info", "The run's source, context and tool version, as labels.")
	info.Metric = []*dto.Metric{gauge(1, "context", r.Metadata.Context, "namespace", r.Metadata.Namespace, "source", r.Metadata.Source,
		"version", opts.ToolVersion)}

	return slices.DeleteFunc([]*dto.MetricFamily{checkFindings, findings, unevaluated, inapplicable, bySeverity, checksRun, suppressed, duration, finished, info},
		func(mf *dto.MetricFamily) bool { return len(mf.Metric) == 0 })
}

func family(name, help string) *dto.MetricFamily {
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: dto.MetricType_GAUGE.Enum()}
}

// gauge is one sample with its labels, given as name, value pairs in name order.
func gauge(value float64, labels ...string) *dto.Metric {
	m := &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(value)}}
	for i := 0; i+1 < len(labels); i += 2 {
		m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(labels[i]), Value: proto.String(labels[i+1])})
	}
	return m
}
