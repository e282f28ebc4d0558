package resources

import (
	"strings"
	"testing"

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
	for _, f := range findings {
		if f.Objects[0].Name == name {
			return f.Fix
		}
	}
	t.Fatalf("no finding on %s", name)
	return nil
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
