package collect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// probeTimeout bounds each proxied request: a pod or kubelet that does not answer must not hold
// up the whole diagnosis.
const probeTimeout = 5 * time.Second

// defaultDNSMetricsPort is where CoreDNS's prometheus plugin listens in every common manifest.
const defaultDNSMetricsPort = 9153

// clusterDNSPods lists the running cluster DNS pods, in the DNS namespaces the run may look at.
func clusterDNSPods(ctx context.Context, core typedcorev1.CoreV1Interface, ns string) ([]corev1.Pod, error) {
	if reason := snapshot.DNSOutOfScope(ns); reason != "" {
		return nil, &blindError{reason: reason, absent: true} // out of the run's scope
	}
	var found []corev1.Pod
	for _, where := range snapshot.ClusterDNSNamespaces() {
		if ns != "" && ns != where {
			continue
		}
		// Read into a snapshot of their own: these are not the run's pods (-n may leave them out).
		var listed snapshot.Snapshot
		into, _ := snapshot.KindPods.ObjectsIn(&listed)
		if err := pages(ctx, metav1.ListOptions{Limit: DefaultChunkSize}, nil, typedList(core.Pods(where).List), into); err != nil {
			return nil, err
		}
		pods := listed.Pods
		for i := range pods {
			if snapshot.IsClusterDNSPod(&pods[i]) && pods[i].Status.Phase == corev1.PodRunning {
				found = append(found, pods[i])
			}
		}
	}
	if len(found) == 0 {
		return nil, &blindError{reason: "no running cluster DNS pod (label k8s-app=kube-dns) was found in " +
			fmt.Sprint(snapshot.ClusterDNSNamespaces())}
	}
	return found, nil
}

// scrapeDNSMetrics reads every cluster DNS pod's metrics through the API server's pod proxy
// (a GET, the only verb used). Pods that do not answer are kept with the reason; if none
// answers, the metrics are unavailable.
func scrapeDNSMetrics(ctx context.Context, core typedcorev1.CoreV1Interface, ns string) ([]snapshot.DNSMetrics, error) {
	pods, err := clusterDNSPods(ctx, core, ns)
	if err != nil {
		return nil, err
	}
	results := probeEach(pods, func(pod *corev1.Pod) snapshot.DNSMetrics { return scrapeDNSPod(ctx, core, pod) })
	if !slices.ContainsFunc(results, func(m snapshot.DNSMetrics) bool { return m.Error == "" }) {
		return nil, &blindError{reason: "no cluster DNS pod's metrics could be read through the API server's pod proxy: " +
			results[0].Error}
	}
	return results, nil
}

func scrapeDNSPod(ctx context.Context, core typedcorev1.CoreV1Interface, pod *corev1.Pod) snapshot.DNSMetrics {
	result := snapshot.DNSMetrics{Pod: snapshot.RefTo(snapshot.KindPods, pod.Namespace, pod.Name)}
	reqCtx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	port := strconv.Itoa(metricsPort(pod))
	// Accept JSON so that a proxy failure comes back as a readable Status, not protobuf.
	body, err := readLimited(reqCtx, core.RESTClient().Get().Namespace(pod.Namespace).Resource("pods").
		Name("http:"+pod.Name+":"+port).SubResource("proxy").Suffix("metrics").
		SetHeader("Accept", "text/plain, application/json"))
	if err != nil {
		result.Error = fmt.Sprintf("GET pods/%s:%s/proxy/metrics: %s", pod.Name, port, proxyErrorText(err, body))
		return result
	}
	if err := parseDNSMetrics(body, &result); err != nil {
		result.Error = "metrics of pod " + pod.Name + " do not parse: " + err.Error()
	}
	return result
}

// maxProbesInFlight bounds the proxied requests sent at once: one node-exporter per node is
// hundreds of pods on a large cluster, and the API server proxies each.
const maxProbesInFlight = 32

// probeEach runs one probe per item concurrently (each bounded by probeTimeout, at most
// maxProbesInFlight at a time) and returns the answers in the items' order.
func probeEach[In, Out any](items []In, probe func(*In) Out) []Out {
	results := make([]Out, len(items))
	slots := make(chan struct{}, maxProbesInFlight)
	var wg sync.WaitGroup
	for i := range items {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			results[i] = probe(&items[i])
		})
	}
	wg.Wait()
	return results
}

// metricsPort is the container port named "metrics", else CoreDNS's default.
func metricsPort(pod *corev1.Pod) int {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == "metrics" && p.ContainerPort > 0 {
				return int(p.ContainerPort)
			}
		}
	}
	return defaultDNSMetricsPort
}

// The counters CoreDNS exports. CoreDNS 1.7.0 renamed the response counter; later releases moved
// the forward health-check failures to a counter shared by proxying plugins, labelled proxy_name.
const (
	metricResponses           = "coredns_dns_responses_total"
	metricResponsesLegacy     = "coredns_dns_response_rcode_count_total"
	metricHealthFailures      = "coredns_forward_healthcheck_failures_total"
	metricProxyHealthFailures = "coredns_proxy_healthcheck_failures_total"
	metricHealthAllBroken     = "coredns_forward_healthcheck_broken_total"
)

