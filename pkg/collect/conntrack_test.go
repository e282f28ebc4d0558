package collect

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/internal/promtest"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// nodeExporterPage is node_exporter 1.x's conntrack collector output, as a pod serves it.
const nodeExporterPage = `# HELP node_nf_conntrack_entries Number of currently allocated flow entries for connection tracking.
# TYPE node_nf_conntrack_entries gauge
node_nf_conntrack_entries 98000
# HELP node_nf_conntrack_entries_limit Maximum size of connection tracking table.
# TYPE node_nf_conntrack_entries_limit gauge
node_nf_conntrack_entries_limit 131072
# HELP node_nf_conntrack_stat_drop Number of packets dropped due to conntrack failure.
# TYPE node_nf_conntrack_stat_drop gauge
node_nf_conntrack_stat_drop 9
# HELP node_nf_conntrack_stat_early_drop Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.
# TYPE node_nf_conntrack_stat_early_drop gauge
node_nf_conntrack_stat_early_drop 0
# HELP node_nf_conntrack_stat_insert_failed Number of entries for which list insertion was attempted but failed.
# TYPE node_nf_conntrack_stat_insert_failed gauge
node_nf_conntrack_stat_insert_failed 4
# HELP node_scrape_collector_success node_exporter: Whether a collector succeeded.
# TYPE node_scrape_collector_success gauge
node_scrape_collector_success{collector="conntrack"} 1
`

func TestParseConntrackMetrics(t *testing.T) {
	var n snapshot.ConntrackNode
	if err := parseConntrackMetrics([]byte(nodeExporterPage), &n); err != nil {
		t.Fatal(err)
	}
	want := snapshot.ConntrackCounters{Drop: 9, InsertFailed: 4}
	if n.Entries != 98000 || n.Limit != 131072 || n.Counters == nil || *n.Counters != want {
		t.Errorf("parsed %+v counters %+v", n, n.Counters)
	}
	// An older node_exporter without the stat counters: usage known, drops not.
	var old snapshot.ConntrackNode
	if err := parseConntrackMetrics([]byte("node_nf_conntrack_entries 10\nnode_nf_conntrack_entries_limit 100\n"), &old); err != nil ||
		old.Counters != nil || old.Limit != 100 {
		t.Errorf("older exporter: %+v %v", old, err)
	}
	if err := parseConntrackMetrics([]byte("node_load1 0.5\n"), &old); err == nil || !strings.Contains(err.Error(), "no node_nf_conntrack_entries") {
		t.Errorf("a page without the table: %v", err)
	}
	if err := parseConntrackMetrics([]byte("node_nf_conntrack_entries{ 1\n"), &old); err == nil || !strings.Contains(err.Error(), "do not parse") {
		t.Errorf("malformed page: %v", err)
	}
}

func TestGetOnlyLetsNothingButGETOut(t *testing.T) {
	var sent []string
	next := roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		sent = append(sent, req.Method)
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(""))}, nil
	})
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		req := httptest.NewRequest(method, "http://127.0.0.1:9090/api/v1/query", strings.NewReader("query=up"))
		resp, err := getOnly{next: next}.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 200, false: 405}[method == http.MethodGet]; resp.StatusCode != want {
			t.Errorf("%s answered %d, want %d", method, resp.StatusCode, want)
		}
	}
	if !slices.Equal(sent, []string{http.MethodGet}) {
		t.Errorf("sent %v", sent)
	}
}

