//go:build e2e

package collect

import (
	"context"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The real API server refuses to proxy to loopback pod and node addresses (which is all the test
// cluster has): the probes are then unavailable, with the server's reason, and nothing else is.
func TestDNSProbesOnTheRealServerAreUnavailableNotFatal(t *testing.T) {
	ctx := context.Background()
	err := testcluster.Apply(ctx, cluster.Config, []byte(`
apiVersion: v1
kind: Node
metadata: {name: dns-node}
status:
  addresses: [{type: InternalIP, address: 127.0.0.31}]
  daemonEndpoints: {kubeletEndpoint: {Port: 10250}}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns-probe-test, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  nodeName: dns-node
  containers: [{name: coredns, image: registry.k8s.io/coredns/coredns:v1.11.3}]
status: {phase: Running, podIP: 127.0.0.32, podIPs: [{ip: 127.0.0.32}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	log := &requestLog{}
	kinds := []snapshot.Kind{snapshot.KindDNSMetrics, snapshot.KindKubeletConfigs, snapshot.KindConfigMaps}
	snap, err := Collect(ctx, client(t, cluster.Config, log), kinds, Options{})
	if err != nil {
		t.Fatalf("failed probes must not fail the collection: %v", err)
	}
	if reason := snap.Unavailable[snapshot.KindDNSMetrics]; !strings.Contains(reason, "no cluster DNS pod's metrics could be read") ||
		!strings.Contains(reason, "coredns-probe-test:9153") {
		t.Errorf("dns-metrics reason %q", reason)
	}
	if reason := snap.Unavailable[snapshot.KindKubeletConfigs]; !strings.Contains(reason, "nodes/dns-node/proxy/configz") {
		t.Errorf("kubelet-configs reason %q", reason)
	}
	t.Logf("unavailable: %v", snap.Unavailable)
	if _, blind := snap.Unavailable[snapshot.KindConfigMaps]; blind {
		t.Errorf("configmaps unavailable: %v", snap.Unavailable)
	}
	for _, r := range log.matching("configmaps") {
		if !strings.Contains(r, "/namespaces/kube-system/") && !strings.Contains(r, "/namespaces/openshift-dns/") {
			t.Errorf("ConfigMaps read outside the add-on namespaces: %s", r)
		}
	}
	for _, r := range log.matching("") {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("non-read request %s", r)
		}
	}
}
