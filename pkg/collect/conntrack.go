package collect

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/pkg/redact"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// DefaultConntrackResample is how long the collector waits before scraping a node-exporter pod a
// second time, when the first scrape shows drops since boot: long enough to see drops happening
// now at a rate worth an alarm, short enough not to hold up the diagnosis.
const DefaultConntrackResample = 2 * time.Second

// conntrackRateWindow is the PromQL range of the drop rates: kube-prometheus' own conntrack
// alerts look at five minutes.
const conntrackRateWindow = 5 * time.Minute

// node_exporter's conntrack collector exports these series.
const (
	metricConntrackEntries      = "node_nf_conntrack_entries"
	metricConntrackLimit        = "node_nf_conntrack_entries_limit"
	metricConntrackDrop         = "node_nf_conntrack_stat_drop"
	metricConntrackEarlyDrop    = "node_nf_conntrack_stat_early_drop"
	metricConntrackInsertFailed = "node_nf_conntrack_stat_insert_failed"
	metricUnameInfo             = "node_uname_info"
)

// conntrackContext are the kinds measureConntrack looks in; Collect lists them whenever conntrack
// is asked for.
func conntrackContext() []snapshot.Kind {
	return []snapshot.Kind{snapshot.KindNodes, snapshot.KindPods, snapshot.KindServices}
}

// measureConntrack reads every node's connection-tracking table from the sources that answer,
// best first: Prometheus (the flag's URL, or a Prometheus Service found in the snapshot, through
// the API server's service proxy), then the node-exporter pods of the nodes still unmeasured,
// through the pod proxy. It runs after the listing, on the pods, Services and nodes it read.
func (c *collector) measureConntrack(ctx context.Context) (*snapshot.Conntrack, error) {
	result := &snapshot.Conntrack{}
	nodes := newNodeIndex(c.snap.Nodes)
	measured := map[string]bool{}

	candidates, unused := c.prometheusCandidates()
	result.Unused = append(result.Unused, unused...)
	for _, candidate := range candidates {
		found, notes, err := queryConntrack(ctx, candidate.api, nodes, candidate.description)
		result.Unused = append(result.Unused, notes...)
		if err != nil {
			result.Unused = append(result.Unused, candidate.description+": "+err.Error())
			continue
		}
		result.Sources = append(result.Sources, candidate.description)
		for _, n := range found {
			measured[n.Node] = true
			result.Nodes = append(result.Nodes, n)
		}
		break
	}

	if nodes.known() && !slices.ContainsFunc(c.snap.Nodes, func(n corev1.Node) bool { return !measured[n.Name] }) {
		return result, nil
	}
	scraped, why := c.scrapeNodeExporters(ctx, measured)
	if len(scraped) > 0 {
		result.Sources = append(result.Sources, "node-exporter pods, through the API server's pod proxy")
		result.Nodes = append(result.Nodes, scraped...)
	}
	result.Unused = append(result.Unused, why...)

	if len(result.Nodes) == 0 {
		return nil, &blindError{absent: c.noConntrackSource(candidates), reason: "no source measured any node's connection-tracking table (" +
			strings.Join(result.Unused, "; ") + "). To measure it, pass --prometheus-url of a Prometheus that scrapes " +
			"node_exporter, or run node_exporter (its conntrack collector is on by default) as pods the API server's " +
			"pod proxy can reach"}
	}
	return result, nil
}

// noConntrackSource tells a run that has no source of node metrics at all (no Prometheus given
// or found, no node-exporter pod in what it read: the measurement does not apply to it) from one
// whose sources could not be read or did not answer. A run limited with -n looks in its
// namespace only: with no source there, the measurement does not apply to the run either.
func (c *collector) noConntrackSource(candidates []prometheusCandidate) bool {
	_, servicesUnread := c.snap.Unavailable[snapshot.KindServices]
	_, podsUnread := c.snap.Unavailable[snapshot.KindPods]
	if c.opts.PrometheusURL != "" || len(candidates) > 0 || servicesUnread || podsUnread {
		return false
	}
	return !slices.ContainsFunc(c.snap.Pods, func(p corev1.Pod) bool { return isNodeExporterPod(&p) })
}

// prometheusCandidate is one Prometheus to ask, in order of preference.
type prometheusCandidate struct {
	description string
	api         promv1.API
}

