package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	"github.com/alertmend/kubectl-alertmend/pkg/watch"
)

var (
	at      = time.Date(2026, 12, 8, 1, 30, 0, 0, time.UTC)
	catalog = []check.Meta{
		{ID: "pod-crashloop", Category: check.CategoryWorkloads, Severity: check.Critical},
		{ID: "no-memory-limit", Category: check.CategoryResources, Severity: check.Low},
		{ID: "rbac-wildcard", Category: check.CategoryRBAC, Severity: check.High},
		{ID: "node-pressure", Category: check.CategoryResources, Severity: check.High},
	}
)

func finding(id string, category check.Category, severity check.Severity, pod string) check.Finding {
	return check.Finding{Check: id, Category: category, Severity: severity, Title: id, Message: id + " on " + pod,
		Objects: []snapshot.Ref{snapshot.RefTo(snapshot.KindPods, "shop", pod)}, Scope: check.ScopeObject}
}

// incident is an evaluation during an incident: two pods crash looping, one without a memory
// limit, and a check that could not read nodes.
func incident() watch.Evaluation {
	return watch.Evaluation{
		At: at,
		Report: &report.Report{
			APIVersion: report.APIVersion, Kind: report.Kind,
			Metadata: report.Metadata{Source: "cluster", Context: "in-cluster", GeneratedAt: at.Add(1500 * time.Millisecond)},
			Summary:  report.Summary{Critical: 2, Low: 1, ChecksRun: 3, NotEvaluated: 1},
			Findings: []check.Finding{
				finding("pod-crashloop", check.CategoryWorkloads, check.Critical, "cart-1"),
				finding("pod-crashloop", check.CategoryWorkloads, check.Critical, "cart-2"),
				finding("no-memory-limit", check.CategoryResources, check.Low, "debug"),
			},
			NotEvaluated: []report.NotEvaluated{{Check: "node-pressure", Reason: `cannot list resource "nodes": forbidden`, Code: report.CouldNotSee}},
		},
		Options: render.Options{Catalog: catalog, ToolVersion: "v1.2.3", Duration: 1500 * time.Millisecond},
	}
}

// resolved is the next evaluation: the crash loops are gone.
func resolved() watch.Evaluation {
	e := incident()
	e.At = at.Add(time.Minute)
	e.Report.Metadata.GeneratedAt = e.At.Add(time.Second)
	e.Report.Findings = e.Report.Findings[2:]
	e.Report.Summary.Critical = 0
	return e
}

// scrape asks h for path with an Accept header ("" for none).
func scrape(t *testing.T, h http.Handler, path, accept string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// series reads /metrics with Prometheus' own text parser, as "name{label=value,...}" → value.
func series(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := scrape(t, h, "/metrics", "")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d, Content-Type %q\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	families, err := parse(rec.Body)
	if err != nil {
		t.Fatalf("/metrics is not valid exposition: %v", err)
	}
	return flatten(t, slices.Collect(maps.Values(families)))
}

// parse reads exposition text with Prometheus' own parser.
func parse(r io.Reader) (map[string]*dto.MetricFamily, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(r)
}

func flatten(t *testing.T, families []*dto.MetricFamily) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, mf := range families {
		if mf.GetHelp() == "" {
			t.Errorf("%s has no help", mf.GetName())
		}
		for _, m := range mf.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			value := m.GetGauge().GetValue()
			if mf.GetType() == dto.MetricType_COUNTER {
				value = m.GetCounter().GetValue()
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = value
		}
	}
	return out
}

// asPrometheus is what -o prometheus writes for the evaluation, read back the same way.
func asPrometheus(t *testing.T, e watch.Evaluation) map[string]float64 {
	t.Helper()
	var buf bytes.Buffer
	if err := render.Write(&buf, e.Report, render.Prometheus, e.Options); err != nil {
		t.Fatal(err)
	}
	families, err := parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return flatten(t, slices.Collect(maps.Values(families)))
}

func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	return New(listener, opts)
}

// Before the first evaluation only the server's own count is served, and the pod is not ready.
func TestBeforeTheFirstEvaluation(t *testing.T) {
	s := newServer(t, Options{})
	if got, want := series(t, s.Handler()), map[string]float64{"alertmend_watch_evaluations_total{}": 0}; !maps.Equal(got, want) {
		t.Errorf("/metrics before any evaluation: %v, want %v", got, want)
	}
	if rec := scrape(t, s.Handler(), "/readyz", ""); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before any evaluation: %d %s", rec.Code, rec.Body)
	}
	if rec := scrape(t, s.Handler(), "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("/healthz: %d %s", rec.Code, rec.Body)
	}
}

