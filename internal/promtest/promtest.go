// Package promtest serves Prometheus' HTTP query API on loopback for tests: instant queries
// answered from a table of series, so the tool's real Prometheus client can be exercised without
// a Prometheus server.
package promtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Series is one sample of an instant vector.
type Series struct {
	Labels map[string]string
	Value  float64
}

// API answers GET /api/v1/query for the queries in its table; any other query is an error, as
// Prometheus answers a query it cannot parse. It records every request's method and query.
type API struct {
	mu      sync.Mutex
	answers map[string][]Series
	methods []string
	queries []string
}

// New returns an API that knows no query yet.
func New() *API { return &API{answers: map[string][]Series{}} }

// Answer sets what query returns.
func (a *API) Answer(query string, series ...Series) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.answers[query] = append(a.answers[query], series...)
}

// AnswerFromExposition answers each metric's name with the samples of a metrics page in the text
// exposition format (node_exporter's output, say), labelled as Prometheus would label its
// target: with instance and job.
func (a *API) AnswerFromExposition(page []byte, instance string) error {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(page))
	if err != nil {
		return err
	}
	for name, family := range families {
		for _, m := range family.GetMetric() {
			labels := map[string]string{"__name__": name, "instance": instance, "job": "node-exporter"}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			value := m.GetUntyped().GetValue()
			switch {
			case m.Counter != nil:
				value = m.GetCounter().GetValue()
			case m.Gauge != nil:
				value = m.GetGauge().GetValue()
			}
			a.Answer(name, Series{Labels: labels, Value: value})
		}
	}
	return nil
}

// Methods lists the HTTP methods of the requests received, in order.
func (a *API) Methods() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.methods)
}

// Queries lists the queries received, in order.
func (a *API) Queries() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.queries)
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.methods = append(a.methods, r.Method)
	query := r.URL.Query().Get("query")
	a.queries = append(a.queries, query)
	series, known := a.answers[query]
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method != http.MethodGet:
		w.WriteHeader(http.StatusMethodNotAllowed)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": "only GET is served here"})
		return
	case !strings.HasSuffix(r.URL.Path, "/api/v1/query"):
		http.NotFound(w, r)
		return
	case !known:
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": "unknown query " + strconv.Quote(query)})
		return
	}
	type sample struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	result := []sample{}
	for _, s := range series {
		result = append(result, sample{Metric: s.Labels, Value: [2]any{1764064800.0, strconv.FormatFloat(s.Value, 'f', -1, 64)}})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": result}})
}