// parseDNSMetrics reads the Prometheus text format with Prometheus' own parser and sums the
// counters the checks need across their other labels (server, zone, upstream).
func parseDNSMetrics(body []byte, into *snapshot.DNSMetrics) error {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if families[metricResponses] == nil && families[metricResponsesLegacy] == nil {
		// kube-dns, or anything else on that port, answers without CoreDNS's counters: that is
		// no measurement, not a clean one.
		return fmt.Errorf("no %s: not CoreDNS's metrics", metricResponses)
	}
	into.Responses = map[string]float64{}
	for _, name := range []string{metricResponses, metricResponsesLegacy} {
		family, ok := families[name]
		if !ok {
			continue
		}
		for _, m := range family.GetMetric() {
			for _, label := range m.GetLabel() {
				if label.GetName() == "rcode" {
					into.Responses[label.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	// sum adds a counter's series, keeping only those whose labels include every one of want.
	sum := func(name string, want ...string) float64 {
		total := 0.0
	series:
		for _, m := range families[name].GetMetric() {
			for i := 0; i+1 < len(want); i += 2 {
				if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
					return l.GetName() == want[i] && l.GetValue() == want[i+1]
				}) {
					continue series
				}
			}
			total += m.GetCounter().GetValue()
		}
		return total
	}
	into.ForwardHealthcheckFailures = sum(metricHealthFailures) + sum(metricProxyHealthFailures, "proxy_name", "forward")
	into.ForwardHealthcheckBroken = sum(metricHealthAllBroken)
	return nil
}

// readKubeletConfigs reads /configz of the kubelets that run cluster DNS pods, through the API
// server's node proxy: only those nodes' resolver settings reach CoreDNS.
func readKubeletConfigs(ctx context.Context, core typedcorev1.CoreV1Interface, ns string) ([]snapshot.KubeletConfig, error) {
	pods, err := clusterDNSPods(ctx, core, ns)
	if err != nil {
		return nil, err
	}
	var nodes []string
	for _, pod := range pods {
		if pod.Spec.NodeName != "" && !slices.Contains(nodes, pod.Spec.NodeName) {
			nodes = append(nodes, pod.Spec.NodeName)
		}
	}
	slices.Sort(nodes)
	if len(nodes) == 0 {
		return nil, &blindError{reason: "the cluster DNS pods are not scheduled on any node"}
	}
	results := probeEach(nodes, func(node *string) snapshot.KubeletConfig { return readKubeletConfig(ctx, core, *node) })
	if !slices.ContainsFunc(results, func(k snapshot.KubeletConfig) bool { return k.Error == "" }) {
		return nil, &blindError{reason: "no kubelet configuration could be read through the API server's node proxy: " +
			results[0].Error}
	}
	return results, nil
}

func readKubeletConfig(ctx context.Context, core typedcorev1.CoreV1Interface, node string) snapshot.KubeletConfig {
	result := snapshot.KubeletConfig{Node: node}
	reqCtx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	body, err := readLimited(reqCtx, core.RESTClient().Get().Resource("nodes").Name(node).SubResource("proxy").Suffix("configz").
		SetHeader("Accept", "application/json"))
	if err != nil {
		result.Error = fmt.Sprintf("GET nodes/%s/proxy/configz: %s", node, proxyErrorText(err, body))
		return result
	}
	var configz struct {
		KubeletConfig *struct {
			ResolvConf string `json:"resolvConf"`
		} `json:"kubeletconfig"`
	}
	if err := json.Unmarshal(body, &configz); err != nil || configz.KubeletConfig == nil {
		result.Error = fmt.Sprintf("nodes/%s/proxy/configz did not return a kubelet configuration", node)
		return result
	}
	result.ResolvConf = configz.KubeletConfig.ResolvConf
	return result
}

// maxProxiedBody bounds what is read from a pod or kubelet through the proxies: a CoreDNS metrics
// page or a kubelet configuration is far smaller, and whatever answers there is not trusted.
const maxProxiedBody = 8 << 20

// readLimited sends a GET and reads at most maxProxiedBody bytes of the answer.
func readLimited(ctx context.Context, req *rest.Request) ([]byte, error) {
	stream, err := req.Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	body, err := io.ReadAll(io.LimitReader(stream, maxProxiedBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxProxiedBody {
		return nil, fmt.Errorf("the answer is larger than %d MiB", maxProxiedBody>>20)
	}
	return body, nil
}

// proxyErrorText keeps proxy failures short and to the point: the API server's status message,
// or the plain text it answered with ("address not allowed"), rather than client-go's generic
// "the server rejected our request for an unknown reason".
func proxyErrorText(err error, body []byte) string {
	var status metav1.Status
	if json.Unmarshal(body, &status) == nil && status.Message != "" {
		return status.Message
	}
	if text := strings.TrimSpace(string(body)); text != "" && len(text) <= 200 && utf8.ValidString(text) && !strings.ContainsAny(text, "{<") {
		return text
	}
	var statusErr *apierrors.StatusError
	if errors.As(err, &statusErr) && statusErr.ErrStatus.Details != nil {
		for _, cause := range statusErr.ErrStatus.Details.Causes {
			if cause.Type == metav1.CauseTypeUnexpectedServerResponse && cause.Message != "" {
				return strings.TrimSpace(cause.Message)
			}
		}
	}
	return err.Error()
}
