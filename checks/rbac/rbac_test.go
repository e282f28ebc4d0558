package rbac

import (
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// byID finds a check of the family.
func byID(t *testing.T, id string) check.Check {
	t.Helper()
	for _, c := range All() {
		if c.Meta().ID == id {
			return c
		}
	}
	t.Fatalf("no check %s", id)
	return nil
}

// Every fixture is laid over the API server's defaults (cluster-admin bound to system:masters),
// which are never reported.
func TestFixtures(t *testing.T) {
	over := func(id, file string, want ...string) fixture.Case {
		return fixture.Case{Check: byID(t, id), Base: "defaults.yaml", Fixture: file, Want: want}
	}
	user := func(sev, id, name, role string) string {
		return sev + " " + id + " user/" + name + ",clusterrolebinding/" + role + "-" + name + ",clusterrole/" + role
	}
	fixture.RunCases(t, check.CategoryRBAC, All(), []fixture.Case{
		over("rbac-cluster-admin", "rbac-cluster-admin.yaml",
			"critical rbac-cluster-admin group/ops,clusterrolebinding/ops-admins,clusterrole/cluster-admin",
			"critical rbac-cluster-admin ci/serviceaccount/deployer,clusterrolebinding/ci-all-in,clusterrole/all-in",
			"high rbac-cluster-admin user/bob,dev/rolebinding/bob-admin,clusterrole/cluster-admin"),
		over("rbac-secrets-read", "rbac-secrets-read.yaml",
			"high rbac-secrets-read user/auditor,clusterrolebinding/auditor-secrets,clusterrole/secret-reader",
			"high rbac-secrets-read monitoring/serviceaccount/monitor,kube-system/rolebinding/monitor-secrets,clusterrole/secret-reader"),
		over("rbac-create-workloads", "rbac-create-workloads.yaml",
			"high rbac-create-workloads group/deployers,clusterrolebinding/deployers,clusterrole/deployer",
			"medium rbac-create-workloads user/dev,dev/rolebinding/dev-jobs,dev/role/job-runner"),
		over("rbac-pod-exec", "rbac-pod-exec.yaml", "high rbac-pod-exec user/support,shop/rolebinding/support-exec,clusterrole/exec-anything"),
		over("rbac-impersonate", "rbac-impersonate.yaml", user("critical", "rbac-impersonate", "mallory", "impersonator")),
		over("rbac-escalate-bind", "rbac-escalate-bind.yaml", user("critical", "rbac-escalate-bind", "eve", "role-binder")),
		over("rbac-token-create", "rbac-token-create.yaml", user("high", "rbac-token-create", "minter", "token-minter")),
		over("rbac-nodes-proxy", "rbac-nodes-proxy.yaml", user("high", "rbac-nodes-proxy", "scraper", "kubelet-proxy")),
		over("rbac-csr-approve", "rbac-csr-approve.yaml", user("high", "rbac-csr-approve", "approver", "csr-approver")),
		over("rbac-webhook-write", "rbac-webhook-write.yaml", user("high", "rbac-webhook-write", "installer", "webhook-writer")),
		over("rbac-delete-collection", "rbac-delete-collection.yaml", user("medium", "rbac-delete-collection", "janitor", "bulk-deleter")),
		over("rbac-wildcard-role", "rbac-wildcard-role.yaml",
			"medium rbac-wildcard-role clusterrole/operator", "medium rbac-wildcard-role dev/role/everything-here"),
		over("rbac-authenticated-grant", "rbac-authenticated-grant.yaml",
			"high rbac-authenticated-grant group/system:authenticated,clusterrolebinding/everyone-lists-pods,clusterrole/pod-lister"),
		over("rbac-default-sa-bound", "rbac-default-sa-bound.yaml",
			"medium rbac-default-sa-bound shop/serviceaccount/default,shop/rolebinding/config-editors,shop/role/config-editor"),
		over("rbac-missing-serviceaccount", "rbac-missing-serviceaccount.yaml",
			"medium rbac-missing-serviceaccount ci/serviceaccount/old-deployer,clusterrolebinding/ci-viewers"),
		over("rbac-dangling-binding", "rbac-dangling-binding.yaml", "low rbac-dangling-binding clusterrolebinding/legacy"),
		// The harmless reader of every ability fixture holds nothing dangerous.
		over("rbac-secrets-read", "rbac-impersonate.yaml"),
	})
}

// In manifests an aggregated ClusterRole has no rules yet: it gets those its selectors gather.
// On a cluster the stored rules are what the authorizer enforces, and are taken as they are.
func TestAggregatedClusterRoles(t *testing.T) {
	s := fixture.LoadOverlay(t, "defaults.yaml", "aggregated.yaml")
	if got := fixture.Summaries(byID(t, "rbac-secrets-read").Run(s)); len(got) != 0 {
		t.Errorf("cluster: the stored (empty) rules grant nothing, got %q", got)
	}
	s.Source = snapshot.SourceManifests
	want := "high rbac-secrets-read monitoring/serviceaccount/prometheus,clusterrolebinding/prometheus-reader,clusterrole/monitoring-reader"
	if got := fixture.Summaries(byID(t, "rbac-secrets-read").Run(s)); len(got) != 1 || got[0] != want {
		t.Errorf("manifests: got %q, want %q", got, want)
	}
}

// The evidence is the path from subject to binding to role to rule.
func TestEvidenceShowsThePath(t *testing.T) {
	findings := byID(t, "rbac-pod-exec").Run(fixture.LoadOverlay(t, "defaults.yaml", "rbac-pod-exec.yaml"))
	want := "RoleBinding shop/support-exec -> ClusterRole exec-anything: create */exec (in namespace shop)"
	if len(findings) != 1 || strings.Join(findings[0].Evidence, "\n") != want {
		t.Errorf("evidence %q, want %q", findings[0].Evidence, want)
	}
}