// prometheusCandidates is the --prometheus-url, or else the Prometheus Services found in the
// snapshot, reached through the API server's service proxy. unused says why there is none.
func (c *collector) prometheusCandidates() (candidates []prometheusCandidate, unused []string) {
	if address := c.opts.PrometheusURL; address != "" {
		// The label travels into reports and snapshot files: never with the URL's password.
		label := "Prometheus at " + redact.URL(address)
		api, err := newPrometheusAPI(address, http.DefaultTransport)
		if err != nil {
			return nil, []string{label + ": " + strings.ReplaceAll(err.Error(), address, redact.URL(address))}
		}
		return []prometheusCandidate{{description: label, api: api}}, nil
	}
	if reason, blind := c.snap.Unavailable[snapshot.KindServices]; blind {
		return nil, []string{"Prometheus: --prometheus-url not given, and Services could not be read to find one: " + reason}
	}
	services := prometheusServices(c.snap.Services)
	if len(services) == 0 {
		where := "in any namespace"
		if c.opts.Namespace != "" {
			where = "in namespace " + c.opts.Namespace + " (-n limits the search)"
		}
		return nil, []string{"Prometheus: --prometheus-url not given, and no Prometheus Service was found " + where}
	}
	if c.clients.Config == nil {
		return nil, []string{"Prometheus: no client for the API server's service proxy"}
	}
	transport, err := rest.TransportFor(c.clients.Config)
	if err != nil {
		return nil, []string{"Prometheus: " + err.Error()}
	}
	base, _, err := rest.DefaultServerUrlFor(c.clients.Config)
	if err != nil {
		return nil, []string{"Prometheus: " + err.Error()}
	}
	for _, svc := range services {
		description := fmt.Sprintf("Prometheus Service %s/%s (through the API server's service proxy)", svc.namespace, svc.name)
		address := strings.TrimRight(base.String(), "/") + fmt.Sprintf("/api/v1/namespaces/%s/services/%s:%s:%s/proxy",
			svc.namespace, svc.scheme, svc.name, svc.port)
		api, err := newPrometheusAPI(address, transport)
		if err != nil {
			unused = append(unused, description+": "+err.Error())
			continue
		}
		candidates = append(candidates, prometheusCandidate{description: description, api: api})
	}
	return candidates, unused
}

// maxPrometheusServices bounds how many discovered Services are tried; more than a few means the
// guess is wrong and --prometheus-url is the answer.
const maxPrometheusServices = 3

type prometheusService struct{ namespace, name, scheme, port string }

// prometheusServices picks the Services that look like a Prometheus server's API, the most
// telling first: the operator's and kube-prometheus' labels and names, then the Helm chart's.
func prometheusServices(services []corev1.Service) []prometheusService {
	type scored struct {
		svc   prometheusService
		score int
	}
	var found []scored
	for i := range services {
		svc := &services[i]
		score := prometheusServiceScore(svc)
		if score == 0 {
			continue
		}
		scheme, port, ok := prometheusPort(svc)
		if !ok {
			continue
		}
		found = append(found, scored{prometheusService{svc.Namespace, svc.Name, scheme, port}, score})
	}
	slices.SortStableFunc(found, func(a, b scored) int { return b.score - a.score })
	var out []prometheusService
	for _, f := range found {
		if len(out) == maxPrometheusServices {
			break
		}
		out = append(out, f.svc)
	}
	return out
}

// prometheusServiceScore is 0 for a Service that is not a Prometheus server's API (exporters,
// Alertmanager and the operator carry "prometheus" in their names too).
func prometheusServiceScore(svc *corev1.Service) int {
	name := svc.Name
	for _, other := range []string{"alertmanager", "pushgateway", "exporter", "operator", "adapter", "kube-state-metrics", "blackbox", "grafana", "thanos"} {
		if strings.Contains(name, other) {
			return 0
		}
	}
	switch {
	case svc.Labels["operated-prometheus"] == "true" || name == "prometheus-operated":
		return 4
	case svc.Labels["app.kubernetes.io/name"] == "prometheus" && svc.Labels["app.kubernetes.io/component"] != "" &&
		svc.Labels["app.kubernetes.io/component"] != "server" && svc.Labels["app.kubernetes.io/component"] != "prometheus":
		return 0
	case svc.Labels["app.kubernetes.io/name"] == "prometheus" || name == "prometheus-k8s":
		return 3
	case svc.Labels["app"] == "prometheus" && (svc.Labels["component"] == "server" || svc.Labels["component"] == ""):
		return 2
	case name == "prometheus" || name == "prometheus-server" || strings.HasSuffix(name, "-prometheus") || strings.HasSuffix(name, "-prometheus-server"):
		return 1
	}
	return 0
}

