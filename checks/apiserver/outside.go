package apiserver

import (
	"fmt"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// AnonymousAccess reports what the server gives a caller with no credentials at all.
type AnonymousAccess struct{}

func (AnonymousAccess) Meta() check.Meta {
	return check.Meta{
		ID:       "apiserver-anonymous-access",
		Title:    "The API server answers callers without credentials",
		Category: check.CategoryAPIServer,
		Severity: check.Critical,
		Requires: []snapshot.Kind{snapshot.KindAnonymousAccess},
		LiveOnly: true,
		Description: "Sends read-only GET requests without credentials (same server, same TLS settings) to /version, /api, " +
			"/api/v1/namespaces and /api/v1/pods, and reports every answer beyond the default public endpoints (/version, " +
			"the health checks). Works on managed clusters too.",
		Why: "Whoever can reach the server can map or read the cluster without stealing anything first; listing pods " +
			"reveals images, environment and service accounts to attack.",
		Remediation: "Remove what grants anonymous callers access (see apiserver-anonymous-binding), or turn anonymous " +
			"authentication off (--anonymous-auth=false, or the provider's setting).",
		References: []string{"https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests"},
	}
}

// NotEvaluable: through a plain-HTTP URL (kubectl proxy, some local proxies) the requests carry
// the proxy's credentials, so "without credentials" cannot be tested.
func (AnonymousAccess) NotEvaluable(s *snapshot.Snapshot) string {
	if strings.HasPrefix(s.Server, "http://") {
		return "the server URL is plain HTTP (kubectl proxy?): requests through it carry the proxy's credentials"
	}
	return ""
}

func (c AnonymousAccess) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var open, evidence []string
	for _, r := range s.AnonymousAccess {
		line := fmt.Sprintf("GET %s without credentials: ", r.Path)
		switch {
		case r.Status == 0:
			line += "no answer (" + r.Error + ")"
		default:
			line += fmt.Sprintf("HTTP %d", r.Status)
		}
		evidence = append(evidence, line)
		if r.Status >= 200 && r.Status < 300 && r.Path != "/version" {
			open = append(open, r.Path)
		}
	}
	if len(open) == 0 {
		return nil
	}
	f := check.New(meta, fmt.Sprintf("the API server answers %s to callers without credentials", strings.Join(open, ", ")))
	f.Incident = true
	f.Scope = check.ScopeCluster
	f.Evidence = evidence
	f.Fix = []string{
		"kubectl get clusterrolebindings,rolebindings -A -o wide | grep -E 'system:(anonymous|unauthenticated)'",
		fmt.Sprintf("curl -k %s/api/v1/namespaces   # repeat the probe: expect 401 or 403", serverOf(s)),
	}
	return []check.Finding{f}
}

// serverOf is the API server's URL as the run reached it, or a placeholder to fill in.
func serverOf(s *snapshot.Snapshot) string {
	if s.Server != "" {
		return check.Quote(s.Server)
	}
	return "API_SERVER_URL"
}

// AnonymousBinding finds RBAC bindings that grant anything to anonymous callers.
type AnonymousBinding struct{}

func (AnonymousBinding) Meta() check.Meta {
	return check.Meta{
		ID:       "apiserver-anonymous-binding",
		Title:    "RBAC grants access to anonymous callers",
		Category: check.CategoryAPIServer,
		Severity: check.Critical,
		Requires: []snapshot.Kind{snapshot.KindClusterRoleBindings, snapshot.KindRoleBindings},
		Optional: []snapshot.Kind{snapshot.KindClusterRoles, snapshot.KindRoles},
		Description: "Lists ClusterRoleBindings and RoleBindings whose subjects include the user system:anonymous or the " +
			"group system:unauthenticated, graded by what the role grants: any resource is critical, only non-resource " +
			"URLs (discovery, OpenAPI) medium, a role that cannot be read critical. By policy, the default binding of " +
			"system:public-info-viewer (version and health endpoints, on every cluster) is not reported while that role " +
			"grants only its defaults; rules added to it are. Works on manifests too.",
		Why:         "Anything bound to these subjects is open to whoever can reach the API server, credentials or not.",
		Remediation: "Delete the binding, or bind the role to the authenticated identities that need it instead.",
		References: []string{
			"https://kubernetes.io/docs/reference/access-authn-authz/rbac/#discovery-roles",
			"https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests",
		},
	}
}

