package conntrack

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const healthy = "healthy.yaml"

const (
	nodeA          = "node/node-a"
	nodeB          = "node/node-b"
	nodeC          = "node/node-c"
	proxyDaemonSet = "kube-system/daemonset/kube-proxy"
)

func cases() []fixture.Case {
	mutation := func(c check.Check, file string, want ...string) fixture.Case {
		return fixture.Case{Check: c, Base: healthy, Fixture: file, Want: want}
	}
	measured := func(c check.Check, nodeB snapshot.ConntrackNode, want ...string) fixture.Case {
		return fixture.Case{Check: c, Fixture: healthy, Want: want,
			Probes: measurements(measuredNode("node-a", 20000, 131072), nodeB, measuredNode("node-c", 100000, 524288))}
	}
	insertFailing := measuredNode("node-b", 0.10*131072, 131072)
	insertFailing.Rates.InsertFailed = 3.5
	allNodes := proxyDaemonSet + "," + nodeA + "," + nodeB + "," + nodeC
	return []fixture.Case{
		// Measured by node_exporter: the healthy nodes, with node-b's table filling up or
		// failing to insert.
		measured(TableUsage{}, measuredNode("node-b", 0.96*131072, 131072), "high conntrack-table-usage "+nodeB),
		measured(Drops{}, insertFailing, "critical conntrack-drops "+nodeB),
		// Unmeasured, kube-proxy's settings are only a floor: low.
		mutation(TableSmall{}, "conntrack-table-small.yaml", "low conntrack-table-small "+allNodes),
		mutation(TableSmall{}, "table-small-flags.yaml", "low conntrack-table-small "+allNodes),
		mutation(TableSmall{}, "table-small-flags-ignored.yaml"),
		mutation(TableSmall{}, "table-small-subpath.yaml", "low conntrack-table-small "+allNodes),
		mutation(TableFullReported{}, "conntrack-table-full-reported.yaml", "critical conntrack-table-full-reported "+nodeB),
		mutation(TableFullReported{}, "table-full-event.yaml", "critical conntrack-table-full-reported "+nodeC),
		mutation(TableFullReported{}, "table-full-event-old.yaml", "medium conntrack-table-full-reported "+nodeC),
		mutation(TableFullReported{}, "table-full-other-event.yaml"),
	}
}

func TestFixtures(t *testing.T) {
	fixture.RunCases(t, check.CategoryConntrack, Checks(), cases())
}

// measuredNode is node_exporter's view of one node.
func measuredNode(name string, entries, limit float64) snapshot.ConntrackNode {
	return snapshot.ConntrackNode{Node: name, Source: "Prometheus at http://127.0.0.1:9090", Entries: entries, Limit: limit,
		Rates: &snapshot.ConntrackCounters{}, RateWindow: 5 * time.Minute}
}

// measurements records what node_exporter reported for nodes, as the collector does.
func measurements(nodes ...snapshot.ConntrackNode) func(*snapshot.Snapshot) {
	return func(s *snapshot.Snapshot) {
		s.Conntrack = &snapshot.Conntrack{Sources: []string{"Prometheus at http://127.0.0.1:9090"}, Nodes: slices.Clone(nodes)}
		s.Finish()
	}
}

// withMeasurements is the healthy fixture with its nodes measured.
func withMeasurements(t *testing.T, nodes ...snapshot.ConntrackNode) *snapshot.Snapshot {
	s := fixture.Load(t, healthy)
	measurements(nodes...)(s)
	return s
}

// runFamily runs every conntrack check as the engine does: those that say they cannot see are
// left out, and named.
func runFamily(s *snapshot.Snapshot) (findings []check.Finding, notEvaluated []string) {
	for _, c := range Checks() {
		if reason, _ := check.WhyNot(c, s); reason != "" {
			notEvaluated = append(notEvaluated, c.Meta().ID)
			continue
		}
		findings = append(findings, c.Run(s)...)
	}
	return findings, notEvaluated
}

