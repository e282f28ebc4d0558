package render

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// sampleFleet is two clusters diagnosed (one of them the sample report) and one that was not.
func sampleFleet() *report.FleetReport {
	quiet := sampleReport()
	quiet.Metadata.Context, quiet.Metadata.Server = "staging", "https://127.0.0.2:6443"
	quiet.Findings, quiet.NotEvaluated = quiet.Findings[2:], nil
	quiet.Summary = report.Summary{Low: 1, ChecksRun: 8}
	return report.NewFleetReport(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), "", []report.ClusterRun{
		{Context: "prod-eu", Report: sampleReport(), ExitCode: report.ExitGateFailed, DurationSeconds: 1.5},
		{Context: "prod-us", Error: "cannot reach the Kubernetes API server at https://127.0.0.3:6443 (context prod-us): connection refused", ExitCode: report.ExitError},
		{Context: "staging", Report: quiet, ExitCode: report.ExitOK, DurationSeconds: 0.25},
	})
}

func TestFleetGolden(t *testing.T) {
	for _, f := range []Format{Pretty, Table, Markdown, JSON, Prometheus} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteFleet(&buf, sampleFleet(), f, Options{Color: false, ToolVersion: "v1.2.3"}); err != nil {
				t.Fatal(err)
			}
			assertGolden(t, "fleet."+string(f)+".golden", buf.Bytes())
		})
	}
}

func TestFleetPrometheusParsesBack(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFleet(&buf, sampleFleet(), Prometheus, Options{}); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	values := map[string]float64{}
	for _, name := range []string{"alertmend_checks_run", "alertmend_cluster_error", "alertmend_run_duration_seconds"} {
		for _, m := range families[name].GetMetric() {
			var cluster string
			for _, l := range m.GetLabel() {
				if l.GetName() == "cluster" {
					cluster = l.GetValue()
				}
			}
			values[name+" "+cluster] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"alertmend_checks_run prod-eu": 7, "alertmend_checks_run staging": 8,
		"alertmend_cluster_error prod-eu": 0, "alertmend_cluster_error prod-us": 1, "alertmend_cluster_error staging": 0,
		"alertmend_run_duration_seconds prod-eu": 1.5, "alertmend_run_duration_seconds staging": 0.25,
	}
	if len(values) != len(want) {
		t.Errorf("series %v, want %v", values, want)
	}
	for k, v := range want {
		if got, ok := values[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
}

func TestFleetFormats(t *testing.T) {
	for _, f := range []Format{Sarif, JUnit} {
		if err := WriteFleet(&bytes.Buffer{}, sampleFleet(), f, Options{}); err == nil {
			t.Errorf("-o %s wrote a fleet", f)
		}
	}
	var plain, coloured bytes.Buffer
	if err := WriteFleet(&plain, sampleFleet(), Table, Options{Color: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("the table has colour codes")
	}
	if err := WriteFleet(&coloured, sampleFleet(), Pretty, Options{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(coloured.String(), "\x1b[") {
		t.Errorf("pretty output with colour on has no colour")
	}
	// A context name is the kubeconfig's, so anything the user typed: it must not drive the terminal.
	fleet := sampleFleet()
	fleet.Clusters[1].Context = "evil\x1b]0;title\x07"
	var out bytes.Buffer
	if err := WriteFleet(&out, fleet, Table, Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out.String(), "\x1b\x07") {
		t.Errorf("control characters reached the terminal:\n%q", out.String())
	}
}
