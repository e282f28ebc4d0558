package snapshot

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The RBAC authorizer's matching rules, case by case; the end-to-end test checks the same
// against the real API server's answers.
func TestRuleAllows(t *testing.T) {
	pods := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}
	anyExec := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"*/exec"}, Verbs: []string{"create"}}
	named := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"app"}, Verbs: []string{"get", "list"}}
	metrics := rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics", "/logs/*"}, Verbs: []string{"get"}}
	wild := rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}
	for _, tc := range []struct {
		name string
		rule rbacv1.PolicyRule
		req  Request
		want bool
	}{
		{"exact", pods, Request{Verb: "get", Resource: "pods"}, true},
		{"other verb", pods, Request{Verb: "delete", Resource: "pods"}, false},
		{"other group", pods, Request{Verb: "get", APIGroup: "apps", Resource: "pods"}, false},
		{"a resource does not cover its subresources", pods, Request{Verb: "get", Resource: "pods", Subresource: "log"}, false},
		{"*/subresource covers any resource's", anyExec, Request{Verb: "create", Resource: "pods", Subresource: "exec"}, true},
		{"*/subresource is not the resource", anyExec, Request{Verb: "create", Resource: "pods"}, false},
		{"resourceNames admit the name", named, Request{Verb: "get", Resource: "configmaps", Name: "app"}, true},
		{"resourceNames refuse other names", named, Request{Verb: "get", Resource: "configmaps", Name: "db"}, false},
		{"resourceNames refuse a list", named, Request{Verb: "list", Resource: "configmaps"}, false},
		{"non-resource exact", metrics, Request{Verb: "get", Path: "/metrics"}, true},
		{"non-resource prefix", metrics, Request{Verb: "get", Path: "/logs/kubelet.log"}, true},
		{"non-resource other", metrics, Request{Verb: "get", Path: "/metricsx"}, false},
		{"a resource rule grants no path", pods, Request{Verb: "get", Path: "/metrics"}, false},
		{"wildcards", wild, Request{Verb: "escalate", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles"}, true},
		{"wildcard resources cover subresources", wild, Request{Verb: "create", Resource: "pods", Subresource: "exec"}, true},
	} {
		if got := RuleAllows(tc.rule, tc.req); got != tc.want {
			t.Errorf("%s: RuleAllows = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A RoleBinding gives its rules in its namespace only, never non-resource paths, and a
// ServiceAccount subject without a namespace is the binding's own.
func TestGrantsOfRoleBindings(t *testing.T) {
	s := New(SourceCluster)
	s.ClusterRoles = []rbacv1.ClusterRole{{ObjectMeta: metav1.ObjectMeta{Name: "mixed"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}},
		{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}},
	}}}
	s.RoleBindings = []rbacv1.RoleBinding{{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "shop"},
		RoleRef:  rbacv1.RoleRef{Kind: "ClusterRole", Name: "mixed"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "app"}}}}
	s.Finish()
	grants := s.Grants()
	if len(grants) != 1 {
		t.Fatalf("grants %+v, want the pods rule only", grants)
	}
	g := grants[0]
	if g.Subject.Namespace != "shop" || !ServiceAccountIdentity("shop", "app").Holds(g.Subject) {
		t.Errorf("subject %+v", g.Subject)
	}
	if !g.Applies(Request{Verb: "get", Resource: "pods", Namespace: "shop"}) || g.Applies(Request{Verb: "get", Resource: "pods", Namespace: "data"}) {
		t.Error("a RoleBinding must apply in its namespace and nowhere else")
	}
}
