//go:build e2e

package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The scenario's RBAC story, audited: the CI deployer's cluster-admin leads, and the generic
// findings about what else its binding gives are folded into it.
func TestRBACAuditReport(t *testing.T) {
	r := admin(t, "rbac-audit", "-o", "json")
	if r.code != 1 {
		t.Errorf("exit %d, want 1; stderr %s", r.code, r.stderr)
	}
	rep := r.report(t)
	want := []string{
		"rbac-cluster-admin ci/serviceaccount/deployer",
		"rbac-pod-exec user/support",
		"rbac-secrets-read group/auditors",
		"rbac-dangling-binding data/rolebinding/legacy-reader",
	}
	if got := findingKeys(rep); !slices.Equal(got, want) {
		t.Errorf("findings\n got  %q\n want %q", got, want)
	}
	top := rep.Findings[0]
	if top.Severity != check.Critical || !slices.Contains(top.Evidence,
		"ClusterRoleBinding ci-deployer-admin -> ClusterRole cluster-admin: * *.* (cluster-wide)") {
		t.Errorf("top finding %s %q", top.Severity, top.Evidence)
	}
	if rep.Summary.ChecksRun != 17 {
		t.Errorf("ran %d checks, want the 16 RBAC checks and apiserver-anonymous-binding", rep.Summary.ChecksRun)
	}
}

func TestRBACAuditUsageErrors(t *testing.T) {
	cases := map[string][]string{
		"--who-can takes two arguments":          {"rbac-audit", "--who-can", "get"},
		"--subject and --who-can are separate":   {"rbac-audit", "--subject", "user:bob", "--who-can", "get", "pods"},
		`invalid --subject "bob"`:                {"rbac-audit", "--subject", "bob"},
		"a service account is sa:NAMESPACE/NAME": {"rbac-audit", "--subject", "sa:nonamespace"},
		`unexpected arguments ["pods"]`:          {"rbac-audit", "pods"},
		`unknown resource "widgets" on https://`: {"rbac-audit", "--who-can", "get", "widgets"},
		`unknown resource "pdos" on https://`:    {"rbac-audit", "--who-can", "get", "pdos"},
		`(did you mean "pods"?)`:                 {"rbac-audit", "--who-can", "get", "pdos"},
		`unknown resource "pdos" (did you mean "pods"?): a custom resource needs its group`: {"rbac-audit", "--who-can", "get", "pdos", "-f", "-"},
		"-n does not apply": {"rbac-audit", "--subject", "user:bob", "-n", "shop"},
	}
	for want, args := range cases {
		r := admin(t, args...)
		if r.code != 2 || !strings.Contains(r.stderr, want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 and %q", args, r.code, r.stderr, r.stdout, want)
		}
	}
}

// identity is one subject the agreement test asks about, as the tool names it and as the API
// server's authorizer sees it.
type identity struct {
	subjects []string // --subject values whose grants together are the identity's
	user     string
	groups   []string
}

// The tool's answers agree with the API server's own authorizer: for every identity, verb,
// resource and namespace of the sample, what --subject and --who-can say is what a
// SubjectAccessReview says. The review is the authorizer's read-only question-and-answer call.
func TestRBACAgreesWithTheAuthorizer(t *testing.T) {
	identities := []identity{
		{[]string{"sa:ci/deployer"}, "system:serviceaccount:ci:deployer", []string{"system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"}},
		{[]string{"sa:shop/default"}, "system:serviceaccount:shop:default", []string{"system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"}},
		{[]string{"user:support"}, "support", []string{"system:authenticated"}},
		{[]string{"user:ann", "group:auditors"}, "ann", []string{"auditors", "system:authenticated"}},
		{[]string{"user:shop-viewer"}, "shop-viewer", []string{"system:authenticated"}},
		{[]string{"user:nobody"}, "nobody", []string{"system:authenticated"}},
	}
	grants := map[string][]report.AccessGrant{}
	for _, id := range identities {
		for _, subject := range id.subjects {
			var access report.SubjectAccess
			r := admin(t, "rbac-audit", "--subject", subject, "-o", "json")
			if err := json.Unmarshal([]byte(r.stdout), &access); err != nil || r.code != 0 {
				t.Fatalf("--subject %s: exit %d, %v\n%s", subject, r.code, err, r.stderr)
			}
			grants[id.user] = append(grants[id.user], access.Grants...)
		}
	}

	requests := agreementSample()
	reviewer := newReviewer(t)
	disagreements := 0
	for _, id := range identities {
		answers := reviewer.allowedAll(id, requests)
		for i, req := range requests {
			ours := slices.ContainsFunc(grants[id.user], func(g report.AccessGrant) bool { return grantAllows(g, req) })
			if ours != answers[i] {
				disagreements++
				if disagreements <= 20 {
					t.Errorf("%s %s: alertmend says %v, the API server %v", id.user, describeRequest(req), ours, answers[i])
				}
			}
		}
	}
	t.Logf("%d identities x %d requests, %d disagreements", len(identities), len(requests), disagreements)

	// --who-can, for a sample: every identity the authorizer allows is named, through a subject
	// it holds, and no other.
	for _, req := range requests {
		if req.Path != "" || !whoCanSample(req) {
			continue
		}
		args := []string{"rbac-audit", "--who-can", req.Verb, req.ResourceName(), "-o", "json"}
		if req.Namespace != "" {
			args = append(args, "-n", req.Namespace)
		}
		var answer report.WhoCan
		r := admin(t, args...)
		if err := json.Unmarshal([]byte(r.stdout), &answer); err != nil || r.code != 0 {
			t.Fatalf("%v: exit %d, %v\n%s", args, r.code, err, r.stderr)
		}
		for _, id := range identities {
			who := snapshot.Identity{User: id.user, Groups: id.groups}
			ours := slices.ContainsFunc(answer.Grants, func(g report.AccessGrant) bool {
				return who.Holds(rbacv1.Subject{Kind: g.Subject.Kind, Name: g.Subject.Name, Namespace: g.Subject.Namespace})
			})
			if theirs := reviewer.allowed(id, req); ours != theirs {
				t.Errorf("--who-can %s: %s named %v, the API server allows %v", describeRequest(req), id.user, ours, theirs)
			}
		}
	}
}

