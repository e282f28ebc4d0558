// Package rbac finds who can take over the cluster: subjects whose effective RBAC permissions
// (through every binding, role and aggregated ClusterRole) include a dangerous ability, with
// the path from subject to binding to role to rule.
package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const reference = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/"

// defaultsPolicy is how the checks treat the API server's own roles and bindings.
const defaultsPolicy = " Bindings the API server creates itself (label kubernetes.io/bootstrapping=rbac-defaults, " +
	"the system:* defaults) are known defaults and not reported; the bootstrap roles are judged when " +
	"something else binds them."

func rbacKinds() []snapshot.Kind {
	return []snapshot.Kind{snapshot.KindClusterRoleBindings, snapshot.KindRoleBindings, snapshot.KindClusterRoles, snapshot.KindRoles}
}

// SubjectRef names a binding's subject in findings. Users and groups are no API objects; they are
// named by kind and name under the RBAC API group.
func SubjectRef(subject rbacv1.Subject) snapshot.Ref {
	if subject.Kind == rbacv1.ServiceAccountKind {
		return snapshot.RefTo(snapshot.KindServiceAccounts, subject.Namespace, subject.Name)
	}
	return snapshot.Ref{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: subject.Kind, Name: subject.Name}
}

// SubjectString reads "User alice", "Group devs" or "ServiceAccount ci/deployer".
func SubjectString(subject rbacv1.Subject) string {
	if subject.Kind == rbacv1.ServiceAccountKind {
		return "ServiceAccount " + subject.Namespace + "/" + subject.Name
	}
	return subject.Kind + " " + subject.Name
}

// describe names an RBAC object by its kind as written: "ClusterRole admin", "RoleBinding dev/ci".
func describe(ref snapshot.Ref) string {
	if ref.Namespace != "" {
		return ref.Kind + " " + ref.Namespace + "/" + ref.Name
	}
	return ref.Kind + " " + ref.Name
}

// DescribeRule reads a rule the way people write it: "get,list secrets" or "* on *.*".
func DescribeRule(rule rbacv1.PolicyRule) string {
	verbs := strings.Join(rule.Verbs, ",")
	if len(rule.NonResourceURLs) > 0 {
		return verbs + " " + strings.Join(rule.NonResourceURLs, ",")
	}
	var resources []string
	for _, group := range rule.APIGroups {
		for _, resource := range rule.Resources {
			if group == "" {
				resources = append(resources, resource)
			} else {
				resources = append(resources, resource+"."+group)
			}
		}
	}
	out := verbs + " " + strings.Join(resources, ",")
	if len(rule.ResourceNames) > 0 {
		out += " named " + strings.Join(rule.ResourceNames, ",")
	}
	return out
}

// DescribeGrant reads "clusterrolebinding/ops -> clusterrole/cluster-admin: * *.* (cluster-wide)".
func DescribeGrant(g snapshot.Grant) string {
	where := "cluster-wide"
	if g.Namespace != "" {
		where = "in namespace " + g.Namespace
	}
	return fmt.Sprintf("%s -> %s: %s (%s)", describe(g.Binding), describe(g.Role), DescribeRule(*g.Rule), where)
}

func subjectKey(subject rbacv1.Subject) string {
	return subject.Kind + "/" + subject.Namespace + "/" + subject.Name
}

// holding is what one subject holds of an ability.
type holding struct {
	subject  rbacv1.Subject
	grants   []snapshot.Grant
	severity check.Severity
}

// ability is a dangerous permission: the rules that give it, and how severe it is where a grant applies.
type ability struct {
	meta check.Meta
	// allows tells whether a grant gives the ability (the rule, and where it applies).
	allows func(snapshot.Grant) bool
	// severity says how severe a grant is (by its scope, say); "" means it does not count.
	severity func(snapshot.Grant) check.Severity
	// subject says what the holder can do, for the message.
	consequence string
}

// holders groups the grants that give an ability by subject, in the order subjects first appear.
// Default bindings are left out.
func (a ability) holders(s *snapshot.Snapshot) []holding {
	index := map[string]int{}
	var out []holding
	for _, g := range s.Grants() {
		if g.Default || !a.allows(g) {
			continue
		}
		sev := a.meta.Severity
		if a.severity != nil {
			sev = a.severity(g)
		}
		if sev == "" {
			continue
		}
		key := subjectKey(g.Subject)
		i, seen := index[key]
		if !seen {
			i = len(out)
			index[key] = i
			out = append(out, holding{subject: g.Subject, severity: sev})
		}
		out[i].grants = append(out[i].grants, g)
		if sev.Rank() < out[i].severity.Rank() {
			out[i].severity = sev
		}
	}
	return out
}