// prometheusPort is the Service port of Prometheus' web API: named web or http, else 9090, else
// the only port.
func prometheusPort(svc *corev1.Service) (scheme, port string, ok bool) {
	var fallback *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		switch {
		case p.Name == "web" || p.Name == "http-web" || p.Name == "http" || p.Name == "http-prometheus":
			return "http", strconv.Itoa(int(p.Port)), true
		case p.Name == "https" || p.Name == "web-tls":
			return "https", strconv.Itoa(int(p.Port)), true
		case p.Port == 9090 || len(svc.Spec.Ports) == 1:
			fallback = p
		}
	}
	if fallback == nil {
		return "", "", false
	}
	return "http", strconv.Itoa(int(fallback.Port)), true
}

// newPrometheusAPI builds Prometheus' own API client on a transport that lets only GET out.
func newPrometheusAPI(address string, transport http.RoundTripper) (promv1.API, error) {
	client, err := promapi.NewClient(promapi.Config{Address: address, RoundTripper: getOnly{next: transport}})
	if err != nil {
		return nil, err
	}
	return promv1.NewAPI(client), nil
}

// getOnly refuses every request but GET before it leaves the process. Prometheus' client sends
// queries as POST first and retries with GET on 405; answering the 405 here keeps the tool to
// read-only requests, which through the API server's service proxy is also what RBAC's "get" on
// services/proxy allows.
type getOnly struct{ next http.RoundTripper }

func (g getOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet {
		return g.next.RoundTrip(req)
	}
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return &http.Response{
		Status: "405 Method Not Allowed", StatusCode: http.StatusMethodNotAllowed,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: req,
	}, nil
}

// conntrackQueries are the instant queries sent to Prometheus, each a GET.
func conntrackQueries() []string {
	window := model.Duration(conntrackRateWindow).String()
	return []string{
		metricConntrackEntries,
		metricConntrackLimit,
		"rate(" + metricConntrackDrop + "[" + window + "])",
		"rate(" + metricConntrackEarlyDrop + "[" + window + "])",
		"rate(" + metricConntrackInsertFailed + "[" + window + "])",
		metricUnameInfo,
	}
}

// queryConntrack asks one Prometheus for every node's table and drop rates. notes say what was
// left out: series of no known node, rates that could not be read.
func queryConntrack(ctx context.Context, api promv1.API, nodes nodeIndex, source string) (found []snapshot.ConntrackNode, notes []string, err error) {
	queries := conntrackQueries()
	answers := queryVectors(ctx, api, queries)
	entries, limits := answers[0], answers[1]
	if entries.err != nil {
		return nil, nil, prometheusErrorText(entries.err)
	}
	if len(entries.vector) == 0 {
		return nil, nil, fmt.Errorf("no %s series: it does not scrape node_exporter, or node_exporter's conntrack collector is off", metricConntrackEntries)
	}
	if limits.err != nil {
		return nil, nil, prometheusErrorText(limits.err)
	}

	unameNodes := map[string]string{}
	for _, sample := range answers[5].vector {
		if instance, nodename := string(sample.Metric["instance"]), string(sample.Metric["nodename"]); instance != "" && nodename != "" {
			unameNodes[instance] = nodename
		}
	}
	byNode := map[string]*snapshot.ConntrackNode{}
	var order, strangers []string
	// node finds the measurement a series belongs to; nil for a series of no node in the
	// cluster (a stale target, or a Prometheus shared with other clusters), which is left out.
	node := func(metric model.Metric) *snapshot.ConntrackNode {
		name, known := nodes.resolve(metric, unameNodes)
		if !known {
			if !slices.Contains(strangers, name) {
				strangers = append(strangers, name)
			}
			return nil
		}
		if byNode[name] == nil {
			byNode[name] = &snapshot.ConntrackNode{Node: name, Source: source}
			order = append(order, name)
		}
		return byNode[name]
	}
	// Two jobs scraping the same exporter give the same series twice: keep the larger value.
	for _, s := range entries.vector {
		if n := node(s.Metric); n != nil {
			n.Entries = max(n.Entries, float64(s.Value))
		}
	}
	for _, s := range limits.vector {
		if n := node(s.Metric); n != nil {
			n.Limit = max(n.Limit, float64(s.Value))
		}
	}
	rateSeries := []struct {
		answer vectorAnswer
		field  func(*snapshot.ConntrackCounters) *float64
	}{
		{answers[2], func(c *snapshot.ConntrackCounters) *float64 { return &c.Drop }},
		{answers[3], func(c *snapshot.ConntrackCounters) *float64 { return &c.EarlyDrop }},
		{answers[4], func(c *snapshot.ConntrackCounters) *float64 { return &c.InsertFailed }},
	}
	// Rates are all or nothing: one counter's rate missing would read as a known zero.
	for i, series := range rateSeries {
		if series.answer.err != nil {
			notes = append(notes, fmt.Sprintf("%s: %s failed, so drop rates are unknown: %v", source, queries[2+i],
				prometheusErrorText(series.answer.err)))
		}
	}
	if len(notes) == 0 {
		for _, series := range rateSeries {
			for _, s := range series.answer.vector {
				n := node(s.Metric)
				if n == nil {
					continue
				}
				if n.Rates == nil {
					n.Rates, n.RateWindow = &snapshot.ConntrackCounters{}, conntrackRateWindow
				}
				field := series.field(n.Rates)
				*field = max(*field, float64(s.Value))
			}
		}
	}
	if len(strangers) > 0 {
		targets := "targets"
		if len(strangers) == 1 {
			targets = "target"
		}
		notes = append(notes, fmt.Sprintf("%s: series of %d %s match no node of this cluster and were left out: %s", source,
			len(strangers), targets, strings.Join(strangers, ", ")))
	}
	if len(order) == 0 {
		return nil, notes, fmt.Errorf("its %s series match no node of this cluster (%s)", metricConntrackEntries, strings.Join(strangers, ", "))
	}
	found = make([]snapshot.ConntrackNode, 0, len(order))
	for _, name := range order {
		found = append(found, *byNode[name])
	}
	return found, notes, nil
}