func TestHealthyClusterHasNoFinding(t *testing.T) {
	s := withMeasurements(t, measuredNode("node-a", 20000, 131072), measuredNode("node-b", 64000, 131072),
		measuredNode("node-c", 100000, 524288))
	findings, notEvaluated := runFamily(s)
	if len(findings) != 0 || len(notEvaluated) != 0 {
		t.Errorf("healthy cluster: findings %q, not evaluated %v", fixture.Summaries(findings), notEvaluated)
	}
}

// The usage bands, at the edges the issue names: 74% is fine, 76% medium, 96% high, 98% critical.
func TestUsageBands(t *testing.T) {
	for _, tc := range []struct {
		ratio float64
		want  string
	}{
		{0.74, ""},
		{0.76, "medium conntrack-table-usage " + nodeB},
		{0.90, "high conntrack-table-usage " + nodeB},
		{0.96, "high conntrack-table-usage " + nodeB},
		{0.98, "critical conntrack-table-usage " + nodeB},
		{1.00, "critical conntrack-table-usage " + nodeB},
	} {
		s := withMeasurements(t, measuredNode("node-a", 1000, 131072), measuredNode("node-b", tc.ratio*131072, 131072))
		got := fixture.Summaries(TableUsage{}.Run(s))
		if (tc.want == "" && len(got) != 0) || (tc.want != "" && !slices.Equal(got, []string{tc.want})) {
			t.Errorf("ratio %.2f: got %q, want %q", tc.ratio, got, tc.want)
		}
	}
}

// "4 of 120 nodes" is one finding: the worst node sets the severity, every node is listed
// fullest first, and the nodes nobody measured are named.
func TestUsageAggregatesNodes(t *testing.T) {
	s := withMeasurements(t, measuredNode("node-a", 0.91*131072, 131072), measuredNode("node-b", 0.80*131072, 131072),
		measuredNode("node-c", 0.99*524288, 524288))
	s.Conntrack.Nodes = s.Conntrack.Nodes[1:] // node-a not measured
	s.Conntrack.Unused = []string{"node-exporter on node node-a: GET pods/http:node-exporter-a:9100/proxy/metrics: address not allowed"}
	findings := TableUsage{}.Run(s)
	if len(findings) != 1 {
		t.Fatalf("want one finding, got %q", fixture.Summaries(findings))
	}
	f := findings[0]
	if got := fixture.Summary(f); got != "critical conntrack-table-usage "+nodeC+","+nodeB {
		t.Errorf("summary %q", got)
	}
	for _, want := range []string{"2 of 2 measured nodes", "1 at 98% or more", "1 at 75% or more", "node-c, holds 519,045 of 524,288 entries (99.0%)"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("message %q lacks %q", f.Message, want)
		}
	}
	evidence := strings.Join(f.Evidence, "\n")
	for _, want := range []string{"node node-c: 519,045 of 524,288 entries (99.0%)", "not measured: 1 node (node-a)", "address not allowed"} {
		if !strings.Contains(evidence, want) {
			t.Errorf("evidence lacks %q:\n%s", want, evidence)
		}
	}
	if !f.Incident || !strings.Contains(strings.Join(f.Fix, "\n"), "nf_conntrack_max=1048576") {
		t.Errorf("a 99%% full table is an incident whose fix doubles the table: %v %q", f.Incident, f.Fix)
	}
}

// A limit of 0 or a missing limit is no measurement: never a pass.
func TestUsageWithoutLimitIsNotEvaluated(t *testing.T) {
	s := withMeasurements(t, measuredNode("node-a", 5000, 0))
	if reason := (TableUsage{}).NotEvaluable(s); !strings.Contains(reason, "no table limit") {
		t.Errorf("not evaluable reason %q", reason)
	}
	s = withMeasurements(t, measuredNode("node-a", 5000, 0), measuredNode("node-b", 0.8*131072, 131072))
	if reason := (TableUsage{}).NotEvaluable(s); reason != "" {
		t.Errorf("one measured node is enough: %q", reason)
	}
}

