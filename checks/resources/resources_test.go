package resources

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestChecksOnFixtures(t *testing.T) {
	fixture.RunCases(t, check.CategoryResources, Checks(DefaultOptions()), []fixture.Case{
		{Check: MemoryLimitMissing{}, Fixture: "memory-limit-missing.yaml", Want: []string{
			"medium memory-limit-missing app/deployment/nolimit",
			"medium memory-limit-missing app/deployment/sidecar",
			"medium memory-limit-missing app/cronjob/report",
			"medium memory-limit-missing app/pod/debug",
			"medium memory-limit-missing app/deployment/zero",
			"medium memory-limit-missing app/rollout/canary",
			"medium memory-limit-missing app/replicationcontroller/legacy",
		}},
		{Check: MemoryRequestMissing{}, Fixture: "memory-request-missing.yaml", Want: []string{
			"medium memory-request-missing app/deployment/bare",
			"medium memory-request-missing app/daemonset/agent",
			"medium memory-request-missing app/replicationcontroller/legacy",
		}},
		{Check: CPURequestMissing{}, Fixture: "cpu-request-missing.yaml", Want: []string{
			"low cpu-request-missing app/deployment/nocpu",
		}},
		{Check: BestEffort{}, Fixture: "besteffort-pod.yaml", Want: []string{
			"low besteffort-pod mixed/deployment/be",
		}},
		{Check: MemoryOvercommit{Ratio: 2}, Fixture: "memory-overcommit.yaml", Want: []string{
			"low memory-overcommit app/deployment/greedy",
			"low memory-overcommit defaults/deployment/defaulted",
		}},
		// A higher ratio tolerates the LimitRange's 8x but not greedy's 10x.
		{Check: MemoryOvercommit{Ratio: 9}, Fixture: "memory-overcommit.yaml", Want: []string{
			"low memory-overcommit app/deployment/greedy",
		}},
		{Check: OOMKilled{}, Fixture: "container-oomkilled.yaml", Want: []string{
			"high container-oomkilled app/deployment/api",
			"high container-oomkilled app/deployment/web",
			"high container-oomkilled app/job/batch",
		}},
		{Check: UsageNearLimit{}, Fixture: "memory-usage-near-limit.yaml", Want: []string{
			"medium memory-usage-near-limit app/pod/hot",
			"medium memory-usage-near-limit app/pod/meshed",
		}},
		{Check: NodeMemoryOvercommit{}, Fixture: "node-memory-overcommit.yaml", Want: []string{
			"medium node-memory-overcommit node/n1",
		}},
		{Check: PressureWithoutLimits{}, Fixture: "memory-pressure-unlimited-pods.yaml", Want: []string{
			"high memory-pressure-unlimited-pods node/n1,app/deployment/leaky",
		}},
		{Check: NamespaceWithoutLimits{}, Fixture: "namespace-without-limits.yaml", Want: []string{
			"low namespace-without-limits namespace/a",
		}},
	})
}

// fixes returns the fix lines of the finding on the named object.
func fixes(t *testing.T, findings []check.Finding, name string) []string {
	t.Helper()
	return finding(t, findings, name).Fix
}

func finding(t *testing.T, findings []check.Finding, name string) check.Finding {
	t.Helper()
	for _, f := range findings {
		if f.Objects[0].Name == name {
			return f
		}
	}
	t.Fatalf("no finding on %s", name)
	return check.Finding{}
}

func TestOOMKilledProposesALimitFromEvidence(t *testing.T) {
	findings := (OOMKilled{}).Run(fixture.Load(t, "container-oomkilled.yaml"))
	cases := map[string]string{
		// 200Mi used * 1.5 = 300Mi is below 256Mi + 25% = 320Mi. Only the limit is raised.
		"api": "kubectl set resources -n app deployment/api -c server --limits=memory=320Mi   # the limit it was killed at plus 25% (measured usage is 200Mi)",
		// Pods were killed at 512Mi and at 1Gi: twice the larger.
		"web": "kubectl set resources -n app deployment/web -c nginx --limits=memory=2048Mi   # 2x the limit it was killed at",
		// A Job's template cannot be changed in place.
		"batch": "# raise the memory limit of container work in the pod spec of job app/batch to 2048Mi",
	}
	for name, want := range cases {
		if got := fixes(t, findings, name); len(got) != 1 || !strings.HasPrefix(got[0], want) {
			t.Errorf("%s: fix %q, want it to start with %q", name, got, want)
		}
	}
}

func TestMissingLimitFixes(t *testing.T) {
	findings := (MemoryLimitMissing{}).Run(fixture.Load(t, "memory-limit-missing.yaml"))
	// Measured: 300Mi peak plus half, above the 256Mi request.
	if got := fixes(t, findings, "nolimit"); len(got) != 1 || !strings.HasPrefix(got[0], "kubectl set resources -n app deployment/nolimit -c app --limits=memory=450Mi   # peak usage 300Mi") {
		t.Errorf("nolimit fix %q", got)
	}
	// Not measured: a placeholder that says how to fill it, never a guess.
	if got := fixes(t, findings, "sidecar"); len(got) != 1 || !strings.Contains(got[0], "-c proxy --limits=memory=MEMORY_LIMIT   # MEMORY_LIMIT: the container's peak memory") {
		t.Errorf("sidecar fix %q", got)
	}
	if got := fixes(t, findings, "report"); len(got) != 1 || !strings.HasPrefix(got[0], "kubectl set resources -n app cronjob/report -c report") {
		t.Errorf("kubectl sets resources on CronJobs, got %q", got)
	}
	if got := fixes(t, findings, "legacy"); len(got) != 1 || !strings.HasPrefix(got[0], "kubectl set resources -n app replicationcontroller/legacy -c app") {
		t.Errorf("kubectl sets resources on ReplicationControllers, got %q", got)
	}
	if got := fixes(t, findings, "debug"); len(got) != 1 || !strings.Contains(got[0], "resources:\n  limits:\n    memory: MEMORY_LIMIT") {
		t.Errorf("a bare pod gets YAML to add, got %q", got)
	}
}