// vectorAnswer is Prometheus' answer to one instant query.
type vectorAnswer struct {
	vector model.Vector
	err    error
}

// queryVectors sends the instant queries at once, each a GET within probeTimeout.
func queryVectors(ctx context.Context, api promv1.API, queries []string) []vectorAnswer {
	return probeEach(queries, func(query *string) vectorAnswer {
		reqCtx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		value, _, _, err := api.Query(reqCtx, *query, time.Time{})
		if err != nil {
			return vectorAnswer{err: err}
		}
		vector, ok := value.(model.Vector)
		if !ok {
			// Whatever answered is not Prometheus, or not this query's: no data is not a zero.
			return vectorAnswer{err: fmt.Errorf("query %s returned %T, not an instant vector", *query, value)}
		}
		return vectorAnswer{vector: vector}
	})
}

// prometheusErrorText keeps the client's error short: Prometheus' own message, or the HTTP
// failure without the repeated URL.
func prometheusErrorText(err error) error {
	var promErr *promv1.Error
	if errors.As(err, &promErr) {
		text := promErr.Msg
		// Through the service proxy, the API server's own failure comes back as a Status.
		var status metav1.Status
		if json.Unmarshal([]byte(promErr.Detail), &status) == nil && status.Message != "" {
			text = fmt.Sprintf("the API server's service proxy answered %d: %s", status.Code, status.Message)
		} else if detail := strings.TrimSpace(promErr.Detail); detail != "" {
			text += ": " + detail
		}
		if len(text) > 300 {
			text = text[:300] + "…"
		}
		return errors.New(text)
	}
	return shortError(err)
}

// shortError drops the request URL that *url.Error repeats.
func shortError(err error) error {
	var netErr *net.OpError
	if errors.As(err, &netErr) {
		return netErr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s", probeTimeout)
	}
	return err
}

// nodeIndex maps what Prometheus labels a node_exporter series with to a node's name.
type nodeIndex struct {
	names     map[string]bool
	addresses map[string]string
}

// known tells whether the cluster's nodes were read; without them every series is kept, under
// the name its labels give.
func (ix nodeIndex) known() bool { return len(ix.names) > 0 }

func newNodeIndex(nodes []corev1.Node) nodeIndex {
	ix := nodeIndex{names: map[string]bool{}, addresses: map[string]string{}}
	for i := range nodes {
		ix.names[nodes[i].Name] = true
		for _, a := range nodes[i].Status.Addresses {
			ix.addresses[a.Address] = nodes[i].Name
		}
	}
	return ix
}