func TestDrops(t *testing.T) {
	rising := measuredNode("node-b", 0.10*131072, 131072) // a low ratio: the DNAT race, not a full table
	rising.Rates.InsertFailed = 3.5
	full := measuredNode("node-c", 0.99*524288, 524288)
	full.Rates.Drop = 12
	pastOnly := snapshot.ConntrackNode{Node: "node-a", Source: "node-exporter pod monitoring/node-exporter-a", Entries: 100, Limit: 131072,
		Counters: &snapshot.ConntrackCounters{InsertFailed: 4000}, Rates: &snapshot.ConntrackCounters{}, RateWindow: 2 * time.Second}

	findings := Drops{}.Run(withMeasurements(t, pastOnly, rising))
	if got := fixture.Summaries(findings); !slices.Equal(got, []string{"critical conntrack-drops " + nodeB}) {
		t.Fatalf("insert failures rising at a 10%% table: %q", got)
	}
	if !findings[0].Incident || !strings.Contains(findings[0].Message, "racing through DNAT") {
		t.Errorf("message %q", findings[0].Message)
	}
	findings = Drops{}.Run(withMeasurements(t, rising, full))
	if got := fixture.Summaries(findings); !slices.Equal(got, []string{"critical conntrack-drops " + nodeC + "," + nodeB}) {
		t.Fatalf("two nodes dropping: %q", got)
	}
	if !strings.Contains(findings[0].Message, "a full table, and insert failures") ||
		!strings.Contains(findings[0].Evidence[0], "node node-c: 3,600 dropped, 0 early-dropped, 0 insert failures in 5m0s") {
		t.Errorf("message %q evidence %q", findings[0].Message, findings[0].Evidence)
	}

	findings = Drops{}.Run(withMeasurements(t, pastOnly))
	if got := fixture.Summaries(findings); !slices.Equal(got, []string{"medium conntrack-drops " + nodeA}) || findings[0].Incident {
		t.Fatalf("drops since boot only: %q", got)
	}
	if !strings.Contains(findings[0].Evidence[0], "4,000 insert failures; none in the 2s observed") {
		t.Errorf("evidence %q", findings[0].Evidence)
	}

	quiet := measuredNode("node-a", 100, 131072)
	if got := (Drops{}).Run(withMeasurements(t, quiet)); len(got) != 0 {
		t.Errorf("no drops: %q", fixture.Summaries(got))
	}
	noStats := snapshot.ConntrackNode{Node: "node-a", Source: "x", Entries: 100, Limit: 131072}
	if reason := (Drops{}).NotEvaluable(withMeasurements(t, noStats)); !strings.Contains(reason, "node_nf_conntrack_stat_") {
		t.Errorf("without stat counters the drop check cannot see: %q", reason)
	}
}

// The node-report check is blind where nothing reports node problems: a quiet kubelet proves
// nothing about the table.
func TestTableFullReportedNeedsAReporter(t *testing.T) {
	s := fixture.Load(t, healthy)
	if reason := (TableFullReported{}).NotApplicable(s); reason != "" {
		t.Fatalf("node-problem-detector runs in the fixture: %q", reason)
	}
	s.Pods = slices.DeleteFunc(s.Pods, func(p corev1.Pod) bool { return strings.Contains(p.Name, "node-problem-detector") })
	for i := range s.Nodes {
		s.Nodes[i].Status.Conditions = s.Nodes[i].Status.Conditions[:1]
	}
	if reason := (TableFullReported{}).NotApplicable(s); !strings.Contains(reason, "node-problem-detector") {
		t.Errorf("no reporter: %q", reason)
	}
	s.Events = append(s.Events, corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "node-a"}, Message: "nf_conntrack: table full, dropping packet",
		LastTimestamp: metav1.NewTime(fixture.Now().Add(-5 * time.Minute))})
	if reason := (TableFullReported{}).NotApplicable(s); reason != "" {
		t.Errorf("a kernel event is a report: %q", reason)
	}
	if got := fixture.Summaries(TableFullReported{}.Run(s)); !slices.Equal(got, []string{"critical conntrack-table-full-reported " + nodeA}) {
		t.Errorf("got %q", got)
	}
}