// agreementSample is every combination of verbs, resources (namespaced ones in three
// namespaces, cluster-scoped ones without) and non-resource paths the test asks about.
func agreementSample() []snapshot.Request {
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate", "escalate", "bind"}
	namespaced := []snapshot.Request{
		{Resource: "pods"}, {Resource: "pods", Subresource: "exec"}, {Resource: "pods", Subresource: "log"},
		{Resource: "secrets"}, {Resource: "configmaps"}, {Resource: "configmaps", Name: "cluster-info"},
		{Resource: "serviceaccounts", Subresource: "token"}, {APIGroup: "apps", Resource: "deployments"},
		{APIGroup: "rbac.authorization.k8s.io", Resource: "roles"},
	}
	clusterScoped := []snapshot.Request{
		{Resource: "nodes"}, {Resource: "namespaces"}, {Resource: "users"},
		{APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles"},
		{APIGroup: "authorization.k8s.io", Resource: "selfsubjectaccessreviews"},
	}
	paths := []string{"/metrics", "/logs/kubelet.log", "/api", "/healthz", "/version", "/openapi/v2"}
	var out []snapshot.Request
	for _, verb := range verbs {
		for _, ns := range []string{"shop", "kube-system", "ci"} {
			for _, r := range namespaced {
				r.Verb, r.Namespace = verb, ns
				out = append(out, r)
			}
		}
		for _, r := range clusterScoped {
			r.Verb = verb
			out = append(out, r)
		}
		for _, p := range paths {
			out = append(out, snapshot.Request{Verb: verb, Path: p})
		}
	}
	return out
}

// whoCanSample picks the requests --who-can is run for (each run is a process).
func whoCanSample(r snapshot.Request) bool {
	return r.Name == "" && slices.Contains([]string{"get", "create", "list", "impersonate"}, r.Verb) &&
		slices.Contains([]string{"", "shop", "kube-system"}, r.Namespace)
}

func describeRequest(r snapshot.Request) string {
	if r.Path != "" {
		return r.Verb + " " + r.Path
	}
	where := "cluster-wide"
	if r.Namespace != "" {
		where = "in " + r.Namespace
	}
	name := ""
	if r.Name != "" {
		name = " named " + r.Name
	}
	return fmt.Sprintf("%s %s%s %s", r.Verb, r.ResourceName(), name, where)
}

// grantAllows applies a grant from the tool's JSON answer to a request.
func grantAllows(g report.AccessGrant, r snapshot.Request) bool {
	sg := snapshot.Grant{Namespace: g.Namespace, Rule: &g.Rule}
	return sg.Applies(r) && snapshot.RuleAllows(g.Rule, r)
}

// reviewer asks the API server's authorizer through SubjectAccessReviews, many at once and
// without client-side throttling: thousands of questions take seconds.
type reviewer struct {
	t      *testing.T
	client kubernetes.Interface
}

func newReviewer(t *testing.T) *reviewer {
	config := rest.CopyConfig(cluster.Config)
	config.QPS, config.Burst = -1, 0
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	return &reviewer{t: t, client: client}
}

func (rv *reviewer) allowedAll(id identity, requests []snapshot.Request) []bool {
	answers := make([]bool, len(requests))
	var wg sync.WaitGroup
	slots := make(chan struct{}, 16)
	for i, req := range requests {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			answers[i] = rv.allowed(id, req)
		}()
	}
	wg.Wait()
	return answers
}

func (rv *reviewer) allowed(id identity, r snapshot.Request) bool {
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: id.user, Groups: id.groups}}
	if r.Path != "" {
		review.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: r.Path, Verb: r.Verb}
	} else {
		review.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{Namespace: r.Namespace, Verb: r.Verb,
			Group: r.APIGroup, Resource: r.Resource, Subresource: r.Subresource, Name: r.Name}
	}
	answer, err := rv.client.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), review, metav1.CreateOptions{})
	if err != nil {
		rv.t.Errorf("SubjectAccessReview for %s %s: %v", id.user, describeRequest(r), err)
		return false
	}
	return answer.Status.Allowed
}
