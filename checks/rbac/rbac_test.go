package rbac

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// byID finds a check of the family.
func byID(t *testing.T, id string) check.Check {
	t.Helper()
	for _, c := range Checks() {
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
	fixture.RunCases(t, check.CategoryRBAC, Checks(), []fixture.Case{
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
		// Limited to named ServiceAccounts, minting is worth what those accounts may do beyond the holder.
		over("rbac-token-create", "token-named-weaker.yaml"),
		over("rbac-token-create", "token-named-stronger.yaml",
			"critical rbac-token-create user/minter,ci/rolebinding/minter,ci/role/minter,ci/serviceaccount/deployer",
			// cluster-admin mints any token (rbac-cluster-admin's finding folds this one in).
			"high rbac-token-create ci/serviceaccount/deployer,clusterrolebinding/deployer-admin,clusterrole/cluster-admin",
			"high rbac-token-create user/lister,clusterrolebinding/reporter-tokens-lister,clusterrole/reporter-tokens,ops/serviceaccount/reporter"),
		over("rbac-nodes-proxy", "rbac-nodes-proxy.yaml", user("high", "rbac-nodes-proxy", "scraper", "kubelet-proxy")),
		// Approving takes update on /approval and approve on the signer; signing, update on
		// /status and sign on the signer: the halves may come through different bindings, and
		// one half alone is no ability.
		over("rbac-csr-approve", "rbac-csr-approve.yaml",
			"high rbac-csr-approve user/approver,clusterrolebinding/csr-approval-approver,clusterrole/csr-approval,"+
				"clusterrolebinding/kubernetes-signers-approver,clusterrole/kubernetes-signers",
			user("high", "rbac-csr-approve", "signer", "csr-signer")),
		over("rbac-csr-approve", "csr-approval-only.yaml"),
		over("rbac-csr-approve", "csr-signers-only.yaml"),
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
	s.ForgetDerived() // the grants were derived from the cluster's view
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

// An ability made of several requests shows the path to each, named by the request it allows.
func TestEvidenceShowsEachPart(t *testing.T) {
	findings := byID(t, "rbac-csr-approve").Run(fixture.LoadOverlay(t, "defaults.yaml", "rbac-csr-approve.yaml"))
	i := slices.IndexFunc(findings, func(f check.Finding) bool { return f.Objects[0].Name == "approver" })
	if i < 0 {
		t.Fatalf("no finding for approver: %q", fixture.Summaries(findings))
	}
	want := []string{
		"update certificatesigningrequests/approval: ClusterRoleBinding csr-approval-approver -> ClusterRole csr-approval: " +
			"update certificatesigningrequests/approval.certificates.k8s.io (cluster-wide)",
		"approve signers: ClusterRoleBinding kubernetes-signers-approver -> ClusterRole kubernetes-signers: " +
			"approve signers.certificates.k8s.io named kubernetes.io/* (cluster-wide)",
	}
	if !slices.Equal(findings[i].Evidence, want) {
		t.Errorf("evidence %q, want %q", findings[i].Evidence, want)
	}
}

// loadYAML reads manifests written in a test into a cluster snapshot.
func loadYAML(t *testing.T, source snapshot.Source, docs string) *snapshot.Snapshot {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rbac.yaml")
	if err := os.WriteFile(path, []byte(docs), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := (&snapshot.Loader{}).LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	s.Source = source
	return s
}

const crb = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: %s%s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %s}
subjects: [%s]
---
`

const rb = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: %s, namespace: dev}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %s}
subjects: [%s]
---
`

const clusterRole = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %s}
rules: [%s]
---
`

// Where the authorizer's answer is subtle, the checks follow it: these cases came from review.
func TestAuthorizerEdgeCases(t *testing.T) {
	bootstrap := ", labels: {kubernetes.io/bootstrapping: rbac-defaults}"
	user := func(name string) string {
		return "{apiGroup: rbac.authorization.k8s.io, kind: User, name: " + name + "}"
	}
	for name, tc := range map[string]struct {
		docs string
		id   string
		want []string
	}{
		"a subject added to a bootstrap binding is no default": {
			docs: fmt.Sprintf(clusterRole, "cluster-admin", "{apiGroups: ['*'], resources: ['*'], verbs: ['*']}") +
				fmt.Sprintf(crb, "cluster-admin", bootstrap, "cluster-admin", "{apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:masters}, "+user("mallory")),
			id:   "rbac-cluster-admin",
			want: []string{"critical rbac-cluster-admin user/mallory,clusterrolebinding/cluster-admin,clusterrole/cluster-admin"},
		},
		"binding one role by name is still binding": {
			docs: fmt.Sprintf(clusterRole, "binder", "{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], resourceNames: [cluster-admin], verbs: [bind]}") +
				fmt.Sprintf(crb, "binder-eve", "", "binder", user("eve")),
			id:   "rbac-escalate-bind",
			want: []string{"critical rbac-escalate-bind user/eve,clusterrolebinding/binder-eve,clusterrole/binder"},
		},
		"a RoleBinding grants nothing cluster-scoped": {
			docs: fmt.Sprintf(clusterRole, "kubelet-proxy", "{apiGroups: [''], resources: [nodes/proxy], verbs: [get]}") +
				fmt.Sprintf(rb, "proxy-in-dev", "kubelet-proxy", user("scraper")),
			id: "rbac-nodes-proxy",
		},
		"a RoleBinding cannot impersonate users, but can service accounts": {
			docs: fmt.Sprintf(clusterRole, "impersonator", "{apiGroups: [''], resources: [users, serviceaccounts], verbs: [impersonate]}") +
				fmt.Sprintf(rb, "impersonate-in-dev", "impersonator", user("mallory")),
			id:   "rbac-impersonate",
			want: []string{"high rbac-impersonate user/mallory,dev/rolebinding/impersonate-in-dev,clusterrole/impersonator"},
		},
		"a ServiceAccount without namespace in a ClusterRoleBinding matches nobody": {
			docs: fmt.Sprintf(clusterRole, "secret-reader", "{apiGroups: [''], resources: [secrets], verbs: [get]}") +
				fmt.Sprintf(crb, "ghost", "", "secret-reader", "{kind: ServiceAccount, name: ghost}"),
			id: "rbac-secrets-read",
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := loadYAML(t, snapshot.SourceCluster, tc.docs)
			if got := fixture.Summaries(byID(t, tc.id).Run(s)); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// The aggregation controller matches every ClusterRole to an empty selector.
func TestAggregationWithAnEmptySelector(t *testing.T) {
	s := loadYAML(t, snapshot.SourceManifests, `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: everything}
aggregationRule: {clusterRoleSelectors: [{}]}
---
`+fmt.Sprintf(clusterRole, "secret-reader", "{apiGroups: [''], resources: [secrets], verbs: [list]}")+
		fmt.Sprintf(crb, "all", "", "everything", "{apiGroup: rbac.authorization.k8s.io, kind: User, name: ann}"))
	want := []string{"high rbac-secrets-read user/ann,clusterrolebinding/all,clusterrole/everything"}
	if got := fixture.Summaries(byID(t, "rbac-secrets-read").Run(s)); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// "Can do no more" is asked request by request, where each grant applies: a wildcard is
// covered only by a wildcard, a cluster-wide rule not by a namespaced one, and several rules of
// the holder may cover one rule of the account together.
func TestTokenForAnAccountThatCanDoNoMore(t *testing.T) {
	const minter = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: minter, namespace: dev}
rules: [{apiGroups: [''], resources: [serviceaccounts/token], resourceNames: [helper], verbs: [create]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: minter, namespace: dev}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: minter}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: ann}]
---
`
	helper := "{kind: ServiceAccount, name: helper, namespace: dev}"
	ann := "{apiGroup: rbac.authorization.k8s.io, kind: User, name: ann}"
	want := []string{"high rbac-token-create user/ann,dev/rolebinding/minter,dev/role/minter,dev/serviceaccount/helper"}
	for name, tc := range map[string]struct {
		holder, account    string // rules of the holder's and the account's ClusterRoles
		accountClusterWide bool
		want               []string
	}{
		"split over two rules": {holder: "{apiGroups: [''], resources: [pods], verbs: [get]}, {apiGroups: [''], resources: [pods], verbs: [list]}",
			account: "{apiGroups: [''], resources: [pods], verbs: [get, list]}"},
		"a verb more":           {holder: "{apiGroups: [''], resources: [pods], verbs: [get]}", account: "{apiGroups: [''], resources: [pods], verbs: [get, list]}", want: want},
		"a wildcard is no verb": {holder: "{apiGroups: [''], resources: [pods], verbs: [get, list, watch]}", account: "{apiGroups: [''], resources: [pods], verbs: ['*']}", want: want},
		"a wildcard covers":     {holder: "{apiGroups: ['*'], resources: ['*'], verbs: [get]}", account: "{apiGroups: [apps], resources: [deployments], verbs: [get]}"},
		"names within no names": {holder: "{apiGroups: [''], resources: [configmaps], verbs: [get]}",
			account: "{apiGroups: [''], resources: [configmaps], resourceNames: [app], verbs: [get]}"},
		"cluster-wide beyond one namespace": {holder: "{apiGroups: [''], resources: [pods], verbs: [get]}",
			account: "{apiGroups: [''], resources: [pods], verbs: [get]}", accountClusterWide: true, want: want},
	} {
		t.Run(name, func(t *testing.T) {
			docs := minter + fmt.Sprintf(clusterRole, "holder", tc.holder) + fmt.Sprintf(rb, "holder", "holder", ann) +
				fmt.Sprintf(clusterRole, "account", tc.account)
			if tc.accountClusterWide {
				docs += fmt.Sprintf(crb, "account", "", "account", helper)
			} else {
				docs += fmt.Sprintf(rb, "account", "account", helper)
			}
			s := loadYAML(t, snapshot.SourceCluster, docs)
			findings := byID(t, "rbac-token-create").Run(s)
			if got := fixture.Summaries(findings); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if len(findings) > 0 && !strings.Contains(strings.Join(findings[0].Evidence, "\n"), "a token for ServiceAccount dev/helper ") {
				t.Errorf("evidence does not name the account: %q", findings[0].Evidence)
			}
		})
	}
}

// A subject granted the same ability by several bindings gets one command for each binding,
// each in its own namespace: removing it from one leaves the others.
func TestFixOpensEveryBindingOfTheGrant(t *testing.T) {
	s := fixture.LoadOverlay(t, "defaults.yaml", "rbac-pod-exec.yaml")
	s.RoleBindings = append(s.RoleBindings, rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "support-exec-billing", Namespace: "billing"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "exec-anything"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "support"}},
	})
	s.Finish()
	for _, f := range byID(t, "rbac-pod-exec").Run(s) {
		if f.Objects[0].Name != "support" {
			continue
		}
		want := []string{
			"kubectl edit rolebinding -n shop support-exec   # remove the subject, or bind a narrower role",
			"kubectl edit rolebinding -n billing support-exec-billing   # remove the subject, or bind a narrower role",
		}
		slices.Sort(want)
		got := slices.Sorted(slices.Values(f.Fix))
		if !slices.Equal(got, want) {
			t.Errorf("fix %q, want %q", got, want)
		}
		return
	}
	t.Fatal("no rbac-pod-exec finding about support")
}