func TestTableSmallNotEvaluable(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		mutate     func(*snapshot.Snapshot)
	}{
		{"no kube-proxy", "no kube-proxy DaemonSet", func(s *snapshot.Snapshot) { s.DaemonSets = nil }},
		{"configmap out of view", "is not in view", func(s *snapshot.Snapshot) { s.ConfigMaps = nil }},
		{"missing key", "does not exist", func(s *snapshot.Snapshot) {
			s.ConfigMaps[0].Data = map[string]string{"other": ""}
		}},
		{"broken yaml", "does not parse", func(s *snapshot.Snapshot) {
			s.ConfigMaps[0].Data["config.conf"] = "conntrack: [maxPerCore"
		}},
		{"config on the host", "not mounted from a ConfigMap", func(s *snapshot.Snapshot) {
			s.DaemonSets[0].Spec.Template.Spec.Containers[0].Command = []string{"kube-proxy", "--config=/etc/kube-proxy.yaml"}
		}},
		{"left to the kernel", "leaves nf_conntrack_max to the kernel", func(s *snapshot.Snapshot) {
			s.ConfigMaps[0].Data["config.conf"] = "conntrack:\n  maxPerCore: 0\n"
		}},
		{"bad flag", "is not a number", func(s *snapshot.Snapshot) {
			s.DaemonSets[0].Spec.Template.Spec.Containers[0].Command = []string{"kube-proxy", "--conntrack-min=lots"}
		}},
	} {
		s := fixture.Load(t, healthy)
		tc.mutate(s)
		if reason, _ := check.WhyNot(TableSmall{}, s); !strings.Contains(reason, tc.want) {
			t.Errorf("%s: reason %q, want %q", tc.name, reason, tc.want)
		}
		if got := (TableSmall{}).Run(s); len(got) != 0 {
			t.Errorf("%s: a check that cannot see reports %q", tc.name, fixture.Summaries(got))
		}
	}
}

// Defaults are fine for 110 pods; a node packed with 201 pods on 4 CPUs gets 652 entries per
// pod. A measured limit replaces the computed floor: a small one confirms the risk (medium), a
// large one clears it.
func TestTableSmallForTheLoad(t *testing.T) {
	s := fixture.Load(t, healthy)
	for i := range 200 {
		s.Pods = append(s.Pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("worker-%03d", i), Namespace: "batch"},
			Spec: corev1.PodSpec{NodeName: "node-b"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}})
	}
	s.Finish()
	findings := TableSmall{}.Run(s)
	if got := fixture.Summaries(findings); !slices.Equal(got, []string{"low conntrack-table-small " + proxyDaemonSet + "," + nodeB}) {
		t.Fatalf("got %q", got)
	}
	if e := findings[0].Evidence[0]; !strings.Contains(e, "raises the table to at least 131,072 entries (4 CPUs × maxPerCore 32768, at least min 131072)") ||
		!strings.Contains(e, "652 per pod for 201 pods") || !strings.Contains(findings[0].Message, "is not measured") {
		t.Errorf("message %q evidence %q", findings[0].Message, e)
	}
	s.Conntrack = &snapshot.Conntrack{Nodes: []snapshot.ConntrackNode{measuredNode("node-b", 1000, 131072)}}
	findings = TableSmall{}.Run(s)
	if got := fixture.Summaries(findings); !slices.Equal(got, []string{"medium conntrack-table-small " + proxyDaemonSet + "," + nodeB}) ||
		!strings.Contains(findings[0].Evidence[0], "measured limit 131,072 entries") {
		t.Fatalf("a measured small table confirms it: %q %q", got, findings[0].Evidence)
	}
	s.Conntrack = &snapshot.Conntrack{Nodes: []snapshot.ConntrackNode{measuredNode("node-b", 1000, 1048576)}}
	if got := (TableSmall{}).Run(s); len(got) != 0 {
		t.Errorf("node-b's measured table of 1,048,576 is ample: %q", fixture.Summaries(got))
	}
}

