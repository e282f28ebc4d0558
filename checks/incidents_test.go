package checks

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	fixtures "github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// rootOf is the summary of the root cause of the incident that holds checkID's finding about
// an object named name: itself when it is a root, "" when it is in no incident.
func rootOf(r *report.Report, checkID, name string) string {
	for _, f := range r.Findings {
		if f.Check == checkID && slices.ContainsFunc(f.Objects, func(o snapshot.Ref) bool { return o.Name == name }) {
			if root := incidentRoot(r, f); root != nil {
				return summary(*root)
			}
			return ""
		}
	}
	return ""
}

// incidentRoot is the root finding of the incident that holds f (f itself when it leads one),
// nil when f is in none.
func incidentRoot(r *report.Report, f check.Finding) *check.Finding {
	n, ok := r.IncidentOf()[f.ID]
	if !ok {
		return nil
	}
	for i := range r.Findings {
		if r.Findings[i].ID == r.Incidents[n].Root {
			return &r.Findings[i]
		}
	}
	return nil
}

// The incidents the issue names, each on a fixture: the root cause is findings[0] and its
// incident the first; the findings it explains are in that incident; those the evidence does not
// connect to it (another node, another reason in the events) are not.
func TestIncidentExamples(t *testing.T) {
	type about struct{ check, name string }
	for _, tc := range []struct {
		name          string
		base, fixture string
		root          about
		symptoms      []about
		unrelated     []about
		// changed is what the incident's timeline must say changed before it; undo, a line
		// the root's fix must hold.
		changed, undo string
		// conntrack is what the nodes' connection-tracking tables measured, which no manifest
		// carries.
		conntrack []snapshot.ConntrackNode
	}{
		{name: "cluster DNS down", base: "../dns/testdata/healthy.yaml", fixture: "incidents/dns-down.yaml",
			root:      about{"dns-unavailable", "coredns"},
			symptoms:  []about{{"deployment-unavailable", "web"}},
			unrelated: []about{{"deployment-unavailable", "api"}}},
		{name: "egress policy without DNS", base: "../netpol/testdata/cluster.yaml", fixture: "incidents/egress-blocks-dns.yaml",
			root:     about{"netpol-egress-blocks-dns", "cart"},
			symptoms: []about{{"deployment-unavailable", "cart"}}},
		{name: "node under memory pressure", fixture: "incidents/node-memory-pressure.yaml",
			root:      about{"node-pressure", "node-a"},
			symptoms:  []about{{"deployment-unavailable", "cart"}, {"pod-crashloop", "worker"}, {"deployment-unavailable", "worker"}},
			unrelated: []about{{"pod-crashloop", "web"}, {"deployment-unavailable", "web"}}},
		{name: "webhook failing closed without a backend", fixture: "admission/testdata/webhook-backend-unavailable.yaml",
			root:     about{"webhook-backend-unavailable", "policy-gate"},
			symptoms: []about{{"deployment-unavailable", "cart"}}},
		{name: "image pull failing", base: "../dns/testdata/healthy.yaml", fixture: "incidents/image-pull-rollout.yaml",
			root:     about{"pod-image-pull", "cart"},
			symptoms: []about{{"deployment-unavailable", "cart"}},
			changed:  "image cart:1.4 -> cart:1.5", undo: "kubectl rollout undo deployment/cart -n shop --to-revision=1"},
		{name: "node NotReady", fixture: "incidents/node-not-ready.yaml",
			root:      about{"node-not-ready", "node-a"},
			symptoms:  []about{{"deployment-unavailable", "cart"}},
			unrelated: []about{{"deployment-unavailable", "web"}}},
		{name: "conntrack table full", fixture: "incidents/conntrack-full.yaml",
			root:      about{"conntrack-table-full-reported", "node-b"},
			symptoms:  []about{{"deployment-unavailable", "api"}},
			unrelated: []about{{"deployment-unavailable", "web"}}},
		{name: "conntrack drops measured", base: "incidents/conntrack-full.yaml", fixture: "incidents/conntrack-drops.yaml",
			conntrack: []snapshot.ConntrackNode{
				{Node: "node-b", Source: "Prometheus", Entries: 900, Limit: 1000, Rates: &snapshot.ConntrackCounters{Drop: 12}, RateWindow: 5 * time.Minute},
				// Full to a warning level, losing nothing: web's refused connections are its own.
				{Node: "node-a", Source: "Prometheus", Entries: 800, Limit: 1000, Rates: &snapshot.ConntrackCounters{}, RateWindow: 5 * time.Minute}},
			root:      about{"conntrack-drops", "node-b"},
			symptoms:  []about{{"deployment-unavailable", "api"}},
			unrelated: []about{{"deployment-unavailable", "web"}}},
		{name: "conntrack table measured full", base: "incidents/conntrack-full.yaml", fixture: "incidents/conntrack-drops.yaml",
			conntrack: []snapshot.ConntrackNode{{Node: "node-b", Source: "Prometheus", Entries: 995, Limit: 1000},
				{Node: "node-a", Source: "Prometheus", Entries: 995, Limit: 1000}},
			root:      about{"conntrack-table-usage", "node-b"},
			symptoms:  []about{{"deployment-unavailable", "api"}},
			unrelated: []about{{"deployment-unavailable", "web"}}},
		{name: "cluster DNS pods restarting", base: "../dns/testdata/healthy.yaml", fixture: "incidents/dns-pods-restarting.yaml",
			root:      about{"dns-pods-unhealthy", "coredns"},
			symptoms:  []about{{"deployment-unavailable", "web"}},
			unrelated: []about{{"deployment-unavailable", "api"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *snapshot.Snapshot
			if tc.base != "" {
				s = fixtures.LoadOverlay(t, tc.base, tc.fixture)
			} else {
				path := tc.fixture
				if strings.HasPrefix(path, "incidents/") {
					path = filepath.Join("testdata", path)
				}
				s = loadFixture(t, path)
			}
			if tc.conntrack != nil {
				s.Conntrack = &snapshot.Conntrack{Sources: []string{"Prometheus"}, Nodes: tc.conntrack}
			}
			s.CollectedAt = fixNow
			plan, err := engine.Select(All(DefaultOptions()), engine.Selection{}, snapshot.SourceCluster)
			if err != nil {
				t.Fatal(err)
			}
			r := engine.Run(s, plan, fixNow)
			if len(r.Findings) == 0 || len(r.Incidents) == 0 {
				t.Fatalf("no incident; findings %q", summaries(r.Findings))
			}
			first := r.Findings[0]
			if first.Check != tc.root.check || !slices.ContainsFunc(first.Objects, func(o snapshot.Ref) bool { return o.Name == tc.root.name }) {
				t.Fatalf("findings[0] = %s, want %s about %s; incidents %+v", summary(first), tc.root.check, tc.root.name, r.Incidents)
			}
			if r.Incidents[0].Root != first.ID {
				t.Errorf("the first incident's root is %s, not findings[0] (%s)", r.Incidents[0].Root, first.ID)
			}
			for _, sym := range tc.symptoms {
				if got := rootOf(r, sym.check, sym.name); got != summary(first) {
					t.Errorf("%s about %s: root cause %q, want %q", sym.check, sym.name, got, summary(first))
				}
			}
			for _, other := range tc.unrelated {
				if got := rootOf(r, other.check, other.name); got == summary(first) {
					t.Errorf("%s about %s is linked to %s, which the evidence does not connect it to", other.check, other.name, got)
				}
			}
			if tc.changed != "" {
				var timeline []string
				for _, c := range r.Incidents[0].Changes {
					timeline = append(timeline, c.Kind+": "+c.Summary)
				}
				if !slices.ContainsFunc(timeline, func(line string) bool { return strings.Contains(line, tc.changed) }) {
					t.Errorf("changed before it: %q, want %q", timeline, tc.changed)
				}
				if !slices.ContainsFunc(first.Fix, func(line string) bool { return strings.Contains(line, tc.undo) }) {
					t.Errorf("the root's fix lacks %q:\n%s", tc.undo, strings.Join(first.Fix, "\n"))
				}
			}
			// A cause is never listed below its own symptom.
			position := map[string]int{}
			for i, f := range r.Findings {
				position[f.ID] = i
			}
			for _, inc := range r.Incidents {
				for _, id := range inc.Symptoms {
					if position[id] < position[inc.Root] {
						t.Errorf("symptom %s listed above its root %s", id, inc.Root)
					}
				}
			}
		})
	}
}

// Every link names checks of the catalog other than its own, and says how the objects connect:
// a link to a renamed check would silently stop grouping.
func TestLinksNameCatalogChecks(t *testing.T) {
	ids := map[string]bool{}
	for _, c := range All(DefaultOptions()) {
		ids[c.Meta().ID] = true
	}
	linked := 0
	for _, c := range All(DefaultOptions()) {
		m := c.Meta()
		for _, l := range m.Links {
			linked++
			if l.How == "" || len(l.Explains) == 0 {
				t.Errorf("%s: a link without How or Explains: %+v", m.ID, l)
			}
			for _, id := range l.Explains {
				if !ids[id] || id == m.ID {
					t.Errorf("%s links %q, which is not another check of the catalog", m.ID, id)
				}
			}
		}
	}
	if linked == 0 {
		t.Error("no check declares a link")
	}
}