// resolve finds the node a series is about: a node label as the Helm chart and many relabelings
// set it, the uname nodename of the same instance, or the instance itself (kube-prometheus
// relabels it to the node's name; otherwise it is the node's address and port). known is false
// for a series of no node of the cluster; its name is then the best label it has.
func (ix nodeIndex) resolve(metric model.Metric, unameNodes map[string]string) (name string, known bool) {
	instance := string(metric["instance"])
	host := instance
	if h, _, err := net.SplitHostPort(instance); err == nil {
		host = h
	}
	candidates := []string{string(metric["node"]), string(metric["kubernetes_node"]), string(metric["nodename"]),
		unameNodes[instance], host}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if ix.names[c] {
			return c, true
		}
		if name, ok := ix.addresses[c]; ok {
			return name, true
		}
	}
	for _, c := range candidates {
		if c != "" {
			return c, !ix.known()
		}
	}
	return instance, !ix.known()
}

// isNodeExporterPod recognises node_exporter by the labels its common manifests set, or by its
// image.
func isNodeExporterPod(pod *corev1.Pod) bool {
	for _, key := range []string{"app.kubernetes.io/name", "app", "k8s-app"} {
		switch pod.Labels[key] {
		case "node-exporter", "prometheus-node-exporter":
			return true
		}
	}
	return slices.ContainsFunc(pod.Spec.Containers, func(c corev1.Container) bool { return isNodeExporterImage(c.Image) })
}

func isNodeExporterImage(image string) bool {
	name := image[strings.LastIndex(image, "/")+1:]
	return strings.HasPrefix(name, "node-exporter") || strings.HasPrefix(name, "node_exporter")
}

// nodeExporterPort is where a node-exporter pod serves its metrics: a port named for metrics on
// its container, an https port (kube-rbac-proxy in front of it), or node_exporter's default.
func nodeExporterPort(pod *corev1.Pod) (scheme string, port int) {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			switch {
			case p.Name == "https":
				return "https", int(p.ContainerPort)
			case p.Name == "metrics" || p.Name == "http-metrics" || (isNodeExporterImage(c.Image) && p.ContainerPort > 0):
				return "http", int(p.ContainerPort)
			}
		}
	}
	return "http", 9100
}