// kube-proxy caps maxPerCore × CPUs at 1,048,576, and then ignores min.
func TestTableSizeFollowsKubeProxy(t *testing.T) {
	for _, tc := range []struct{ maxPerCore, min, cpus, want int64 }{
		{32768, 131072, 2, 131072},
		{32768, 131072, 8, 262144},
		{32768, 131072, 64, 1048576},
		{32768, 4000000, 64, 1048576},
		{32768, 4000000, 8, 4000000},
		{0, 131072, 8, 0},
	} {
		if got := tableSize(tc.maxPerCore, tc.min, tc.cpus); got != tc.want {
			t.Errorf("tableSize(%d, %d, %d) = %d, want %d", tc.maxPerCore, tc.min, tc.cpus, got, tc.want)
		}
	}
	// A 64-CPU node with kube-proxy's defaults gets the capped table: not below the defaults.
	s := fixture.Load(t, healthy)
	s.Nodes[2].Status.Capacity[corev1.ResourceCPU] = resource.MustParse("64")
	s.Conntrack = &snapshot.Conntrack{Nodes: []snapshot.ConntrackNode{measuredNode("node-c", 1000, 1048576)}}
	if got := (TableSmall{}).Run(s); len(got) != 0 {
		t.Errorf("capped default table reported: %q", fixture.Summaries(got))
	}
}

// Boolean flags never take the next word: --conntrack-tcp-be-liberal does not swallow the flag
// after it.
func TestKubeProxyBooleanFlags(t *testing.T) {
	s := fixture.Load(t, healthy)
	s.DaemonSets[0].Spec.Template.Spec.Containers[0].Command = []string{"kube-proxy", "--conntrack-tcp-be-liberal",
		"--conntrack-max-per-core=1024", "--ipvs-strict-arp", "--conntrack-min", "2048"}
	kp, reason := findKubeProxy(s)
	if reason != "" || kp.maxPerCore != 1024 || kp.min != 2048 {
		t.Errorf("parsed %+v (%q)", kp, reason)
	}
}

// The configuration file is found where the kubelet would mount it.
func TestKubeProxyConfigMounts(t *testing.T) {
	data := "conntrack:\n  maxPerCore: 1000\n"
	for _, tc := range []struct {
		name       string
		configPath string
		mounts     []corev1.VolumeMount
		volumes    []corev1.Volume
		data       map[string]string
		want       string
	}{
		{name: "subPath through items", configPath: "/etc/kp/config.yaml",
			mounts:  []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/kp/config.yaml", SubPath: "config.yaml"}},
			volumes: []corev1.Volume{configMapVolume("cfg", "kube-proxy", corev1.KeyToPath{Key: "real-key", Path: "config.yaml"})},
			data:    map[string]string{"real-key": data}, want: "key real-key"},
		{name: "items without the file", configPath: "/etc/kp/config.yaml",
			mounts:  []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/kp"}},
			volumes: []corev1.Volume{configMapVolume("cfg", "kube-proxy", corev1.KeyToPath{Key: "other", Path: "other.yaml"})},
			data:    map[string]string{"config.yaml": data}, want: "maps no ConfigMap key to config.yaml"},
		{name: "the deepest mount wins", configPath: "/etc/kp/inner/config.yaml",
			mounts: []corev1.VolumeMount{{Name: "host", MountPath: "/etc/kp"}, {Name: "cfg", MountPath: "/etc/kp/inner"}},
			volumes: []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}},
				configMapVolume("cfg", "kube-proxy")},
			data: map[string]string{"config.yaml": data}, want: "key config.yaml"},
		{name: "projected", configPath: "/etc/kp/config.yaml",
			mounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/kp"}},
			volumes: []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{
					LocalObjectReference: corev1.LocalObjectReference{Name: "kube-proxy"}}}}}}}},
			data: map[string]string{"config.yaml": data}, want: "key config.yaml"},
		{name: "host path", configPath: "/etc/kp/config.yaml",
			mounts:  []corev1.VolumeMount{{Name: "host", MountPath: "/etc/kp"}},
			volumes: []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc/kp"}}}},
			data:    map[string]string{"config.yaml": data}, want: "not mounted from a ConfigMap"},
	} {
		s := fixture.Load(t, healthy)
		spec := &s.DaemonSets[0].Spec.Template.Spec
		spec.Containers[0].Command = []string{"kube-proxy", "--config=" + tc.configPath}
		spec.Containers[0].VolumeMounts, spec.Volumes = tc.mounts, tc.volumes
		s.ConfigMaps[0].Data = tc.data
		kp, reason := findKubeProxy(s)
		got := reason
		if kp != nil {
			got = kp.source
			if kp.maxPerCore != 1000 {
				t.Errorf("%s: maxPerCore %d", tc.name, kp.maxPerCore)
			}
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func configMapVolume(name, configMap string, items ...corev1.KeyToPath) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: configMap}, Items: items}}}
}

