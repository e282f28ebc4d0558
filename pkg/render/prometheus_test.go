package render

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// series reads exposition text back with Prometheus' own parser, as "name{label=value,...}" → value.
func series(t *testing.T, text []byte) map[string]float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("not valid exposition: %v\n%s", err, text)
	}
	out := map[string]float64{}
	for name, mf := range families {
		if mf.GetType() != dto.MetricType_GAUGE || mf.GetHelp() == "" {
			t.Errorf("%s: type %v, help %q", name, mf.GetType(), mf.GetHelp())
		}
		for _, m := range mf.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out[name+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestPrometheusExposition(t *testing.T) {
	opts := triageOptions()
	opts.Duration = 1500 * time.Millisecond
	out := renderBytes(t, triageReport(), Prometheus, opts)
	assertGolden(t, "triage.prometheus.golden", out)
	got := series(t, out)

	want := map[string]float64{
		// Every check that ran has a series, zero included; the ones not evaluated have none.
		"alertmend_check_findings{category=workloads,check=pod-crashloop}":             1,
		"alertmend_check_findings{category=resources,check=no-memory-limit}":           1,
		"alertmend_check_findings{category=rbac,check=rbac-wildcard}":                  0,
		"alertmend_check_findings{category=workloads,check=configmap-note}":            1,
		"alertmend_findings{category=workloads,check=pod-crashloop,severity=critical}": 1,
		"alertmend_check_not_evaluated{category=resources,check=node-pressure}":        1,
		"alertmend_findings_by_severity{severity=critical}":                            1,
		"alertmend_findings_by_severity{severity=info}":                                1,
		"alertmend_findings_suppressed{}":                                              1,
		"alertmend_run_duration_seconds{}":                                             1.5,
		"alertmend_run_timestamp_seconds{}":                                            float64(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC).Unix()),
		"alertmend_run_info{context=,namespace=shop,source=manifests,version=v1.2.3}":  1,
	}
	for key, value := range want {
		if v, ok := got[key]; !ok || v != value {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, value)
		}
	}
	for key := range got {
		if strings.HasPrefix(key, "alertmend_check_findings{") && strings.Contains(key, "check=node-pressure") {
			t.Errorf("a check that was not evaluated has a findings series: %s", key)
		}
	}
	// One findings-by-check series per catalog check that ran, and per check with findings.
	ran := 1 // configmap-note, which has a finding and is not in the catalog
	for _, m := range triageCatalog() {
		if m.ID != "node-pressure" && m.ID != "dns-latency" {
			ran++
		}
	}
	checkSeries := slices.DeleteFunc(slices.Collect(maps.Keys(got)), func(k string) bool { return !strings.HasPrefix(k, "alertmend_check_findings{") })
	if len(checkSeries) != ran {
		t.Errorf("%d alertmend_check_findings series, want %d: %q", len(checkSeries), ran, checkSeries)
	}
}
