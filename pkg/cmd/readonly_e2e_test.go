//go:build e2e

package cmd

import (
	"path/filepath"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// Read-only, proven by the API server's own audit log: every request the tool made in this
// package's tests is a get, list or watch, or the create of a review object (which the API
// server answers and does not store), and none touches Secrets.
func TestEveryRequestIsReadOnly(t *testing.T) {
	// Every command that reads a cluster, in each of its modes, so that the audit log below
	// holds their requests even when this test runs alone.
	admin(t, "diagnose")
	as(t, "shop-viewer", "diagnose", "-n", "shop")
	admin(t, "rbac-audit")
	admin(t, "rbac-audit", "--subject", "sa:ci/deployer")
	admin(t, "rbac-audit", "--who-can", "get", "secrets", "-n", "kube-system")
	admin(t, "diagnose", "--explain-permissions")
	as(t, "shop-viewer", "rbac-audit", "--explain-permissions")
	if r := admin(t, "snapshot", "-o", filepath.Join(t.TempDir(), "s.gz")); r.code != 0 {
		t.Fatalf("snapshot: exit %d: %s", r.code, r.stderr)
	}

	events, err := cluster.AuditEvents("kubectl-alertmend/")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 10 {
		t.Fatalf("only %d audited requests from kubectl-alertmend; is the user agent set?", len(events))
	}
	for _, e := range events {
		if e.Verb != "get" && e.Verb != "list" && e.Verb != "watch" && !isReview(e) {
			t.Errorf("%s %s by %s: not a read", e.Verb, e.RequestURI, e.User.Username)
		}
		if e.ObjectRef != nil && e.ObjectRef.Resource == "secrets" {
			t.Errorf("%s %s: touched Secrets", e.Verb, e.RequestURI)
		}
	}
}

// isReview tells the two questions --explain-permissions asks by creating an object the API
// server answers and does not store: may I (SelfSubjectAccessReview), and who am I
// (SelfSubjectReview).
func isReview(e testcluster.AuditEvent) bool {
	if e.Verb != "create" || e.ObjectRef == nil || e.ObjectRef.Name != "" {
		return false
	}
	ref := *e.ObjectRef
	return (ref.APIGroup == "authorization.k8s.io" && ref.Resource == "selfsubjectaccessreviews") ||
		(ref.APIGroup == "authentication.k8s.io" && ref.Resource == "selfsubjectreviews")
}