func TestCount(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 131072: "131,072", 1048576: "1,048,576"} {
		if got := count(in); got != want {
			t.Errorf("count(%v) = %q, want %q", in, got, want)
		}
	}
}

// Each mutation of the healthy fixture causes its own finding and no other in the family.
func TestEachMutationCausesOnlyItsFinding(t *testing.T) {
	for _, tc := range cases() {
		findings, notEvaluated := runFamily(tc.Snapshot(t))
		if got := fixture.Summaries(findings); !slices.Equal(got, tc.Want) && !(len(got) == 0 && len(tc.Want) == 0) {
			t.Errorf("%s: the family reports %q, want %q", tc.Fixture, got, tc.Want)
		}
		if len(notEvaluated) != 0 {
			t.Errorf("%s: not evaluated %v", tc.Fixture, notEvaluated)
		}
	}
}

func TestInWindow(t *testing.T) {
	for _, tc := range []struct {
		rate   float64
		window time.Duration
		want   string
	}{{0, 5 * time.Minute, "0"}, {0.004, 5 * time.Minute, "1"}, {0.001, 5 * time.Minute, "<1"}, {12, 5 * time.Minute, "3,600"}, {2.5, 2 * time.Second, "5"}} {
		if got := inWindow(tc.rate, tc.window); got != tc.want {
			t.Errorf("inWindow(%v, %s) = %q, want %q", tc.rate, tc.window, got, tc.want)
		}
	}
}

// Rates that Prometheus could not compute blind the drop check, and it says which query failed.
func TestDropsBlindWhenRatesFailed(t *testing.T) {
	noStats := snapshot.ConntrackNode{Node: "node-a", Source: "x", Entries: 100, Limit: 131072}
	s := withMeasurements(t, noStats)
	s.Conntrack.Unused = []string{"Prometheus at http://127.0.0.1:9090: rate(node_nf_conntrack_stat_drop[5m]) failed, so drop rates are unknown: query timed out"}
	if reason := (Drops{}).NotEvaluable(s); !strings.Contains(reason, "query timed out") {
		t.Errorf("reason %q", reason)
	}
}

// Limited to another namespace, kube-proxy's settings are out of the run's scope, said as such:
// not "the cluster runs without kube-proxy".
func TestTableSmallBeyondTheNamespace(t *testing.T) {
	m := TableSmall{}.Meta()
	if reason := m.OutOfNamespace("shop"); !strings.Contains(reason, "judges what runs in kube-system, beyond namespace shop") {
		t.Errorf("-n shop: reason %q", reason)
	}
	if reason := m.OutOfNamespace("kube-system"); reason != "" {
		t.Errorf("-n kube-system: reason %q", reason)
	}
}