func TestPrometheusServicesAreFoundAndExportersAreNot(t *testing.T) {
	svc := func(ns, name string, labels map[string]string, ports ...corev1.ServicePort) corev1.Service {
		return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Spec: corev1.ServiceSpec{Ports: ports}}
	}
	web := corev1.ServicePort{Name: "web", Port: 9090}
	services := []corev1.Service{
		svc("monitoring", "prometheus-node-exporter", map[string]string{"app.kubernetes.io/name": "prometheus-node-exporter"}, corev1.ServicePort{Name: "metrics", Port: 9100}),
		svc("monitoring", "alertmanager-main", map[string]string{"app.kubernetes.io/name": "alertmanager"}, corev1.ServicePort{Name: "web", Port: 9093}),
		svc("monitoring", "prometheus-operator", map[string]string{"app.kubernetes.io/name": "prometheus-operator"}, corev1.ServicePort{Name: "https", Port: 8443}),
		svc("observability", "prometheus-server", map[string]string{"app": "prometheus", "component": "server"}, corev1.ServicePort{Name: "http", Port: 80}),
		svc("monitoring", "prometheus-k8s", map[string]string{"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/component": "prometheus"}, web,
			corev1.ServicePort{Name: "reloader-web", Port: 8080}),
		svc("monitoring", "prometheus-operated", map[string]string{"operated-prometheus": "true"}, web),
		svc("shop", "web", map[string]string{"app": "web"}, corev1.ServicePort{Name: "http", Port: 80}),
	}
	got := prometheusServices(services)
	want := []prometheusService{
		{"monitoring", "prometheus-operated", "http", "9090"},
		{"monitoring", "prometheus-k8s", "http", "9090"},
		{"observability", "prometheus-server", "http", "80"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("found %+v\nwant  %+v", got, want)
	}
}

// prometheusWithNodes is a Prometheus that scrapes node_exporter on three nodes, labelled three
// ways: by address (the default instance), by a node label, and by uname's nodename only.
func prometheusWithNodes() *promtest.API {
	api := promtest.New()
	series := func(instance string, extra map[string]string, value float64) promtest.Series {
		labels := map[string]string{"instance": instance, "job": "node-exporter"}
		for k, v := range extra {
			labels[k] = v
		}
		return promtest.Series{Labels: labels, Value: value}
	}
	api.Answer(metricConntrackEntries,
		series("127.0.0.11:9100", nil, 120000),
		series("127.0.0.11:9100", map[string]string{"job": "node-exporter-2"}, 119000), // scraped twice
		series("exporter-b", map[string]string{"node": "node-b"}, 1000),
		series("127.0.0.99:9100", nil, 5000),
		series("127.0.0.200:9100", nil, 7)) // a target of no node of this cluster
	api.Answer(metricConntrackLimit,
		series("127.0.0.11:9100", nil, 131072),
		series("exporter-b", map[string]string{"node": "node-b"}, 131072),
		series("127.0.0.99:9100", nil, 262144))
	api.Answer("rate(node_nf_conntrack_stat_drop[5m])", series("127.0.0.11:9100", nil, 2.5), series("exporter-b", map[string]string{"node": "node-b"}, 0))
	api.Answer("rate(node_nf_conntrack_stat_early_drop[5m])")
	api.Answer("rate(node_nf_conntrack_stat_insert_failed[5m])", series("127.0.0.99:9100", nil, 0.25))
	api.Answer(metricUnameInfo, series("127.0.0.99:9100", map[string]string{"nodename": "node-c"}, 1))
	return api
}

func threeNodes() []corev1.Node {
	node := func(name, address string) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: address}}}}
	}
	return []corev1.Node{node("node-a", "127.0.0.11"), node("node-b", "127.0.0.12"), node("node-c", "127.0.0.13")}
}

