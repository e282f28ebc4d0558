package render

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// WriteFleet renders a run over several clusters. People's formats show each cluster's report
// under its context, then a summary table of the fleet; JSON and YAML are the FleetReport;
// Prometheus is every cluster's metrics with a cluster label. opts applies to every cluster;
// its Duration is replaced by each cluster's own.
func WriteFleet(w io.Writer, f *report.FleetReport, format Format, opts Options) error {
	switch format {
	case JSON:
		return writeJSON(w, f)
	case YAML:
		return writeYAML(w, f)
	case Prometheus:
		return writeFleetPrometheus(w, f, opts)
	case Sarif, JUnit:
		return fmt.Errorf("-o %s describes one cluster, not a fleet", format)
	case Markdown:
		return writeFleetMarkdown(w, f, opts)
	default:
		return writeFleetText(w, f, format, opts)
	}
}

// clusterOptions is opts for one cluster's report.
func clusterOptions(run report.ClusterRun, opts Options) Options {
	opts.Duration = run.Duration()
	return opts
}

// writeFleetText is pretty, table and wide: each cluster under a header line, then the fleet.
func writeFleetText(w io.Writer, f *report.FleetReport, format Format, opts Options) error {
	p := newPalette(w, opts.Color && format == Pretty)
	for i, run := range f.Clusters {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		name := TerminalSafe(run.Context)
		header := "══ " + name + " " + strings.Repeat("═", max(3, 60-len([]rune(name))))
		if _, err := io.WriteString(w, p.title.Render(header)+"\n"); err != nil {
			return err
		}
		if run.Report == nil {
			if _, err := io.WriteString(w, p.severity[check.Critical].Render("✖ not diagnosed: ")+TerminalSafe(run.Error)+"\n"); err != nil {
				return err
			}
			continue
		}
		if format == Pretty {
			if err := writePretty(w, terminalSafeReport(run.Report), clusterOptions(run, opts)); err != nil {
				return err
			}
			continue
		}
		if err := writeTable(w, terminalSafeReport(run.Report), format == Wide); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(w, "\n"+p.title.Render("FLEET  "+check.Plural(f.Summary.Clusters, "cluster", "clusters"))+"\n"); err != nil {
		return err
	}
	t := NewPlainTable(w, fleetHeader()...)
	for _, run := range f.Clusters {
		if err := appendSafe(t, fleetRow(run)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n"+FleetSummaryLine(f)+"\n")
	return err
}

func fleetHeader() []string {
	return []string{"CONTEXT", "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO", "NOT EVALUATED", "ERROR"}
}

// fleetRow is one cluster's line of the summary table; a cluster that was not diagnosed has
// dashes for counts it does not have.
func fleetRow(run report.ClusterRun) []string {
	if run.Report == nil {
		return []string{run.Context, "-", "-", "-", "-", "-", "-", run.Error}
	}
	s := run.Report.Summary
	return []string{run.Context, strconv.Itoa(s.Critical), strconv.Itoa(s.High), strconv.Itoa(s.Medium),
		strconv.Itoa(s.Low), strconv.Itoa(s.Info), strconv.Itoa(s.NotEvaluated - s.NotApplicable), ""}
}

// FleetSummaryLine is the fleet's one-line result.
func FleetSummaryLine(f *report.FleetReport) string {
	s := f.Summary
	line := check.Plural(s.Clusters, "cluster", "clusters") + ": " + severityCounts(s.Critical, s.High, s.Medium, s.Low, s.Info)
	if unseen := s.NotEvaluated - s.NotApplicable; unseen > 0 {
		line += fmt.Sprintf("; %d not evaluated", unseen)
	}
	if s.NotApplicable > 0 {
		line += fmt.Sprintf("; %d not applicable", s.NotApplicable)
	}
	if s.Suppressed > 0 {
		line += fmt.Sprintf("; %d suppressed", s.Suppressed)
	}
	if s.Failed > 0 {
		line += fmt.Sprintf("; %d not diagnosed", s.Failed)
	}
	return line
}

// writeFleetMarkdown is each cluster's checklist, then the fleet's table.
func writeFleetMarkdown(w io.Writer, f *report.FleetReport, opts Options) error {
	for _, run := range f.Clusters {
		if run.Report == nil {
			text := "# kubectl alertmend: context " + markdownText(TerminalSafe(run.Context)) + "\n\n**Not diagnosed:** " +
				markdownText(TerminalSafe(run.Error)) + "\n\n"
			if _, err := io.WriteString(w, text); err != nil {
				return err
			}
			continue
		}
		if err := writeMarkdown(w, run.Report, clusterOptions(run, opts)); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	var b strings.Builder
	b.WriteString("# Fleet\n\n**" + FleetSummaryLine(f) + "**\n\n")
	b.WriteString("| " + strings.Join(fleetHeader(), " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", len(fleetHeader())) + "\n")
	for _, run := range f.Clusters {
		cells := fleetRow(run)
		for i := range cells {
			cells[i] = markdownText(TerminalSafe(cells[i]))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFleetPrometheus merges the clusters' metrics into one exposition: each family once, its
// samples labelled with their cluster, and alertmend_cluster_error telling which clusters
// could not be diagnosed.
func writeFleetPrometheus(w io.Writer, f *report.FleetReport, opts Options) error {
	var order []string
	merged := map[string]*dto.MetricFamily{}
	for _, run := range f.Clusters {
		if run.Report == nil {
			continue
		}
		for _, mf := range MetricFamilies(run.Report, clusterOptions(run, opts)) {
			into := merged[mf.GetName()]
			if into == nil {
				into = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type}
				merged[mf.GetName()] = into
				order = append(order, mf.GetName())
			}
			for _, m := range mf.Metric {
				m = proto.Clone(m).(*dto.Metric)
				m.Label = append(m.Label, &dto.LabelPair{Name: proto.String("cluster"), Value: proto.String(run.Context)})
				slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
				into.Metric = append(into.Metric, m)
			}
		}
	}
	clusterError := family("alertmend_cluster_error", "1 if the cluster could not be diagnosed in this run (its other series are then absent), else 0.")
	for _, run := range f.Clusters {
		value := 0.0
		if run.Report == nil {
			value = 1
		}
		clusterError.Metric = append(clusterError.Metric, gauge(value, "cluster", run.Context))
	}
	encoder := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, name := range order {
		if err := encoder.Encode(merged[name]); err != nil {
			return err
		}
	}
	return encoder.Encode(clusterError)
}
