package collect

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// corednsMetrics is what a CoreDNS 1.11 pod's metrics endpoint says, cut down: responses by
// rcode over two zones, and forward health checks under both the old and the new counter.
const corednsMetrics = `# HELP coredns_dns_responses_total Counter of response status codes.
# TYPE coredns_dns_responses_total counter
coredns_dns_responses_total{plugin="",rcode="NOERROR",server="dns://:53",view="",zone="."} 900
coredns_dns_responses_total{plugin="",rcode="SERVFAIL",server="dns://:53",view="",zone="."} 40
coredns_dns_responses_total{plugin="",rcode="SERVFAIL",server="dns://:53",view="",zone="cluster.local."} 10
coredns_dns_responses_total{plugin="",rcode="NXDOMAIN",server="dns://:53",view="",zone="."} 50
# HELP coredns_forward_healthcheck_broken_total Counter of the number of complete failures of the healthchecks.
# TYPE coredns_forward_healthcheck_broken_total counter
coredns_forward_healthcheck_broken_total 2
# HELP coredns_proxy_healthcheck_failures_total Count of failed health checks per upstream.
# TYPE coredns_proxy_healthcheck_failures_total counter
coredns_proxy_healthcheck_failures_total{proxy_name="forward",rcode="",to="192.0.2.53:53"} 7
coredns_proxy_healthcheck_failures_total{proxy_name="grpc",rcode="",to="192.0.2.54:53"} 100
`

func TestParseDNSMetrics(t *testing.T) {
	var m snapshot.DNSMetrics
	if err := parseDNSMetrics([]byte(corednsMetrics), &m); err != nil {
		t.Fatal(err)
	}
	if m.Responses["SERVFAIL"] != 50 || m.Responses["NOERROR"] != 900 || m.Responses["NXDOMAIN"] != 50 {
		t.Errorf("responses %v", m.Responses)
	}
	if m.ForwardHealthcheckFailures != 7 || m.ForwardHealthcheckBroken != 2 {
		t.Errorf("forward failures %v broken %v (grpc's failures must not count)", m.ForwardHealthcheckFailures, m.ForwardHealthcheckBroken)
	}
	if err := parseDNSMetrics([]byte("coredns_dns_responses_total{rcode=\"NOERROR\" 1\n"), &m); err == nil {
		t.Error("malformed metrics parsed")
	}
	// kube-dns's metrics port answers, but without CoreDNS's counters: not a measurement.
	if err := parseDNSMetrics([]byte("kubedns_dnsmasq_hits 10\n"), &m); err == nil || !strings.Contains(err.Error(), "not CoreDNS") {
		t.Errorf("metrics without CoreDNS's counters: %v", err)
	}
}

// fakeAPIServer answers like the API server would through its pod and node proxies, which the
// test control plane refuses for loopback addresses: two DNS pods, one whose metrics answer and
// one whose proxy fails, and a node whose kubelet reports its configuration.
func fakeAPIServer(t *testing.T, log *requestLog) *httptest.Server {
	pods := corev1.PodList{Items: []corev1.Pod{
		dnsPod("coredns-a", "node-a"), dnsPod("coredns-b", "node-a"),
		{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "kube-system"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}},
	}}
	mux := http.NewServeMux()
	list := func(pods corev1.PodList) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(pods)
		}
	}
	mux.HandleFunc("/api/v1/namespaces/kube-system/pods", list(pods))
	mux.HandleFunc("/api/v1/namespaces/openshift-dns/pods", list(corev1.PodList{}))
	mux.HandleFunc("/api/v1/namespaces/kube-system/pods/http:coredns-a:9153/proxy/metrics", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(corednsMetrics))
	})
	mux.HandleFunc("/api/v1/namespaces/kube-system/pods/http:coredns-b:9153/proxy/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: "Failure", Message: "error trying to reach service: connection refused", Code: 502})
	})
	mux.HandleFunc("/api/v1/nodes/node-a/proxy/configz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"kubeletconfig":{"resolvConf":"/run/systemd/resolve/resolv.conf","clusterDNS":["127.0.100.10"]}}`))
	})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.mu.Lock()
		log.requests = append(log.requests, r.Method+" "+r.URL.Path)
		log.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(server.Close)
	return server
}

func dnsPod(name, node string) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "coredns",
			Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9153}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

func TestScrapeDNSMetricsThroughThePodProxy(t *testing.T) {
	log := &requestLog{}
	server := fakeAPIServer(t, log)
	kube, err := kubernetes.NewForConfig(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Collect(context.Background(), Clients{Kube: kube}, []snapshot.Kind{snapshot.KindDNSMetrics, snapshot.KindKubeletConfigs}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Unavailable) != 0 {
		t.Fatalf("unavailable: %v", snap.Unavailable)
	}
	if len(snap.DNSMetrics) != 2 {
		t.Fatalf("scrapes %+v", snap.DNSMetrics)
	}
	a, b := snap.DNSMetrics[0], snap.DNSMetrics[1]
	if a.Pod.Name != "coredns-a" || a.Error != "" || a.Responses["SERVFAIL"] != 50 {
		t.Errorf("coredns-a: %+v", a)
	}
	if b.Pod.Name != "coredns-b" || !strings.Contains(b.Error, "connection refused") {
		t.Errorf("coredns-b: %+v", b)
	}
	want := []snapshot.KubeletConfig{{Node: "node-a", ResolvConf: "/run/systemd/resolve/resolv.conf"}}
	if !slices.Equal(snap.KubeletConfigs, want) {
		t.Errorf("kubelet configs %+v", snap.KubeletConfigs)
	}
	for _, r := range log.matching("") {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("non-read request %s", r)
		}
	}
}