func TestQueryConntrackWithPrometheusClient(t *testing.T) {
	prom := prometheusWithNodes()
	server := httptest.NewServer(prom)
	t.Cleanup(server.Close)
	api, err := newPrometheusAPI(server.URL, http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	got, notes, err := queryConntrack(context.Background(), api, newNodeIndex(threeNodes()), "Prometheus")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(notes, []string{"Prometheus: series of 1 target match no node of this cluster and were left out: 127.0.0.200"}) {
		t.Errorf("notes %q", notes)
	}
	byNode := map[string]snapshot.ConntrackNode{}
	for _, n := range got {
		byNode[n.Node] = n
	}
	if a := byNode["node-a"]; a.Entries != 120000 || a.Limit != 131072 || a.Rates == nil || a.Rates.Drop != 2.5 || a.RateWindow != 5*time.Minute {
		t.Errorf("node-a (by address): %+v rates %+v", a, a.Rates)
	}
	if b := byNode["node-b"]; b.Entries != 1000 || b.Rates == nil || b.Rates.Any() {
		t.Errorf("node-b (by node label): %+v", b)
	}
	if c := byNode["node-c"]; c.Limit != 262144 || c.Rates == nil || c.Rates.InsertFailed != 0.25 {
		t.Errorf("node-c (by uname nodename): %+v", c)
	}
	if len(got) != 3 {
		t.Errorf("nodes %+v", got)
	}
	for _, m := range prom.Methods() {
		if m != http.MethodGet {
			t.Errorf("a %s reached Prometheus", m)
		}
	}
	if !slices.Contains(prom.Queries(), "rate(node_nf_conntrack_stat_insert_failed[5m])") {
		t.Errorf("queries %q", prom.Queries())
	}

	empty := httptest.NewServer(promtest.New())
	t.Cleanup(empty.Close)
	api, _ = newPrometheusAPI(empty.URL, http.DefaultTransport)
	if _, _, err := queryConntrack(context.Background(), api, newNodeIndex(nil), "Prometheus"); err == nil ||
		!strings.Contains(err.Error(), `unknown query "node_nf_conntrack_entries"`) {
		t.Errorf("Prometheus' error must be kept: %v", err)
	}
	noSeries := promtest.New()
	noSeries.Answer(metricConntrackEntries)
	noSeriesServer := httptest.NewServer(noSeries)
	t.Cleanup(noSeriesServer.Close)
	api, _ = newPrometheusAPI(noSeriesServer.URL, http.DefaultTransport)
	if _, _, err := queryConntrack(context.Background(), api, newNodeIndex(nil), "Prometheus"); err == nil ||
		!strings.Contains(err.Error(), "does not scrape node_exporter") {
		t.Errorf("no series: %v", err)
	}
}

// A rate query that fails leaves every node's rates unknown, never a zero, and says why; series
// of no node are never a measurement.
func TestQueryConntrackPartialAnswers(t *testing.T) {
	prom := prometheusWithNodes()
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Query().Get("query"), "early_drop") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"execution","error":"query timed out in expression evaluation"}`))
			return
		}
		prom.ServeHTTP(w, r)
	}))
	t.Cleanup(server.Close)
	api, _ := newPrometheusAPI(server.URL, http.DefaultTransport)
	got, notes, err := queryConntrack(context.Background(), api, newNodeIndex(threeNodes()), "Prometheus")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range got {
		if n.Rates != nil {
			t.Errorf("%s has rates %+v though one rate query failed", n.Node, n.Rates)
		}
	}
	if !slices.ContainsFunc(notes, func(n string) bool {
		return strings.Contains(n, "rate(node_nf_conntrack_stat_early_drop[5m]) failed, so drop rates are unknown: query timed out")
	}) {
		t.Errorf("notes %q", notes)
	}

	// Only targets of other clusters: no measurement at all.
	strangers := promtest.New()
	strangers.Answer(metricConntrackEntries, promtest.Series{Labels: map[string]string{"instance": "127.0.0.200:9100"}, Value: 1})
	for _, q := range conntrackQueries()[1:] {
		strangers.Answer(q)
	}
	strangerServer := httptest.NewServer(strangers)
	t.Cleanup(strangerServer.Close)
	api, _ = newPrometheusAPI(strangerServer.URL, http.DefaultTransport)
	if _, _, err := queryConntrack(context.Background(), api, newNodeIndex(threeNodes()), "Prometheus"); err == nil ||
		!strings.Contains(err.Error(), "match no node of this cluster (127.0.0.200)") {
		t.Errorf("strangers only: %v", err)
	}

	// Something that answers 200 without data is not Prometheus: an error, not a crash.
	for _, body := range []string{`{"status":"success"}`, `{}`} {
		empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		}))
		api, _ = newPrometheusAPI(empty.URL, http.DefaultTransport)
		if _, _, err := queryConntrack(context.Background(), api, newNodeIndex(nil), "Prometheus"); err == nil {
			t.Errorf("%s: no error", body)
		}
		empty.Close()
	}
}

// fakeCluster answers like the API server for what the conntrack probe reads: lists of nodes,
// pods and Services, a Prometheus behind the service proxy that knows node-a only, and the pod
// proxy, which reaches node-b's node-exporter (a real node_exporter) and fails for node-c's.
func fakeCluster(t *testing.T, prom http.Handler, exporter *url.URL, afterScrape func()) (*httptest.Server, *requestLog) {
	log := &requestLog{}
	exporterPod := func(name, node string) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "monitoring", Labels: map[string]string{"app.kubernetes.io/name": "node-exporter"}},
			Spec: corev1.PodSpec{NodeName: node, HostNetwork: true, Containers: []corev1.Container{{Name: "node-exporter",
				Image: "quay.io/prometheus/node-exporter:v1.12.1", Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9100}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		}
	}
	lists := map[string]any{
		"/api/v1/nodes": corev1.NodeList{Items: threeNodes()},
		"/api/v1/pods": corev1.PodList{Items: []corev1.Pod{exporterPod("node-exporter-a", "node-a"),
			exporterPod("node-exporter-b", "node-b"), exporterPod("node-exporter-c", "node-c")}},
		"/api/v1/services": corev1.ServiceList{Items: []corev1.Service{{
			ObjectMeta: metav1.ObjectMeta{Name: "prometheus-k8s", Namespace: "monitoring", Labels: map[string]string{"app.kubernetes.io/name": "prometheus"}},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "web", Port: 9090}}}}}},
	}
	proxy := httputil.NewSingleHostReverseProxy(exporter)
	proxy.ErrorLog = stdlog.New(io.Discard, "", 0)
	var once sync.Once
	mux := http.NewServeMux()
	for path, list := range lists {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(list)
		})
	}
	mux.Handle("/api/v1/namespaces/monitoring/services/http:prometheus-k8s:9090/proxy/", prom)
	mux.HandleFunc("/api/v1/namespaces/monitoring/pods/http:node-exporter-b:9100/proxy/metrics", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/metrics"
		proxy.ServeHTTP(w, r)
		once.Do(afterScrape)
	})
	mux.HandleFunc("/api/v1/namespaces/monitoring/pods/http:node-exporter-c:9100/proxy/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: "Failure", Message: "error trying to reach service: dial tcp 127.0.0.13:9100: connect: connection refused", Code: 503})
	})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.mu.Lock()
		log.requests = append(log.requests, r.Method+" "+r.URL.RequestURI())
		log.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(server.Close)
	return server, log
}

// Nothing to measure with: not evaluated, with every source's reason and how to fix it.
func TestConntrackWithoutSourcesSaysWhy(t *testing.T) {
	server, _ := fakeCluster(t, http.NotFoundHandler(), &url.URL{Scheme: "http", Host: "127.0.0.1:1"}, func() {})
	config := &rest.Config{Host: server.URL}
	kube, _ := kubernetes.NewForConfig(config)
	kinds := []snapshot.Kind{snapshot.KindConntrack, snapshot.KindNodes, snapshot.KindPods, snapshot.KindServices}
	snap, err := Collect(context.Background(), Clients{Kube: kube, Config: config}, kinds, Options{Namespace: ""})
	if err != nil {
		t.Fatal(err)
	}
	reason := snap.Unavailable[snapshot.KindConntrack]
	for _, want := range []string{"no source measured any node", "prometheus-k8s", "node-exporter on node node-c", "pass --prometheus-url"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason lacks %q: %s", want, reason)
		}
	}
	if snap.Conntrack != nil {
		t.Errorf("a blind probe leaves no measurement: %+v", snap.Conntrack)
	}
	if snap.Absent[snapshot.KindConntrack] {
		t.Error("sources that exist but did not answer are a blind spot, not an absence")
	}
}

// Only a run that sees no source of node metrics at all lacks the measurement by design.
func TestNoConntrackSourceMeansNothingInstalled(t *testing.T) {
	exporter := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "node-exporter-a", Labels: map[string]string{"app": "node-exporter"}}}
	plain := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1"}}
	cases := []struct {
		name   string
		pods   []corev1.Pod
		opts   Options
		unread snapshot.Kind
		want   bool
	}{
		{"nothing installed", []corev1.Pod{plain}, Options{}, "", true},
		{"a node-exporter pod", []corev1.Pod{plain, exporter}, Options{}, "", false},
		{"--prometheus-url", nil, Options{PrometheusURL: "http://127.0.0.1:9090"}, "", false},
		// -n looks in its namespace only: nothing there is nothing in the run.
		{"limited to a namespace", []corev1.Pod{plain}, Options{Namespace: "shop"}, "", true},
		{"limited to a namespace with a node-exporter pod", []corev1.Pod{exporter}, Options{Namespace: "shop"}, "", false},
		{"pods unreadable", nil, Options{}, snapshot.KindPods, false},
		{"services unreadable", nil, Options{}, snapshot.KindServices, false},
	}
	for _, tc := range cases {
		c := &collector{opts: tc.opts, snap: &snapshot.Snapshot{Pods: tc.pods, Unavailable: map[snapshot.Kind]string{}}}
		if tc.unread != "" {
			c.snap.Unavailable[tc.unread] = "forbidden"
		}
		if got := c.noConntrackSource(nil); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	found := &collector{snap: &snapshot.Snapshot{Unavailable: map[snapshot.Kind]string{}}}
	if found.noConntrackSource([]prometheusCandidate{{description: "prometheus-k8s"}}) {
		t.Error("a Prometheus found in the cluster is a source")
	}
}

// A node-exporter pod in its own network namespace sees its own table, not the node's.
func TestNodeExporterOffTheHostNetworkIsNotAMeasurement(t *testing.T) {
	pod := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "node-exporter-z", Namespace: "monitoring", Labels: map[string]string{"app": "node-exporter"}},
		Spec:       corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "node-exporter"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	c := &collector{snap: &snapshot.Snapshot{Pods: []corev1.Pod{pod}, Unavailable: map[snapshot.Kind]string{}}}
	found, why := c.scrapeNodeExporters(context.Background(), map[string]bool{})
	if len(found) != 0 || len(why) != 1 || !strings.Contains(why[0], "not on the host network") {
		t.Errorf("found %+v why %q", found, why)
	}
}

// Probes keep their items' order and never have more than maxProbesInFlight requests out.
func TestProbeEachIsBounded(t *testing.T) {
	items := make([]int, 200)
	for i := range items {
		items[i] = i
	}
	var inFlight, most atomic.Int64
	results := probeEach(items, func(i *int) int {
		now := inFlight.Add(1)
		for peak := most.Load(); now > peak && !most.CompareAndSwap(peak, now); peak = most.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		inFlight.Add(-1)
		return *i * 2
	})
	for i, r := range results {
		if r != i*2 {
			t.Fatalf("result %d is %d", i, r)
		}
	}
	if most.Load() > maxProbesInFlight || most.Load() < 2 {
		t.Errorf("%d probes at once, want between 2 and %d", most.Load(), maxProbesInFlight)
	}
}

// The metrics API not served is absent (nothing to install-check); served but not answering is
// a blind spot, since metrics-server is installed and down.
func TestMetricsAPIAbsentOrDown(t *testing.T) {
	metrics := schema.GroupResource{Group: "metrics.k8s.io", Resource: "pods"}
	for _, tc := range []struct {
		err        error
		wantAbsent bool
		want       string
	}{
		{apierrors.NewNotFound(metrics, ""), true, "not served: install metrics-server"},
		{apierrors.NewServiceUnavailable("no endpoints"), false, "registered but not answering"},
		{apierrors.NewForbidden(metrics, "", errors.New("no")), false, "forbidden"},
	} {
		reason, absent, ok := UnavailableReason(context.Background(), snapshot.KindPodMetrics, tc.err)
		if !ok || absent != tc.wantAbsent || !strings.Contains(reason, tc.want) {
			t.Errorf("%v: reason %q absent %v, want %q absent %v", tc.err, reason, absent, tc.want, tc.wantAbsent)
		}
	}
}
