//go:build e2e

package cmd

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

func (r result) permissions(t *testing.T) *report.PermissionReport {
	t.Helper()
	var pr report.PermissionReport
	if err := json.Unmarshal([]byte(r.stdout), &pr); err != nil {
		t.Fatalf("stdout is not a permission report: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	if pr.APIVersion != report.APIVersion || pr.Kind != report.KindPermissionReport {
		t.Fatalf("apiVersion %q kind %q", pr.APIVersion, pr.Kind)
	}
	return &pr
}

func refused(pr *report.PermissionReport) []string {
	var out []string
	for _, a := range pr.Accesses {
		if !a.Allowed {
			out = append(out, a.Verb+" "+a.Request().ResourceName()+" in "+a.Namespace)
		}
	}
	return out
}

func TestExplainPermissionsAsAdministrator(t *testing.T) {
	r := admin(t, "diagnose", "--explain-permissions", "-o", "json")
	if r.code != report.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	pr := r.permissions(t)
	if pr.Identity == nil || pr.Identity.Username != "alertmend-admin" || !slices.Contains(pr.Identity.Groups, "system:masters") {
		t.Errorf("identity %+v, want alertmend-admin in system:masters", pr.Identity)
	}
	if got := refused(pr); len(got) > 0 {
		t.Errorf("refused to the administrator: %q", got)
	}
	if len(pr.NotEvaluated) > 0 {
		t.Errorf("not evaluated for the administrator: %q", pr.NotEvaluated)
	}
	resources := map[string]bool{}
	for _, a := range pr.Accesses {
		resources[a.Verb+" "+a.Request().ResourceName()] = true
		if a.Resource == "secrets" {
			t.Errorf("a planned access to Secrets: %+v", a)
		}
		if a.Verb != "get" && a.Verb != "list" {
			t.Errorf("a planned access that is not a read: %+v", a)
		}
	}
	for _, want := range []string{"list pods", "list deployments.apps", "list clusterrolebindings.rbac.authorization.k8s.io",
		"get pods/proxy", "get services/proxy", "get nodes/proxy", "get /version"} {
		if !resources[want] {
			t.Errorf("no planned %q among %v", want, resources)
		}
	}

	table := admin(t, "diagnose", "--explain-permissions")
	if table.code != report.ExitOK || !strings.Contains(table.stdout, "as user alertmend-admin") ||
		!strings.Contains(table.stdout, "accesses allowed.") || strings.Contains(table.stdout, "refused") {
		t.Errorf("table, exit %d:\n%s%s", table.code, table.stdout, table.stderr)
	}
}

// What --explain-permissions predicts for a user who may read one namespace is what a real
// run as that user finds forbidden.
func TestExplainPermissionsPredictsTheForbiddenChecks(t *testing.T) {
	explained := as(t, "shop-viewer", "diagnose", "-n", "shop", "--explain-permissions", "-o", "json")
	if explained.code != report.ExitIncomplete {
		t.Fatalf("exit %d, want %d: %s", explained.code, report.ExitIncomplete, explained.stderr)
	}
	pr := explained.permissions(t)
	if len(refused(pr)) == 0 || len(pr.NotEvaluated) == 0 {
		t.Fatalf("nothing refused to shop-viewer: %+v", pr)
	}

	real := as(t, "shop-viewer", "diagnose", "-n", "shop", "-o", "json").report(t)
	var forbidden []string
	for _, ne := range real.NotEvaluated {
		if strings.Contains(ne.Reason, "forbidden") {
			forbidden = append(forbidden, ne.Check)
		}
	}
	slices.Sort(forbidden)
	if !slices.Equal(forbidden, pr.NotEvaluated) {
		t.Errorf("explained as not evaluated for lack of permission:\n %q\nforbidden in a real run:\n %q", pr.NotEvaluated, forbidden)
	}

	table := as(t, "shop-viewer", "diagnose", "-n", "shop", "--explain-permissions")
	for _, want := range []string{"   no   ", "Not evaluated for lack of permission", "Limited to namespace shop (-n)", "deploy/rbac.yaml"} {
		if !strings.Contains(table.stdout, want) {
			t.Errorf("the table does not say %q:\n%s", want, table.stdout)
		}
	}
}

// Every request a real run makes is one --explain-permissions lists: the audit log of a run by
// a user of its own is held against the plan.
func TestExplainPermissionsCoversEveryRequestARunMakes(t *testing.T) {
	const user = "explain-permissions-auditor"
	kubeconfig, err := cluster.UserKubeconfig(user, "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	for _, command := range [][]string{{"diagnose"}, {"rbac-audit"}, {"diagnose", "-n", "kube-system"}} {
		plan := run(t, testEnv{}, append(command, "--explain-permissions", "-o", "json", "--kubeconfig", kubeconfig)...).permissions(t)
		before, err := cluster.AuditEvents("kubectl-alertmend/")
		if err != nil {
			t.Fatal(err)
		}
		if r := run(t, testEnv{}, append(command, "-o", "json", "--kubeconfig", kubeconfig)...); r.code == report.ExitError {
			t.Fatalf("%v: %s", command, r.stderr)
		}
		after, err := cluster.AuditEvents("kubectl-alertmend/")
		if err != nil {
			t.Fatal(err)
		}
		made := 0
		for _, e := range after[len(before):] {
			if e.User.Username != user {
				continue
			}
			made++
			if !slices.ContainsFunc(plan.Accesses, func(a report.PermissionAccess) bool { return covers(a, e) }) {
				t.Errorf("%v made %s %s (%+v), which --explain-permissions does not list", command, e.Verb, e.RequestURI, e.ObjectRef)
			}
		}
		if made < 5 {
			t.Errorf("%v: only %d audited requests", command, made)
		}
	}
}

// covers tells whether a planned access authorizes an audited request: the same verb and
// resource, in the planned namespace or, planned across all namespaces, in any.
func covers(a report.PermissionAccess, e testcluster.AuditEvent) bool {
	if e.ObjectRef == nil {
		return a.NonResourceURL != "" && a.Verb == e.Verb && strings.SplitN(e.RequestURI, "?", 2)[0] == a.NonResourceURL
	}
	ref := e.ObjectRef
	return a.NonResourceURL == "" && a.Verb == e.Verb && a.Group == ref.APIGroup && a.Resource == ref.Resource &&
		a.Subresource == ref.Subresource && (a.Namespace == "" || a.Namespace == ref.Namespace) && (a.Name == "" || a.Name == ref.Name)
}
