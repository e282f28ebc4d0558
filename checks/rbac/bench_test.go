package rbac

import (
	"fmt"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// syntheticRBAC is a large cluster's RBAC: roles of a few shapes, and bindings of users,
// groups and service accounts to them, half cluster-wide and half per namespace.
func syntheticRBAC(roles, bindings int) *snapshot.Snapshot {
	s := snapshot.New(snapshot.SourceCluster)
	shapes := [][]rbacv1.PolicyRule{
		{{APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}, Verbs: []string{"get", "list", "watch"}}},
		{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"create", "update", "patch"}}},
		{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list"}}},
		{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"app"}, Verbs: []string{"get"}},
			{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	for i := 0; i < roles; i++ {
		rules := shapes[i%len(shapes)]
		if i%2 == 0 {
			s.ClusterRoles = append(s.ClusterRoles, rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("role-%04d", i)}, Rules: rules})
		} else {
			s.Roles = append(s.Roles, rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("role-%04d", i), Namespace: fmt.Sprintf("ns-%03d", i%100)}, Rules: rules})
		}
	}
	for i := 0; i < bindings; i++ {
		subjects := []rbacv1.Subject{
			{Kind: rbacv1.UserKind, Name: fmt.Sprintf("user-%d", i%700)},
			{Kind: rbacv1.ServiceAccountKind, Name: fmt.Sprintf("sa-%d", i%300), Namespace: fmt.Sprintf("ns-%03d", i%100)},
		}
		if i%2 == 0 {
			s.ClusterRoleBindings = append(s.ClusterRoleBindings, rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("crb-%04d", i)},
				RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: fmt.Sprintf("role-%04d", (i%(roles/2))*2)}, Subjects: subjects})
			continue
		}
		role := (i%(roles/2))*2 + 1
		s.RoleBindings = append(s.RoleBindings, rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rb-%04d", i), Namespace: fmt.Sprintf("ns-%03d", role%100)},
			RoleRef: rbacv1.RoleRef{Kind: "Role", Name: fmt.Sprintf("role-%04d", role)}, Subjects: subjects})
	}
	s.Finish()
	return s
}

// BenchmarkRBACAudit runs every RBAC check over 5,000 bindings and 1,000 roles: what
// `rbac-audit` does after reading them.
func BenchmarkRBACAudit(b *testing.B) {
	s := syntheticRBAC(1000, 5000)
	checks := Checks()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		findings := 0
		for _, c := range checks {
			findings += len(c.Run(s))
		}
		if findings == 0 {
			b.Fatal("the synthetic RBAC grants Secret reading and workload creation, yet no finding")
		}
	}
}
