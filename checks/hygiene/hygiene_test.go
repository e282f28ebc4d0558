package hygiene

import (
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestChecksOnFixtures(t *testing.T) {
	oneNode := func(s *snapshot.Snapshot) { s.Nodes = s.Nodes[:1] }
	fixture.RunCases(t, check.CategoryReliability, Checks(), []fixture.Case{
		{Check: ReadinessMissing{}, Fixture: "readiness-probe-missing.yaml", Want: []string{
			"medium readiness-probe-missing shop/deployment/web",
			"medium readiness-probe-missing shop/statefulset/cache",
			"medium readiness-probe-missing shop/deployment/queue",
		}},
		{Check: LivenessIsReadiness{}, Fixture: "liveness-probe-same-as-readiness.yaml", Want: []string{
			"medium liveness-probe-same-as-readiness shop/deployment/web",
			"low liveness-probe-same-as-readiness shop/deployment/jobs",
		}},
		{Check: LivenessKillsStartup{}, Fixture: "liveness-probe-kills-startup.yaml", Want: []string{
			"medium liveness-probe-kills-startup shop/deployment/search",
			"medium liveness-probe-kills-startup shop/statefulset/db",
		}},
		{Check: MutableImageTag{}, Fixture: "image-tag-mutable.yaml", Want: []string{
			"medium image-tag-mutable shop/deployment/web",
			"medium image-tag-mutable shop/pod/debug",
		}},
		{Check: PullRateLimited{}, Fixture: "image-pull-rate-limited.yaml", Want: []string{
			"low image-pull-rate-limited shop/deployment/cache,shop/deployment/web,shop/serviceaccount/default",
		}},
		{Check: SelectorRefused{}, Fixture: "controller-selector-invalid.yaml", Want: []string{
			"high controller-selector-invalid shop/deployment/api",
			"high controller-selector-invalid shop/daemonset/agent",
			"high controller-selector-invalid shop/statefulset/db",
			"high controller-selector-invalid shop/replicationcontroller/old",
		}},
		{Check: ContainersRefused{}, Fixture: "container-spec-invalid.yaml", Want: []string{
			"high container-spec-invalid shop/deployment/web",
			"high container-spec-invalid shop/daemonset/agent",
		}},
		{Check: PortsAmbiguous{}, Fixture: "container-port-ambiguous.yaml", Want: []string{
			"low container-port-ambiguous shop/deployment/web",
			"low container-port-ambiguous shop/deployment/api",
		}},
		{Check: DisruptionBlocked{}, Fixture: "pdb-blocks-eviction.yaml", Want: []string{
			"medium pdb-blocks-eviction shop/deployment/web,shop/poddisruptionbudget/web",
			"medium pdb-blocks-eviction shop/statefulset/db,shop/poddisruptionbudget/db",
			"medium pdb-blocks-eviction shop/deployment/cache,shop/poddisruptionbudget/cache,shop/poddisruptionbudget/data-tier",
		}},
		{Check: ReplicasNotSpread{}, Fixture: "replicas-not-spread.yaml", Want: []string{
			"low replicas-not-spread shop/deployment/web",
			"medium replicas-not-spread shop/deployment/api",
		}},
		// On one Ready node there is nowhere to spread to.
		{Check: ReplicasNotSpread{}, Fixture: "replicas-not-spread.yaml", Probes: oneNode},
	})
}
