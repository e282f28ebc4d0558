//go:build e2e

package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The incidents the issue names, each on a control plane of its own (a DNS outage, a node down
// or a fail-closed webhook would disturb the other tests): the objects the checks' fixtures
// describe are created through the real API server, status included, and diagnose, reading
// them as from any cluster, puts the root cause first, findings[0], with its symptoms in its
// incident and the unrelated failures outside it.
func TestIncidentsOnTheRealControlPlane(t *testing.T) {
	type about struct{ check, name string }
	incidents := func(name string) string {
		return filepath.Join(testcluster.RepoRoot(), "checks", "testdata", "incidents", name)
	}
	overlay := func(base, name string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			// Paths as internal/fixture reads them, from pkg/cmd/testdata.
			return fixture.Overlay(t, filepath.Join("..", "..", "..", "checks", base), filepath.Join("..", "..", "..", "checks", "testdata", "incidents", name))
		}
	}
	file := func(path string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
	for _, tc := range []struct {
		name      string
		manifests func(t *testing.T) []byte
		setUp     func(ctx context.Context, t *testing.T, c *testcluster.Cluster)
		root      about
		symptoms  []about
		unrelated []about
	}{
		{name: "cluster DNS down", manifests: overlay("dns/testdata/healthy.yaml", "dns-down.yaml"),
			root: about{"dns-unavailable", "coredns"}, symptoms: []about{{"deployment-unavailable", "web"}},
			unrelated: []about{{"deployment-unavailable", "api"}}},
		{name: "egress policy without DNS", manifests: overlay("netpol/testdata/cluster.yaml", "egress-blocks-dns.yaml"),
			root: about{"netpol-egress-blocks-dns", "cart"}, symptoms: []about{{"deployment-unavailable", "cart"}}},
		{name: "node under memory pressure", manifests: file(incidents("node-memory-pressure.yaml")),
			root:      about{"node-pressure", "node-a"},
			symptoms:  []about{{"deployment-unavailable", "cart"}, {"pod-crashloop", "worker"}, {"deployment-unavailable", "worker"}},
			unrelated: []about{{"pod-crashloop", "web"}}},
		{name: "webhook failing closed without a backend", setUp: setUpAdmissionOutage,
			root: about{"webhook-backend-unavailable", "missing-backend"}, symptoms: []about{{"deployment-unavailable", "cart"}}},
		{name: "image pull failing", manifests: overlay("dns/testdata/healthy.yaml", "image-pull-rollout.yaml"),
			root: about{"pod-image-pull", "cart"}, symptoms: []about{{"deployment-unavailable", "cart"}}},
		{name: "node NotReady", manifests: file(incidents("node-not-ready.yaml")),
			root: about{"node-not-ready", "node-a"}, symptoms: []about{{"deployment-unavailable", "cart"}},
			unrelated: []about{{"deployment-unavailable", "web"}}},
		{name: "conntrack table full", manifests: file(incidents("conntrack-full.yaml")),
			root: about{"conntrack-table-full-reported", "node-b"}, symptoms: []about{{"deployment-unavailable", "api"}},
			unrelated: []about{{"deployment-unavailable", "web"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c, err := testcluster.Start(ctx, testcluster.Options{Log: os.Stderr})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Stop()
			if tc.setUp != nil {
				tc.setUp(ctx, t, c)
			} else if err := testcluster.Apply(ctx, c.Config, withNamespaces(t, tc.manifests(t))); err != nil {
				t.Fatal(err)
			}
			res := run(t, testEnv{}, "diagnose", "-o", "json", "--kubeconfig", c.Kubeconfig)
			r := res.report(t)
			if len(r.Findings) == 0 || len(r.Incidents) == 0 {
				t.Fatalf("exit %d, no incident: %s", res.code, res.stderr)
			}
			first := r.Findings[0]
			if first.Check != tc.root.check || !slices.ContainsFunc(first.Objects, func(o snapshot.Ref) bool { return o.Name == tc.root.name }) {
				t.Fatalf("findings[0] = %s %v, want %s about %s; incidents %+v", first.Check, first.Objects, tc.root.check, tc.root.name, r.Incidents)
			}
			if r.Incidents[0].Root != first.ID {
				t.Errorf("the first incident's root %s is not findings[0] (%s)", r.Incidents[0].Root, first.ID)
			}
			for _, s := range tc.symptoms {
				if got := incidentRoot(r, s.check, s.name); got != first.ID {
					t.Errorf("%s about %s: root %q, want %q", s.check, s.name, got, first.ID)
				}
			}
			for _, s := range tc.unrelated {
				if got := incidentRoot(r, s.check, s.name); got == first.ID {
					t.Errorf("%s about %s is linked to %s, which the evidence does not connect it to", s.check, s.name, got)
				}
			}
			if tc.name != "node NotReady" {
				return
			}
			// What on-call reads first: only the incident, the root cause in full, its symptom a
			// line, the unrelated finding left out but counted.
			pretty := run(t, testEnv{}, "diagnose", "--incidents", "-o", "pretty", "--kubeconfig", c.Kubeconfig)
			t.Logf("diagnose --incidents:\n%s", pretty.stdout)
			for _, want := range []string{"INCIDENT 1  Nodes are not Ready  since 09:30 (30 min)", "↳ critical  deployment-unavailable  deployment shop/cart has 0 of 2",
				"in no incident not shown (--incidents)"} {
				if !strings.Contains(pretty.stdout, want) {
					t.Errorf("--incidents lacks %q:\n%s", want, pretty.stdout)
				}
			}
			if strings.Contains(pretty.stdout, "deployment shop/web") {
				t.Errorf("--incidents lists a finding in no incident:\n%s", pretty.stdout)
			}
			if pretty.code != res.code {
				t.Errorf("--incidents exits %d, the full run %d: the gate judges every finding", pretty.code, res.code)
			}
		})
	}
}

// incidentRoot is the ID of the root of the incident that holds checkID's finding about an
// object named name; "" when it is in none.
func incidentRoot(r *report.Report, checkID, name string) string {
	var id string
	for _, f := range r.Findings {
		if f.Check == checkID && slices.ContainsFunc(f.Objects, func(o snapshot.Ref) bool { return o.Name == name }) {
			id = f.ID
		}
	}
	for _, inc := range r.Incidents {
		if id != "" && slices.Contains(inc.Members(), id) {
			return inc.Root
		}
	}
	return ""
}

// withNamespaces adds a Namespace for each namespace the manifests use and do not define, as
// a cluster would have them before its objects, and leaves out those every cluster has.
func withNamespaces(t *testing.T, manifests []byte) []byte {
	t.Helper()
	used, defined := map[string]bool{}, map[string]bool{"default": true, "kube-system": true}
	var docs [][]byte
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	for {
		var o unstructured.Unstructured
		if err := decoder.Decode(&o.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if o.Object == nil {
			continue
		}
		if o.GetKind() == "Namespace" {
			if defined[o.GetName()] {
				continue
			}
			defined[o.GetName()] = true
		}
		if o.GetNamespace() != "" {
			used[o.GetNamespace()] = true
		}
		doc, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	for _, ns := range slices.Sorted(maps.Keys(used)) {
		if !defined[ns] {
			docs = append([][]byte{[]byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + ns + `"}}`)}, docs...)
		}
	}
	return bytes.Join(docs, []byte("\n---\n"))
}
