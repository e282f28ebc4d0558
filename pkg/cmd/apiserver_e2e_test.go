//go:build e2e

package cmd

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/checks/apiserver"
	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// A cluster that lets anonymous callers list namespaces, and shows no API server pod (as a
// managed cluster would not): the outside checks find the exposure, the flag checks say they
// could not see.
func TestAnonymousExposureOnARealServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	open, err := testcluster.Start(ctx, testcluster.Options{Log: os.Stderr, APIServerArgs: []string{"--anonymous-auth=true"}})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Stop()
	lister := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "namespace-lister"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list"}}},
	}
	if _, err := open.Client.RbacV1().ClusterRoles().Create(ctx, lister, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "anonymous-namespace-lister"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: lister.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "system:anonymous"}},
	}
	if _, err := open.Client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	r := run(t, testEnv{}, "diagnose", "--category", "apiserver", "-o", "json", "--kubeconfig", open.Kubeconfig)
	rep := r.report(t)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	found := map[string]string{}
	for _, f := range rep.Findings {
		found[f.Check] = string(f.Severity) + " " + f.Message
	}
	if got := found["apiserver-anonymous-access"]; !strings.HasPrefix(got, "critical") || !strings.Contains(got, "/api/v1/namespaces") || strings.Contains(got, "/api/v1/pods") {
		t.Errorf("anonymous access: %q (namespaces are open, pods are not)", got)
	}
	if got := found["apiserver-anonymous-binding"]; !strings.HasPrefix(got, "critical") || !strings.Contains(got, "anonymous-namespace-lister") {
		t.Errorf("anonymous binding: %q", got)
	}
	// The default system:public-info-viewer binding is there too, and is not a finding.
	if len(found) != 2 {
		t.Errorf("findings %v", found)
	}
	notVisible := 0
	for _, ne := range rep.NotEvaluated {
		if strings.HasPrefix(ne.Check, "apiserver-") && strings.Contains(ne.Reason, "control plane not visible") {
			notVisible++
		}
	}
	if want := len(apiserver.FlagChecks()); notVisible != want {
		t.Errorf("%d flag checks say the control plane is not visible, want %d: %+v", notVisible, want, rep.NotEvaluated)
	}
}