func anonymousSubjects(subjects []rbacv1.Subject) []string {
	var out []string
	for _, sub := range subjects {
		if (sub.Kind == rbacv1.UserKind && sub.Name == "system:anonymous") || (sub.Kind == rbacv1.GroupKind && sub.Name == "system:unauthenticated") {
			out = append(out, sub.Kind+" "+sub.Name)
		}
	}
	return out
}

// publicInfoPaths are what system:public-info-viewer grants by default.
func publicInfoPaths() map[string]bool {
	return map[string]bool{"/healthz": true, "/livez": true, "/readyz": true, "/version": true, "/version/": true}
}

// grant sums up what rules open: resources, or only non-resource URLs, and whether anything
// beyond the public info endpoints.
type grant struct {
	resources    []string
	urls         []string
	beyondPublic bool
}

func describeRules(rules []rbacv1.PolicyRule) grant {
	var g grant
	public := publicInfoPaths()
	for _, r := range rules {
		for _, res := range r.Resources {
			g.resources = append(g.resources, fmt.Sprintf("%s %s", strings.Join(r.Verbs, ","), res))
		}
		for _, u := range r.NonResourceURLs {
			g.urls = append(g.urls, u)
			if !public[u] {
				g.beyondPublic = true
			}
		}
	}
	if len(g.resources) > 0 {
		g.beyondPublic = true
	}
	return g
}

func (c AnonymousBinding) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	report := func(ref snapshot.Ref, namespace string, roleRef rbacv1.RoleRef, who []string, created time.Time) {
		rules, known := s.RoleRules(namespace, roleRef)
		g := describeRules(rules)
		isPublicInfo := roleRef.Kind == "ClusterRole" && roleRef.Name == "system:public-info-viewer"
		if isPublicInfo && !g.beyondPublic {
			// The default every cluster has: information, not a finding. Unread, it is taken to
			// hold its defaults, or every cluster would report it.
			return
		}
		f := check.New(meta, fmt.Sprintf("%s grants %s %s to %s", ref.Describe(), strings.ToLower(roleRef.Kind), roleRef.Name,
			strings.Join(who, " and ")), ref)
		switch {
		case !known:
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s %s could not be read: what it grants is unknown", strings.ToLower(roleRef.Kind), roleRef.Name))
		case len(g.resources) > 0:
			f.Evidence = append(f.Evidence, "grants "+strings.Join(g.resources, "; "))
		default:
			f.Severity = check.Medium
			f.Evidence = append(f.Evidence, "grants only non-resource URLs: "+strings.Join(g.urls, ", "))
		}
		if !created.IsZero() {
			f.Evidence = append(f.Evidence, "the binding was created "+check.Ago(created, s.CollectedAt))
		}
		f.Evidence = check.LimitEvidence(f.Evidence)
		f.Incident = f.Severity == check.Critical
		if f.Incident {
			// Open since the binding was made, as far as the cluster records (a later edit of
			// the binding or its role leaves no date).
			f.Since = check.Earliest(created)
		}
		f.Scope = check.ScopeCluster
		if ref.Namespace != "" {
			f.Scope = check.ScopeNamespace
		}
		kind := strings.ToLower(ref.Kind)
		if ref.Namespace == "" {
			f.Fix = []string{fmt.Sprintf("kubectl delete %s %s   # after checking nothing legitimate depends on it", kind, check.Quote(ref.Name))}
		} else {
			f.Fix = []string{fmt.Sprintf("kubectl delete %s -n %s %s   # after checking nothing legitimate depends on it", kind, check.Quote(ref.Namespace), check.Quote(ref.Name))}
		}
		findings = append(findings, f)
	}
	for i := range s.ClusterRoleBindings {
		b := &s.ClusterRoleBindings[i]
		if who := anonymousSubjects(b.Subjects); len(who) > 0 {
			report(snapshot.RefTo(snapshot.KindClusterRoleBindings, "", b.Name), "", b.RoleRef, who, b.CreationTimestamp.Time)
		}
	}
	for i := range s.RoleBindings {
		b := &s.RoleBindings[i]
		if who := anonymousSubjects(b.Subjects); len(who) > 0 {
			report(snapshot.RefTo(snapshot.KindRoleBindings, b.Namespace, b.Name), b.Namespace, b.RoleRef, who, b.CreationTimestamp.Time)
		}
	}
	return findings
}