// Events or pods that could not be read may hide the reporter: the check could not see, it is
// not a cluster without one.
func TestTableFullReportedWithUnreadableEvents(t *testing.T) {
	s := fixture.Load(t, healthy)
	s.Pods = slices.DeleteFunc(s.Pods, func(p corev1.Pod) bool { return strings.Contains(p.Name, "node-problem-detector") })
	for i := range s.Nodes {
		s.Nodes[i].Status.Conditions = s.Nodes[i].Status.Conditions[:1]
	}
	s.Events = nil
	s.MarkUnavailable(snapshot.KindEvents, "forbidden")
	reason, notApplicable := check.WhyNot(TableFullReported{}, s)
	if notApplicable || !strings.Contains(reason, "cannot read events: forbidden") {
		t.Errorf("reason %q, not applicable %v", reason, notApplicable)
	}
	s.Unavailable, s.Absent = map[snapshot.Kind]string{}, nil
	s.MarkAbsent(snapshot.KindEvents, "not served")
	if _, notApplicable := check.WhyNot(TableFullReported{}, s); !notApplicable {
		t.Error("with events absent, not unread, nothing reports: not applicable")
	}
}

// A node's report says since when its table is full: a condition since its transition, an event
// since its first occurrence; the evidence gives both ages.
func TestTableFullReportedSaysSinceWhen(t *testing.T) {
	for _, tc := range []struct {
		fixture, since, evidence string
	}{
		{"conntrack-table-full-reported.yaml", "2026-11-24T09:30:00Z", "condition ConntrackFull=True for 30m"},
		{"table-full-event.yaml", "2026-11-24T09:20:00Z", "37 times, first 40m ago, last 10m ago"},
	} {
		findings := TableFullReported{}.Run(fixture.LoadOverlay(t, healthy, tc.fixture))
		if len(findings) != 1 {
			t.Fatalf("%s: %d findings", tc.fixture, len(findings))
		}
		f := findings[0]
		if f.Since == nil || f.Since.Format(time.RFC3339) != tc.since {
			t.Errorf("%s: since %v, want %s", tc.fixture, f.Since, tc.since)
		}
		if evidence := strings.Join(f.Evidence, "\n"); !strings.Contains(evidence, tc.evidence) {
			t.Errorf("%s: evidence lacks %q:\n%s", tc.fixture, tc.evidence, evidence)
		}
	}
	// Reported more than an hour ago, it is no incident, and no start of one.
	old := TableFullReported{}.Run(fixture.LoadOverlay(t, healthy, "table-full-event-old.yaml"))
	if len(old) != 1 || old[0].Incident || old[0].Since != nil {
		t.Errorf("an old report: %+v", old)
	}
}

// The fixes raise each node's table, and restart kube-proxy only where there is one.
func TestTableFixesPerNodeAndKubeProxyOnlyWhereItRuns(t *testing.T) {
	full := func(name string) snapshot.ConntrackNode {
		n := measuredNode(name, 0.99*131072, 131072)
		n.Rates.Drop = 1
		return n
	}
	s := withMeasurements(t, full("node-a"), full("node-b"))
	findings := Drops{}.Run(s)
	if len(findings) != 1 {
		t.Fatalf("%d findings", len(findings))
	}
	fix := strings.Join(findings[0].Fix, "\n")
	for _, want := range []string{
		"kubectl debug node/node-a -it --profile=sysadmin --image=busybox -- sysctl -w net.netfilter.nf_conntrack_max=262144",
		"kubectl debug node/node-b -it --profile=sysadmin --image=busybox -- sysctl -w net.netfilter.nf_conntrack_max=262144",
		"kubectl rollout restart -n kube-system daemonset/kube-proxy",
	} {
		if !strings.Contains(fix, want) {
			t.Errorf("fix lacks %q:\n%s", want, fix)
		}
	}
	// A cluster without kube-proxy (a CNI replaces it): no command for it.
	s = withMeasurements(t, full("node-a"))
	s.DaemonSets = slices.DeleteFunc(s.DaemonSets, func(ds appsv1.DaemonSet) bool { return ds.Name == "kube-proxy" })
	s.Finish()
	for _, line := range (Drops{}).Run(s)[0].Fix {
		if strings.Contains(line, "kube-proxy") {
			t.Errorf("a fix for the absent kube-proxy: %q", line)
		}
	}
}