// /metrics serves what -o prometheus writes for the latest evaluation, and the watch's own
// families; a finding that resolves leaves its check's series at 0 and its severity series gone.
func TestMetricsFollowTheEvaluations(t *testing.T) {
	s := newServer(t, Options{})
	for i, e := range []watch.Evaluation{incident(), resolved()} {
		s.Observe(e)
		want := asPrometheus(t, e)
		want["alertmend_watch_evaluations_total{}"] = float64(i + 1)
		want["alertmend_watch_last_evaluation_timestamp_seconds{}"] = float64(e.At.Unix())
		if got := series(t, s.Handler()); !maps.Equal(got, want) {
			t.Errorf("evaluation %d: /metrics serves\n%v\nwant\n%v", i+1, got, want)
		}
		if rec := scrape(t, s.Handler(), "/readyz", ""); rec.Code != http.StatusOK {
			t.Errorf("/readyz after evaluation %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}

	// The same, spelled out for the findings, so that the comparison above cannot pass on two
	// empty sets.
	s = newServer(t, Options{})
	s.Observe(incident())
	got := series(t, s.Handler())
	for key, value := range map[string]float64{
		"alertmend_findings{category=workloads,check=pod-crashloop,severity=critical}":    2,
		"alertmend_findings{category=resources,check=no-memory-limit,severity=low}":       1,
		"alertmend_check_findings{category=workloads,check=pod-crashloop}":                2,
		"alertmend_check_findings{category=rbac,check=rbac-wildcard}":                     0,
		"alertmend_check_not_evaluated{category=resources,check=node-pressure}":           1,
		"alertmend_findings_by_severity{severity=critical}":                               2,
		"alertmend_run_info{context=in-cluster,namespace=,source=cluster,version=v1.2.3}": 1,
		"alertmend_watch_evaluations_total{}":                                             1,
		"alertmend_watch_last_evaluation_timestamp_seconds{}":                             float64(at.Unix()),
	} {
		if v, ok := got[key]; !ok || v != value {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, value)
		}
	}
	s.Observe(resolved())
	got = series(t, s.Handler())
	if v, ok := got["alertmend_check_findings{category=workloads,check=pod-crashloop}"]; !ok || v != 0 {
		t.Errorf("pod-crashloop after it resolved: %v (present %v), want 0", v, ok)
	}
	if v, ok := got["alertmend_findings{category=workloads,check=pod-crashloop,severity=critical}"]; ok {
		t.Errorf("pod-crashloop's critical series after it resolved: %v, want none", v)
	}
}

// What is served was made when the evaluation was observed: a report changed afterwards (the
// watch owns it) does not show.
func TestObserveKeepsNothingOfTheReport(t *testing.T) {
	s := newServer(t, Options{})
	e := incident()
	s.Observe(e)
	e.Report.Findings[0].Check = "changed-later"
	e.Report.Findings = append(e.Report.Findings[:1], finding("changed-later", check.CategoryWorkloads, check.High, "x"))
	e.Report.Summary.ChecksRun = 99
	if got, want := series(t, s.Handler()), asPrometheus(t, incident()); got["alertmend_checks_run{}"] != 3 ||
		got["alertmend_findings{category=workloads,check=pod-crashloop,severity=critical}"] != want["alertmend_findings{category=workloads,check=pod-crashloop,severity=critical}"] {
		t.Errorf("/metrics changed with the report after Observe:\n%v", got)
	}
}

func TestPaths(t *testing.T) {
	s := newServer(t, Options{})
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodGet, "/metrics/x", http.StatusNotFound},
		{http.MethodGet, "/debug/pprof/", http.StatusNotFound},
		{http.MethodHead, "/healthz", http.StatusOK},
		{http.MethodPost, "/metrics", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/readyz", http.StatusMethodNotAllowed},
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.code)
		}
	}
}

