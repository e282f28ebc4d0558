//go:build e2e

package collect

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/internal/promtest"
	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The whole probe, end to end: Prometheus through the service proxy for the node it knows, a real
// node_exporter through the pod proxy for the next, scraped twice because its counters moved, and
// the third node's failure kept as the reason it is not measured.
func TestCollectConntrackFromPrometheusAndARealNodeExporter(t *testing.T) {
	ctx := context.Background()
	exporter := testcluster.RunNodeExporter(t, testcluster.ConntrackState{Entries: 125000, Max: 131072, Drop: []int{7, 2}, InsertFailed: []int{3, 1}})
	exporterURL, _ := url.Parse(exporter.URL)

	prom := promtest.New()
	prom.Answer(metricConntrackEntries, promtest.Series{Labels: map[string]string{"instance": "node-a", "job": "node-exporter"}, Value: 40000})
	prom.Answer(metricConntrackLimit, promtest.Series{Labels: map[string]string{"instance": "node-a", "job": "node-exporter"}, Value: 131072})
	for _, q := range conntrackQueries()[2:] {
		prom.Answer(q)
	}
	server, log := fakeCluster(t, http.StripPrefix("/api/v1/namespaces/monitoring/services/http:prometheus-k8s:9090/proxy", prom), exporterURL, func() {
		// Between the two scrapes the kernel drops 50 more packets.
		if err := exporter.SetConntrack(testcluster.ConntrackState{Entries: 126000, Max: 131072, Drop: []int{57, 2}, InsertFailed: []int{3, 1}}); err != nil {
			t.Error(err)
		}
	})
	config := &rest.Config{Host: server.URL}
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []snapshot.Kind{snapshot.KindConntrack, snapshot.KindNodes, snapshot.KindPods, snapshot.KindServices}
	snap, err := Collect(ctx, Clients{Kube: kube, Config: config}, kinds, Options{ConntrackResample: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if reason, blind := snap.Unavailable[snapshot.KindConntrack]; blind {
		t.Fatalf("conntrack unavailable: %s", reason)
	}
	ct := snap.Conntrack
	if len(ct.Nodes) != 2 {
		t.Fatalf("measured %+v", ct.Nodes)
	}
	a, b := ct.Nodes[0], ct.Nodes[1]
	if a.Node != "node-a" || a.Entries != 40000 || !strings.Contains(a.Source, "prometheus-k8s") {
		t.Errorf("node-a from Prometheus: %+v", a)
	}
	if b.Node != "node-b" || b.Entries != 126000 || b.Limit != 131072 || b.Counters == nil || b.Counters.Drop != 9 ||
		b.Rates == nil || b.Rates.Drop <= 0 || b.Rates.InsertFailed != 0 || !strings.Contains(b.Source, "node-exporter-b") {
		t.Errorf("node-b from its node-exporter pod: %+v counters %+v rates %+v", b, b.Counters, b.Rates)
	}
	if len(ct.Sources) != 2 || !slices.ContainsFunc(ct.Unused, func(u string) bool {
		return strings.Contains(u, "node-c") && strings.Contains(u, "connection refused")
	}) {
		t.Errorf("sources %q unused %q", ct.Sources, ct.Unused)
	}
	if len(log.matching("node-exporter-a")) != 0 {
		t.Errorf("node-a, measured by Prometheus, was scraped too: %q", log.matching("node-exporter-a"))
	}
	if got := log.matching("node-exporter-b"); len(got) != 2 || !strings.Contains(got[0], "collect%5B%5D=conntrack") {
		t.Errorf("node-b's exporter must be scraped twice for its conntrack collector only: %q", got)
	}
	for _, r := range log.matching("") {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("non-read request %s", r)
		}
	}
}

// On the real API server: a Prometheus Service without endpoints and a node-exporter pod on a
// loopback address are both refused, and the reasons say so.
func TestConntrackOnTheRealServerIsUnavailableWithReasons(t *testing.T) {
	ctx := context.Background()
	err := testcluster.Apply(ctx, cluster.Config, []byte(`
apiVersion: v1
kind: Node
metadata: {name: conntrack-node}
status:
  addresses: [{type: InternalIP, address: 127.0.0.41}]
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: v1
kind: Service
metadata: {name: prometheus-k8s, namespace: monitoring, labels: {app.kubernetes.io/name: prometheus}}
spec:
  clusterIP: 127.0.100.90
  selector: {app.kubernetes.io/name: prometheus}
  ports: [{name: web, port: 9090}]
---
apiVersion: v1
kind: Pod
metadata: {name: node-exporter-conntrack, namespace: monitoring, labels: {app.kubernetes.io/name: node-exporter}}
spec:
  nodeName: conntrack-node
  hostNetwork: true
  containers: [{name: node-exporter, image: quay.io/prometheus/node-exporter:v1.12.1, ports: [{name: metrics, containerPort: 9100}]}]
status: {phase: Running, podIP: 127.0.0.41, podIPs: [{ip: 127.0.0.41}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	log := &requestLog{}
	clients := client(t, cluster.Config, log)
	kinds := []snapshot.Kind{snapshot.KindConntrack, snapshot.KindNodes, snapshot.KindPods, snapshot.KindServices}
	snap, err := Collect(ctx, clients, kinds, Options{})
	if err != nil {
		t.Fatalf("a blind probe must not fail the collection: %v", err)
	}
	reason := snap.Unavailable[snapshot.KindConntrack]
	for _, want := range []string{"Prometheus Service monitoring/prometheus-k8s (through the API server's service proxy): " +
		"the API server's service proxy answered 503: no endpoints available", "node-exporter-conntrack:9100/proxy/metrics: address not allowed"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason lacks %q: %s", want, reason)
		}
	}
	t.Logf("reason: %s", reason)
	for _, r := range log.matching("") {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("non-read request %s", r)
		}
	}
}

// When the second scrape fails, the first one's counters stand (drops since boot), the rates stay
// unknown, and the failure is told.
func TestConntrackSecondScrapeFailureIsTold(t *testing.T) {
	ctx := context.Background()
	exporter := testcluster.RunNodeExporter(t, testcluster.ConntrackState{Entries: 1000, Max: 131072, InsertFailed: []int{5}})
	exporterURL, _ := url.Parse(exporter.URL)
	server, _ := fakeCluster(t, http.NotFoundHandler(), exporterURL, exporter.Stop)
	config := &rest.Config{Host: server.URL}
	kube, _ := kubernetes.NewForConfig(config)
	kinds := []snapshot.Kind{snapshot.KindConntrack}
	snap, err := Collect(ctx, Clients{Kube: kube, Config: config}, kinds, Options{ConntrackResample: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Conntrack == nil || len(snap.Conntrack.Nodes) != 1 {
		t.Fatalf("measured %+v (unavailable %v)", snap.Conntrack, snap.Unavailable)
	}
	b := snap.Conntrack.Nodes[0]
	if b.Node != "node-b" || b.Counters == nil || b.Counters.InsertFailed != 5 || b.Rates != nil {
		t.Errorf("node-b: %+v counters %+v rates %+v", b, b.Counters, b.Rates)
	}
	if !slices.ContainsFunc(snap.Conntrack.Unused, func(u string) bool { return strings.Contains(u, "the second scrape") }) {
		t.Errorf("unused %q", snap.Conntrack.Unused)
	}
}

// Ctrl-C while Prometheus is being asked ends the collection with the cancellation, not with a
// snapshot that would be reported as if whole; a deadline that passed before the measurement
// leaves conntrack not evaluated, saying so.
func TestConntrackInterruptedOrPastTheDeadline(t *testing.T) {
	config := cluster.Config
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []snapshot.Kind{snapshot.KindConntrack, snapshot.KindNodes}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prometheus := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel() // the user presses Ctrl-C while the query is in flight
		<-r.Context().Done()
	}))
	defer prometheus.Close()
	if _, err := Collect(ctx, Clients{Kube: kube, Config: config}, kinds, Options{PrometheusURL: prometheus.URL}); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted during the measurement: err %v, want context.Canceled", err)
	}

	// The deadline passes while the nodes are read: the pods were, and nothing after the lists is attempted.
	late, stopLate := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer stopLate()
	slowNodes := clientsWithDelay(t, config, "/api/v1/nodes", time.Minute)
	snap, err := Collect(late, slowNodes, append(kinds, snapshot.KindPods), Options{PrometheusURL: prometheus.URL})
	if err != nil {
		t.Fatalf("a deadline is not a failure of the run: %v", err)
	}
	if got := snap.Unavailable[snapshot.KindConntrack]; got != "not read before the run's deadline (--timeout)" {
		t.Errorf("conntrack after the deadline: %q", got)
	}
}

// clientsWithDelay are clients of config whose requests for path wait delay first.
func clientsWithDelay(t *testing.T, config *rest.Config, path string, delay time.Duration) Clients {
	t.Helper()
	slow := rest.CopyConfig(config)
	slow.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path != path {
				return rt.RoundTrip(r)
			}
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
			return rt.RoundTrip(r)
		})
	})
	kube, err := kubernetes.NewForConfig(slow)
	if err != nil {
		t.Fatal(err)
	}
	return Clients{Kube: kube, Config: slow}
}