// scrapeNodeExporters reads the table of every node not yet measured from a running
// node-exporter pod on it, and scrapes again after the resample interval the nodes that have
// dropped packets since boot, to tell whether they drop now.
func (c *collector) scrapeNodeExporters(ctx context.Context, measured map[string]bool) ([]snapshot.ConntrackNode, []string) {
	if reason, blind := c.snap.Unavailable[snapshot.KindPods]; blind {
		return nil, []string{"node-exporter pods: pods could not be read: " + reason}
	}
	var pods []corev1.Pod
	var why []string
	seen := map[string]bool{}
	for i := range c.snap.Pods {
		pod := &c.snap.Pods[i]
		if !isNodeExporterPod(pod) || pod.Status.Phase != corev1.PodRunning || pod.Spec.NodeName == "" ||
			measured[pod.Spec.NodeName] || seen[pod.Spec.NodeName] {
			continue
		}
		if !pod.Spec.HostNetwork {
			// The table is per network namespace: such a pod sees its own, nearly empty one.
			why = append(why, fmt.Sprintf("node-exporter pod %s/%s is not on the host network, so it sees its own network "+
				"namespace's table, not node %s's", pod.Namespace, pod.Name, pod.Spec.NodeName))
			continue
		}
		seen[pod.Spec.NodeName] = true
		pods = append(pods, *pod)
	}
	if len(pods) == 0 && len(why) > 0 {
		return nil, why
	}
	if len(pods) == 0 {
		where := "among the pods read"
		if c.opts.Namespace != "" {
			where = "in namespace " + c.opts.Namespace + " (-n limits the search)"
		}
		if len(measured) > 0 {
			return nil, []string{"node-exporter pods: none running on the nodes Prometheus did not report"}
		}
		return nil, []string{"node-exporter pods: none running " + where}
	}
	core := c.clients.Kube.CoreV1()
	type scrape struct {
		node snapshot.ConntrackNode
		at   time.Time
		err  string
	}
	// Each scrape is timed from when it was sent: the proxy's latency is not part of the window.
	first := probeEach(pods, func(pod *corev1.Pod) scrape {
		at := time.Now()
		n, err := scrapeNodeExporter(ctx, core, pod)
		return scrape{node: n, at: at, err: err}
	})
	var again []int
	for i := range first {
		if first[i].err == "" && first[i].node.Counters.Any() && c.opts.ConntrackResample > 0 {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		select {
		case <-time.After(c.opts.ConntrackResample):
		case <-ctx.Done():
			again = nil
		}
	}
	second := probeEach(again, func(i *int) scrape {
		at := time.Now()
		n, err := scrapeNodeExporter(ctx, core, &pods[*i])
		return scrape{node: n, at: at, err: err}
	})
	for k, i := range again {
		before, after := &first[i], &second[k]
		if after.err != "" || after.node.Counters == nil {
			why = append(why, fmt.Sprintf("node-exporter on node %s: the second scrape, to tell drops now from drops since "+
				"boot, failed: %s", before.node.Node, cmp.Or(after.err, "no drop counters")))
			continue
		}
		elapsed := after.at.Sub(before.at)
		rate := func(a, b float64) float64 {
			if b < a {
				return -1 // the counter reset (node_exporter or the node restarted)
			}
			return (b - a) / elapsed.Seconds()
		}
		r := snapshot.ConntrackCounters{
			Drop:         rate(before.node.Counters.Drop, after.node.Counters.Drop),
			EarlyDrop:    rate(before.node.Counters.EarlyDrop, after.node.Counters.EarlyDrop),
			InsertFailed: rate(before.node.Counters.InsertFailed, after.node.Counters.InsertFailed),
		}
		if r.Drop >= 0 && r.EarlyDrop >= 0 && r.InsertFailed >= 0 {
			before.node.Rates, before.node.RateWindow = &r, elapsed.Round(time.Millisecond)
			before.node.Entries, before.node.Limit = after.node.Entries, after.node.Limit
		}
	}
	var out []snapshot.ConntrackNode
	for _, s := range first {
		if s.err != "" {
			why = append(why, "node-exporter on node "+s.node.Node+": "+s.err)
			continue
		}
		out = append(out, s.node)
	}
	return out, why
}

// scrapeNodeExporter GETs one node-exporter pod's conntrack metrics through the pod proxy. It
// asks for the conntrack collector alone (collect[]), which keeps the answer small.
func scrapeNodeExporter(ctx context.Context, core typedcorev1.CoreV1Interface, pod *corev1.Pod) (snapshot.ConntrackNode, string) {
	result := snapshot.ConntrackNode{Node: pod.Spec.NodeName, Source: "node-exporter pod " + pod.Namespace + "/" + pod.Name}
	scheme, port := nodeExporterPort(pod)
	reqCtx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	target := fmt.Sprintf("%s:%s:%d", scheme, pod.Name, port)
	body, err := readLimited(reqCtx, core.RESTClient().Get().Namespace(pod.Namespace).Resource("pods").
		Name(target).SubResource("proxy").Suffix("metrics").Param("collect[]", "conntrack").
		SetHeader("Accept", "text/plain, application/json"))
	if err != nil {
		text := proxyErrorText(err, body)
		if strings.Contains(text, "disabled collector") {
			text = "node_exporter's conntrack collector is disabled (--no-collector.conntrack)"
		}
		return result, fmt.Sprintf("GET pods/%s/proxy/metrics: %s", target, text)
	}
	if err := parseConntrackMetrics(body, &result); err != nil {
		return result, "pod " + pod.Namespace + "/" + pod.Name + ": " + err.Error()
	}
	return result, ""
}

// parseConntrackMetrics reads node_exporter's text format with Prometheus' own parser.
func parseConntrackMetrics(body []byte, into *snapshot.ConntrackNode) error {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("metrics do not parse: %v", err)
	}
	value := func(name string) (float64, bool) {
		family := families[name]
		if family == nil || len(family.GetMetric()) == 0 {
			return 0, false
		}
		m := family.GetMetric()[0]
		switch family.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		default:
			return m.GetUntyped().GetValue(), true
		}
	}
	entries, ok := value(metricConntrackEntries)
	if !ok {
		return fmt.Errorf("no %s: node_exporter found no connection-tracking table (the nf_conntrack module is not loaded, or this is not node_exporter)", metricConntrackEntries)
	}
	into.Entries = entries
	into.Limit, _ = value(metricConntrackLimit)
	drop, hasDrop := value(metricConntrackDrop)
	earlyDrop, hasEarly := value(metricConntrackEarlyDrop)
	insertFailed, hasInsert := value(metricConntrackInsertFailed)
	if hasDrop || hasEarly || hasInsert {
		into.Counters = &snapshot.ConntrackCounters{Drop: drop, EarlyDrop: earlyDrop, InsertFailed: insertFailed}
	}
	return nil
}