// A scraper that asks for protobuf or OpenMetrics gets it, with the same samples.
func TestContentNegotiation(t *testing.T) {
	s := newServer(t, Options{})
	s.Observe(incident())
	text := series(t, s.Handler())

	rec := scrape(t, s.Handler(), "/metrics", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	format := expfmt.ResponseFormat(rec.Header())
	if format.FormatType() != expfmt.TypeProtoDelim {
		t.Fatalf("asked for protobuf, got Content-Type %q", rec.Header().Get("Content-Type"))
	}
	var families []*dto.MetricFamily
	decoder := expfmt.NewDecoder(rec.Body, format)
	for {
		mf := &dto.MetricFamily{}
		if err := decoder.Decode(mf); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		families = append(families, mf)
	}
	if got := flatten(t, families); !maps.Equal(got, text) {
		t.Errorf("protobuf: %v\ntext: %v", got, text)
	}

	rec = scrape(t, s.Handler(), "/metrics", "application/openmetrics-text;version=1.0.0")
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/openmetrics-text") || !strings.HasSuffix(rec.Body.String(), "# EOF\n") ||
		!strings.Contains(rec.Body.String(), "\nalertmend_watch_evaluations_total 1") {
		t.Errorf("OpenMetrics: Content-Type %q\n%s", rec.Header().Get("Content-Type"), rec.Body)
	}
}

// The providers' families are served beside the report's; one that takes a name already served
// is left out and said so, and the scrape still succeeds.
func TestExtraFamilies(t *testing.T) {
	var log bytes.Buffer
	sender := func() []*dto.MetricFamily {
		return []*dto.MetricFamily{{Name: proto.String("alertmend_alertmanager_sends_failed_total"), Help: proto.String("Failed sends."),
			Type: dto.MetricType_COUNTER.Enum(), Metric: []*dto.Metric{{
				Label:   []*dto.LabelPair{{Name: proto.String("url"), Value: proto.String("http://127.0.0.1:9093")}},
				Counter: &dto.Counter{Value: proto.Float64(3)}}}}}
	}
	clash := func() []*dto.MetricFamily {
		return []*dto.MetricFamily{{Name: proto.String("alertmend_checks_run"), Help: proto.String("Something else."),
			Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(42)}}}}}
	}
	s := newServer(t, Options{Extra: []func() []*dto.MetricFamily{sender, clash}, ErrorLog: &log})
	before := series(t, s.Handler())
	if before["alertmend_alertmanager_sends_failed_total{url=http://127.0.0.1:9093}"] != 3 || len(before) != 3 {
		t.Errorf("before the first evaluation: %v, want the evaluations count, the sender's and the other provider's", before)
	}
	log.Reset()
	s.Observe(incident())
	got := series(t, s.Handler())
	if got["alertmend_alertmanager_sends_failed_total{url=http://127.0.0.1:9093}"] != 3 || got["alertmend_checks_run{}"] != 3 {
		t.Errorf("/metrics: %v", got)
	}
	if line := log.String(); !strings.HasPrefix(line, "--listen /metrics: ") || !strings.Contains(line, "alertmend_checks_run") ||
		strings.Count(line, "\n") != 1 {
		t.Errorf("the clash was reported as %q, want one line naming the family", line)
	}
}

// Scrapes during evaluations each see one whole evaluation: the watch's count and the report's
// checks_run (set to the evaluation's number here) always agree. Run with -race.
func TestConcurrentObserveAndScrape(t *testing.T) {
	s := newServer(t, Options{})
	const evaluations, scrapers = 200, 4
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, scrapers)
	for range scrapers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				rec := scrape(t, s.Handler(), "/metrics", "")
				families, err := parse(rec.Body)
				if err != nil {
					errs <- err
					return
				}
				count := families["alertmend_watch_evaluations_total"].GetMetric()[0].GetCounter().GetValue()
				if run := families["alertmend_checks_run"]; count > 0 && (run == nil || run.GetMetric()[0].GetGauge().GetValue() != count) {
					errs <- fmt.Errorf("evaluation %v served with checks_run %v", count, run.GetMetric())
					return
				}
			}
		})
	}
	for i := 1; i <= evaluations; i++ {
		e := incident()
		e.Report.Summary.ChecksRun = i
		s.Observe(e)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := series(t, s.Handler())["alertmend_watch_evaluations_total{}"]; got != evaluations {
		t.Errorf("evaluations_total %v after %d evaluations", got, evaluations)
	}
}

// Serve answers on its listener until the context ends; then it refuses new connections, lets
// a scrape in flight finish, and returns nil.
func TestServeUntilTheContextEnds(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := func() []*dto.MetricFamily {
		once.Do(func() { close(entered); <-release })
		return nil
	}
	s := newServer(t, Options{Extra: []func() []*dto.MetricFamily{slow}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	base := "http://" + s.Addr().String()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}

	type answer struct {
		code int
		body string
		err  error
	}
	inFlight := make(chan answer, 1)
	go func() {
		resp, err := client.Get(base + "/metrics")
		if err != nil {
			inFlight <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		inFlight <- answer{resp.StatusCode, string(body), err}
	}()
	<-entered
	cancel()
	// Shutdown closes the listener first, then waits for the scrape.
	for {
		conn, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			break
		}
		conn.Close()
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if a := <-inFlight; a.err != nil || a.code != http.StatusOK || !strings.Contains(a.body, "alertmend_watch_evaluations_total 0") {
		t.Errorf("the scrape in flight at shutdown: %d, %v\n%s", a.code, a.err, a.body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// A listener that fails ends Serve with the error, without waiting for the context.
func TestServeReportsAFailedListener(t *testing.T) {
	s := newServer(t, Options{})
	s.listener.Close()
	if err := s.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), s.Addr().String()) {
		t.Errorf("Serve on a closed listener: %v", err)
	}
}
