package collect

import (
	"cmp"
	"slices"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The request plan: every request Collect makes to read a set of kinds, described beside the
// code that makes them so that one review sees both. --explain-permissions asks the API server
// about each; the e2e tests hold the plan to the audit log of real runs and to deploy/rbac.yaml.

// plannedAccess is one request the collector makes, and which kinds need it.
type plannedAccess struct {
	request snapshot.Request
	// namespaced tells a request across all namespaces from one for a cluster-scoped resource.
	namespaced bool
	needs      []accessNeed
	notes      []string
}

// accessNeed is one kind's use of a request.
type accessNeed struct {
	kind snapshot.Kind
	// optional: the kind is still read without the request, with less detail or, where the
	// request is made only on some clusters, elsewhere.
	optional bool
	// source names one of the alternative ways of reading the kind: it is read when every
	// request of any one of its sources is allowed.
	source string
}

// The alternative sources of the conntrack measurement.
const (
	sourcePrometheus   = "a Prometheus Service, through services/proxy"
	sourceNodeExporter = "node-exporter pods, through pods/proxy"
)

// accessTable collects requests, one row per distinct request whatever the kinds that need it.
type accessTable struct {
	rows  []plannedAccess
	index map[snapshot.Request]int
}

func (t *accessTable) add(r snapshot.Request, namespaced bool, need accessNeed, note string) {
	if t.index == nil {
		t.index = map[snapshot.Request]int{}
	}
	i, ok := t.index[r]
	if !ok {
		i = len(t.rows)
		t.index[r] = i
		t.rows = append(t.rows, plannedAccess{request: r, namespaced: namespaced})
	}
	row := &t.rows[i]
	if !slices.Contains(row.needs, need) {
		row.needs = append(row.needs, need)
	}
	if note != "" && !slices.Contains(row.notes, note) {
		row.notes = append(row.notes, note)
	}
}

// list adds the LIST of a kind's objects, in namespace if the kind is namespaced ("" is all).
func (t *accessTable) list(kind snapshot.Kind, namespace string, need accessNeed, note string) {
	info := kind.Info()
	r := snapshot.Request{Verb: "list", APIGroup: info.Group, Resource: info.Resource}
	if info.Namespaced {
		r.Namespace = namespace
	}
	t.add(r, info.Namespaced, need, note)
}

// accessesFor lists the requests the collector (pkg/collect) makes to read kinds, in a run
// limited to namespace ("" is the whole cluster), in a stable order. directPrometheus is
// --prometheus-url: conntrack's Prometheus is then asked directly, not through the API server.
// It follows collect.Collect request for request; the e2e test holds it to the API server's
// audit log of real runs, and to deploy/rbac.yaml.
func accessesFor(kinds []snapshot.Kind, namespace string, directPrometheus bool, absent map[string]bool) []plannedAccess {
	var t accessTable
	// Every run asks for the version first, to fail fast on a server it cannot reach; a
	// refusal there is taken as a sign of life.
	t.add(snapshot.Request{Verb: "get", Path: "/version"}, false, accessNeed{kind: snapshot.KindServerVersion, optional: true},
		"first, to tell an unreachable server")
	for _, kind := range kinds {
		need := accessNeed{kind: kind}
		switch kind {
		case snapshot.KindNamespaces:
			if namespace == "" {
				t.list(kind, "", need, "")
				break
			}
			// A user scoped to one namespace may get it but not list all of them; the API server
			// authorizes a namespace's GET as a request in that namespace.
			t.add(snapshot.Request{Verb: "get", Resource: "namespaces", Namespace: namespace, Name: namespace}, false, need, "")
		case snapshot.KindConfigMaps:
			if namespace != "" {
				t.list(kind, namespace, need, "")
				break
			}
			// The cluster add-ons' namespaces: the first always, the others (openshift-dns)
			// unless a GET shows they do not exist. A refused GET proves nothing, so the list is
			// made, and its refusal blinds every ConfigMap check.
			for i, where := range snapshot.ClusterDNSNamespaces() {
				if i == 0 {
					t.list(kind, where, need, "")
					continue
				}
				t.add(snapshot.Request{Verb: "get", Resource: "namespaces", Namespace: where, Name: where}, false,
					accessNeed{kind: kind, optional: true}, "whether namespace "+where+" exists, to read its ConfigMaps")
				if !absent[where] {
					t.list(kind, where, need, "namespace "+where+" exists (OpenShift's DNS)")
				}
			}
		case snapshot.KindEvents:
			// Node events live in default, whatever -n says: always across all namespaces.
			t.list(kind, "", need, "every event about nodes (field selector "+NodeEvents+")")
			t.list(kind, namespace, need, "Warning events about everything else (field selector "+WarningEvents+")")
			t.list(kind, namespace, need, "the scheduler's Preempted events (field selector "+PreemptedEvents+")")
		case snapshot.KindHTTPRoutes:
			t.add(snapshot.Request{Verb: "list", APIGroup: "gateway.networking.k8s.io", Resource: "httproutes", Namespace: namespace}, true, need,
				"where the Gateway API is served")
		case snapshot.KindServerVersion:
			t.add(snapshot.Request{Verb: "get", Path: "/version"}, false, need, "")
		case snapshot.KindVolumeStats:
			// Read from the Prometheus of --prometheus-url alone: no request to the API server.
		case snapshot.KindAnonymousAccess:
			// Probed without credentials: no permission of this identity is involved.
		case snapshot.KindServingCertificate:
			t.add(snapshot.Request{Verb: "get", Path: "/version"}, false, need, "the API server's certificate, from the TLS handshake")
		case snapshot.KindCertManagerCertificates:
			r := snapshot.Request{Verb: "list", APIGroup: "cert-manager.io", Resource: "certificates", Namespace: namespace}
			t.add(r, true, need, "where cert-manager is installed; never its Secrets")
		case snapshot.KindDNSMetrics, snapshot.KindKubeletConfigs:
			dnsProbeAccesses(&t, kind, namespace)
		case snapshot.KindConntrack:
			conntrackAccesses(&t, namespace, directPrometheus)
		default:
			if info := kind.Info(); info.GroupVersion != "" && !info.Probe {
				t.list(kind, namespace, need, "")
			}
		}
	}
	slices.SortFunc(t.rows, func(a, b plannedAccess) int { return compareRequests(a.request, b.request) })
	return t.rows
}

// dnsProbeAccesses are the requests of the probes through the cluster DNS pods: their list in
// each DNS namespace in scope, then each pod's metrics (pods/proxy) or its node's kubelet
// configuration (nodes/proxy).
func dnsProbeAccesses(t *accessTable, kind snapshot.Kind, namespace string) {
	if snapshot.DNSOutOfScope(namespace) != "" {
		return // the collector knows it cannot see the DNS pods and asks nothing
	}
	first := true
	for _, where := range snapshot.ClusterDNSNamespaces() {
		if namespace != "" && namespace != where {
			continue
		}
		// Every DNS namespace is listed, existing or not: one refusal ends the probe.
		t.list(snapshot.KindPods, where, accessNeed{kind: kind}, "to find the cluster DNS pods")
		if kind == snapshot.KindDNSMetrics {
			proxy := snapshot.Request{Verb: "get", Resource: "pods", Subresource: "proxy", Namespace: where}
			if first {
				t.add(proxy, true, accessNeed{kind: kind}, "CoreDNS metrics (:9153/metrics) of the cluster DNS pods")
			} else {
				t.add(proxy, true, accessNeed{kind: kind, optional: true}, "CoreDNS metrics, where the cluster DNS runs in "+where+" (OpenShift)")
			}
		}
		first = false
	}
	if kind == snapshot.KindKubeletConfigs {
		t.add(snapshot.Request{Verb: "get", Resource: "nodes", Subresource: "proxy"}, false, accessNeed{kind: kind},
			"kubelet /configz of the nodes running cluster DNS")
	}
}

// conntrackAccesses are the requests of the conntrack measurement: the nodes, pods and Services
// it looks in, then Prometheus through the service proxy or node-exporter pods through the pod
// proxy, either of which will do. With --prometheus-url, Prometheus is asked directly and the
// pods are only the fallback.
func conntrackAccesses(t *accessTable, namespace string, directPrometheus bool) {
	prometheus, nodeExporter := accessNeed{kind: snapshot.KindConntrack, source: sourcePrometheus},
		accessNeed{kind: snapshot.KindConntrack, source: sourceNodeExporter}
	if directPrometheus {
		prometheus = accessNeed{kind: snapshot.KindConntrack, optional: true}
		nodeExporter = accessNeed{kind: snapshot.KindConntrack, optional: true}
	}
	// Nodes only name the series; without them, each keeps the name its labels give.
	t.list(snapshot.KindNodes, "", accessNeed{kind: snapshot.KindConntrack, optional: true}, "")
	t.list(snapshot.KindServices, namespace, prometheus, "")
	t.list(snapshot.KindPods, namespace, nodeExporter, "")
	if !directPrometheus {
		t.add(snapshot.Request{Verb: "get", Resource: "services", Subresource: "proxy", Namespace: namespace}, true, prometheus,
			"conntrack from Prometheus' query API; node-exporter pods are the alternative")
	}
	t.add(snapshot.Request{Verb: "get", Resource: "pods", Subresource: "proxy", Namespace: namespace}, true, nodeExporter,
		"conntrack from node-exporter pods (/metrics); Prometheus is the alternative")
}

// compareRequests orders resources before non-resource URLs, then by group (core first),
// resource, subresource, namespace (all first), name and verb.
func compareRequests(a, b snapshot.Request) int {
	return cmp.Or(
		cmp.Compare(boolRank(a.Path != ""), boolRank(b.Path != "")),
		cmp.Compare(a.APIGroup, b.APIGroup),
		cmp.Compare(a.Resource, b.Resource),
		cmp.Compare(a.Subresource, b.Subresource),
		cmp.Compare(a.Namespace, b.Namespace),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Verb, b.Verb),
	)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