// For manifests, the finding says that a LimitRange in the cluster might fill the gap.
func TestMissingLimitOnManifestsMentionsLimitRanges(t *testing.T) {
	s := fixture.Load(t, "memory-limit-missing.yaml")
	s.Source = snapshot.SourceManifests
	findings := (MemoryLimitMissing{}).Run(s)
	if len(findings) == 0 || len(findings[0].Evidence) == 0 || !strings.Contains(findings[0].Evidence[0], "if the cluster has one, the API server fills it in") {
		t.Errorf("evidence %q", findings[0].Evidence)
	}
}

func TestNodeOvercommitEvidence(t *testing.T) {
	f := (NodeMemoryOvercommit{}).Run(fixture.Load(t, "node-memory-overcommit.yaml"))
	if len(f) != 1 || !strings.Contains(f[0].Evidence[0], "5120Mi of 4096Mi allocatable (125%), plus 1 pod without a limit") {
		t.Fatalf("evidence %+v", f)
	}
	// With -n it would see one namespace's pods only; the engine then marks it not evaluated.
	if !(NodeMemoryOvercommit{}).Meta().WholeCluster {
		t.Error("node-memory-overcommit must declare that it needs every namespace")
	}
}

// The namespace fix proposes default requests only: a default limit would OOM-kill or reject
// the containers that run without one today.
func TestNamespaceFixIsSafe(t *testing.T) {
	f := (NamespaceWithoutLimits{}).Run(fixture.Load(t, "namespace-without-limits.yaml"))
	if len(f) != 1 || !strings.Contains(f[0].Fix[0], "defaultRequest:") || strings.Contains(f[0].Fix[0], "default:") {
		t.Errorf("fix %q", f[0].Fix)
	}
}

// An OOM kill is dated: the evidence says how long ago, and the finding since when the workload
// has been killed, by the earliest of its pods' last kills.
func TestOOMKilledSaysWhen(t *testing.T) {
	f := finding(t, (OOMKilled{}).Run(fixture.Load(t, "container-oomkilled.yaml")), "api")
	if f.Since == nil || f.Since.Format(time.RFC3339) != "2026-11-24T09:00:00Z" {
		t.Errorf("since %v", f.Since)
	}
	if !strings.Contains(strings.Join(f.Evidence, "\n"), "last OOM kill 60m ago") {
		t.Errorf("evidence %q", f.Evidence)
	}
}

// Memory pressure is dated, and kubectl top is offered only where the metrics API answered.
func TestPressureFixesNeedTheMetricsAPIForTop(t *testing.T) {
	s := fixture.Load(t, "memory-pressure-unlimited-pods.yaml")
	f := finding(t, (PressureWithoutLimits{}).Run(s), "n1")
	if f.Since == nil || f.Since.Format(time.RFC3339) != "2026-11-24T09:47:00Z" || f.Evidence[0] != "node n1: MemoryPressure=True for 13m" {
		t.Errorf("since %v, evidence %q", f.Since, f.Evidence)
	}
	if strings.Contains(strings.Join(f.Fix, "\n"), "kubectl top") {
		t.Errorf("kubectl top without the metrics API: %q", f.Fix)
	}
	s.PodMetrics = []metricsv1beta1.PodMetrics{{ObjectMeta: metav1.ObjectMeta{Name: "leaky-1", Namespace: "app"}}}
	f = finding(t, (PressureWithoutLimits{}).Run(s), "n1")
	if !slices.Contains(f.Fix, "kubectl top pods -A --sort-by=memory") {
		t.Errorf("no kubectl top although the metrics API answered: %q", f.Fix)
	}
}

// Where nothing measured a container, the placeholder says where to read its peak: kubectl top
// only if the metrics API is served.
func TestPlaceholdersSayWhereToMeasure(t *testing.T) {
	s := fixture.Load(t, "memory-limit-missing.yaml")
	if got := fixes(t, (MemoryLimitMissing{}).Run(s), "sidecar"); len(got) != 1 || !strings.HasSuffix(got[0], "(kubectl top pod --containers)") {
		t.Errorf("with the metrics API: %q", got)
	}
	s.PodMetrics = nil
	s.MarkAbsent(snapshot.KindPodMetrics, "not served")
	got := fixes(t, (MemoryLimitMissing{}).Run(s), "sidecar")
	if len(got) != 1 || strings.Contains(got[0], "kubectl top") || !strings.HasSuffix(got[0], "(from your monitoring: the metrics API did not answer)") {
		t.Errorf("without the metrics API: %q", got)
	}
}

// One LimitRange per namespace the finding names, in one loop.
func TestNamespaceFixCoversEveryNamespace(t *testing.T) {
	s := fixture.Load(t, "namespace-without-limits.yaml")
	s.Pods = append(s.Pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "z"}})
	s.Finish()
	f := (NamespaceWithoutLimits{}).Run(s)
	if len(f) != 1 || len(f[0].Objects) < 2 {
		t.Fatalf("want one finding about several namespaces: %+v", f)
	}
	var names []string
	for _, o := range f[0].Objects {
		names = append(names, o.Name)
	}
	if want := "for ns in " + strings.Join(names, " ") + "; do kubectl apply -n \"$ns\" -f - <<'EOF'\n"; !strings.HasPrefix(f[0].Fix[0], want) {
		t.Errorf("fix %q, want it to start with %q", f[0].Fix[0], want)
	}
}