func (a ability) Meta() check.Meta { return a.meta }

func (a ability) Run(s *snapshot.Snapshot) []check.Finding {
	var findings []check.Finding
	for _, h := range a.holders(s) {
		objects := []snapshot.Ref{SubjectRef(h.subject)}
		var evidence []string
		for _, g := range h.grants {
			for _, ref := range []snapshot.Ref{g.Binding, g.Role} {
				if !slices.Contains(objects, ref) {
					objects = append(objects, ref)
				}
			}
			evidence = append(evidence, DescribeGrant(g))
		}
		message := fmt.Sprintf("%s %s.", SubjectString(h.subject), a.consequence)
		if namespaces := grantNamespaces(h.grants); namespaces != "" {
			message = fmt.Sprintf("%s %s, in namespace %s.", SubjectString(h.subject), a.consequence, namespaces)
		}
		f := check.New(a.meta, message, objects...)
		f.Severity = h.severity
		f.Scope = check.ScopeCluster
		f.Evidence = check.LimitEvidence(evidence)
		f.Fix = []string{revokeHint(h.grants[0])}
		findings = append(findings, f)
	}
	return findings
}

// grantNamespaces lists the namespaces grants are limited to, or "" if one is cluster-wide.
func grantNamespaces(grants []snapshot.Grant) string {
	var namespaces []string
	for _, g := range grants {
		if g.Namespace == "" {
			return ""
		}
		if !slices.Contains(namespaces, g.Namespace) {
			namespaces = append(namespaces, g.Namespace)
		}
	}
	slices.Sort(namespaces)
	return strings.Join(namespaces, ", ")
}

// revokeHint is the command that shows the binding to change.
func revokeHint(g snapshot.Grant) string {
	if g.Binding.Namespace != "" {
		return fmt.Sprintf("kubectl edit rolebinding -n %s %s   # remove the subject, or bind a narrower role", g.Binding.Namespace, g.Binding.Name)
	}
	return fmt.Sprintf("kubectl edit clusterrolebinding %s   # remove the subject, or bind a narrower role", g.Binding.Name)
}

// scoped is a request an ability is made of, and whether its resource lives in namespaces: the
// authorizer consults RoleBindings only for requests in a namespace, so a RoleBinding never
// grants a cluster-scoped one (nodes/proxy, webhooks, impersonating users).
type scoped struct {
	snapshot.Request
	clusterScoped bool
}

// requests builds an ability test from requests: a grant gives the ability if its rule allows
// any of them where the grant applies. A rule limited to resourceNames still gives it, for
// those names (binding cluster-admin by name is binding cluster-admin).
func requests(rs ...scoped) func(snapshot.Grant) bool {
	return func(g snapshot.Grant) bool {
		rule := *g.Rule
		rule.ResourceNames = nil
		return slices.ContainsFunc(rs, func(r scoped) bool {
			return (g.Namespace == "" || !r.clusterScoped) && snapshot.RuleAllows(rule, r.Request)
		})
	}
}

// on builds requests for each verb on each resource (optionally "resource/subresource") of a group.
func on(group string, verbs []string, resources ...string) []scoped {
	var out []scoped
	for _, verb := range verbs {
		for _, resource := range resources {
			res, sub, _ := strings.Cut(resource, "/")
			out = append(out, scoped{Request: snapshot.Request{Verb: verb, APIGroup: group, Resource: res, Subresource: sub}})
		}
	}
	return out
}

// clusterScoped marks requests for resources that live in no namespace.
func clusterScoped(rs []scoped) []scoped {
	for i := range rs {
		rs[i].clusterScoped = true
	}
	return rs
}

// byScope rates a cluster-wide grant and a grant in one namespace differently.
func byScope(clusterWide, namespaced check.Severity) func(snapshot.Grant) check.Severity {
	return func(g snapshot.Grant) check.Severity {
		if g.Namespace == "" {
			return clusterWide
		}
		return namespaced
	}
}

func verbs(v ...string) []string { return v }
