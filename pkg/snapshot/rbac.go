package snapshot

import (
	"reflect"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// BootstrapLabel marks the roles and bindings the API server creates itself (the system:* defaults).
const BootstrapLabel = "kubernetes.io/bootstrapping"

// Grant is one rule that reaches a subject through one binding.
type Grant struct {
	// Subject is as the binding names it, with a ServiceAccount's namespace filled in.
	Subject rbacv1.Subject
	Binding Ref
	Role    Ref
	// Namespace is where the grant applies: a RoleBinding's namespace, or "" for a
	// ClusterRoleBinding, which applies everywhere.
	Namespace string
	// Rule points into the role's rules, shared by every grant of that role: never modify it.
	Rule *rbacv1.PolicyRule
	// Default is true when the binding is one of the API server's bootstrap defaults.
	Default bool
}

// Request is what an authorizer is asked: a verb on a resource (or a non-resource path).
type Request struct {
	Verb        string
	APIGroup    string
	Resource    string
	Subresource string
	Name        string
	// Namespace is where the request is made; "" for cluster-scoped resources and for a request
	// across all namespaces.
	Namespace string
	// Path is set, instead of the resource fields, for a non-resource request such as /metrics.
	Path string
}

// ResourceName is how kubectl names the request's target: plural.group/subresource, or the URL
// path of a non-resource request.
func (r Request) ResourceName() string {
	if r.Path != "" {
		return r.Path
	}
	text := r.Resource
	if r.APIGroup != "" {
		text += "." + r.APIGroup
	}
	if r.Subresource != "" {
		text += "/" + r.Subresource
	}
	return text
}

// Identity is who makes a request: a user name and the groups it belongs to.
type Identity struct {
	User   string
	Groups []string
}

// ServiceAccountIdentity is the identity the API server gives a ServiceAccount's token.
func ServiceAccountIdentity(namespace, name string) Identity {
	return Identity{User: "system:serviceaccount:" + namespace + ":" + name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}}
}

// Holds tells whether a binding's subject is this identity, as the RBAC authorizer matches them.
func (id Identity) Holds(subject rbacv1.Subject) bool {
	switch subject.Kind {
	case rbacv1.UserKind:
		return id.User != "" && subject.Name == id.User
	case rbacv1.GroupKind:
		return slices.Contains(id.Groups, subject.Name)
	case rbacv1.ServiceAccountKind:
		return subject.Namespace != "" && id.User == "system:serviceaccount:"+subject.Namespace+":"+subject.Name
	}
	return false
}

// Grants lists every rule every binding gives, in binding order (ClusterRoleBindings first). A
// binding whose role is missing gives nothing; see DanglingBindings.
func (s *Snapshot) Grants() []Grant {
	return Derived(s, grantsKey{}, s.grants)
}

type grantsKey struct{}

func (s *Snapshot) grants() []Grant {
	rules := s.clusterRoleRules()
	// Sized up front: on a large cluster this is tens of thousands of grants, and growing the
	// slice step by step would copy them many times over.
	size := 0
	for i := range s.ClusterRoleBindings {
		size += len(s.ClusterRoleBindings[i].Subjects) * len(rules[s.ClusterRoleBindings[i].RoleRef.Name])
	}
	for i := range s.RoleBindings {
		b := &s.RoleBindings[i]
		role, _ := s.RoleRules(b.Namespace, b.RoleRef)
		if b.RoleRef.Kind == "ClusterRole" {
			role = rules[b.RoleRef.Name]
		}
		size += len(b.Subjects) * len(role)
	}
	out := make([]Grant, 0, size)
	for i := range s.ClusterRoleBindings {
		b := &s.ClusterRoleBindings[i]
		if b.RoleRef.Kind != "ClusterRole" {
			continue
		}
		role, ok := rules[b.RoleRef.Name]
		if !ok {
			continue
		}
		out = appendGrants(out, b.ObjectMeta, RefTo(KindClusterRoleBindings, "", b.Name), RefTo(KindClusterRoles, "", b.RoleRef.Name), "", b.Subjects, role)
	}
	for i := range s.RoleBindings {
		b := &s.RoleBindings[i]
		var role []rbacv1.PolicyRule
		var roleRef Ref
		switch b.RoleRef.Kind {
		case "ClusterRole":
			r, ok := rules[b.RoleRef.Name]
			if !ok {
				continue
			}
			role, roleRef = r, RefTo(KindClusterRoles, "", b.RoleRef.Name)
		case "Role":
			r, ok := s.RoleRules(b.Namespace, b.RoleRef)
			if !ok {
				continue
			}
			role, roleRef = r, RefTo(KindRoles, b.Namespace, b.RoleRef.Name)
		default:
			continue
		}
		out = appendGrants(out, b.ObjectMeta, RefTo(KindRoleBindings, b.Namespace, b.Name), roleRef, b.Namespace, b.Subjects, role)
	}
	return out
}

func appendGrants(out []Grant, meta metav1.ObjectMeta, binding, role Ref, namespace string, subjects []rbacv1.Subject, rules []rbacv1.PolicyRule) []Grant {
	labelled := meta.Labels[BootstrapLabel] == "rbac-defaults"
	for _, subject := range subjects {
		if subject.Kind == rbacv1.ServiceAccountKind && subject.Namespace == "" {
			if namespace == "" {
				continue // the authorizer matches no ServiceAccount without a namespace
			}
			// A RoleBinding may leave out its ServiceAccounts' namespace: its own is meant.
			subject.Namespace = namespace
		}
		isDefault := labelled && IsBootstrapSubject(meta.Name, subject)
		for i := range rules {
			rule := &rules[i]
			if namespace != "" && len(rule.NonResourceURLs) > 0 && len(rule.Resources) == 0 {
				continue // non-resource URLs are granted only cluster-wide
			}
			out = append(out, Grant{Subject: subject, Binding: binding, Role: role, Namespace: namespace, Rule: rule, Default: isDefault})
		}
	}
	return out
}

// IsBootstrapSubject tells the subjects the API server's own bindings name (system users and
// groups, kube-system's service accounts) from one added to such a binding later, which the
// label does not vouch for. Every authenticated (or anonymous) caller is a default subject only
// of the three bindings that grant discovery and basic self-review; the group of all service
// accounts (system:serviceaccounts) is one of several discovery bindings, which vary by version.
func IsBootstrapSubject(binding string, subject rbacv1.Subject) bool {
	switch {
	case subject.Kind == rbacv1.ServiceAccountKind:
		return subject.Namespace == "kube-system"
	case subject.Name == "system:authenticated":
		return binding == "system:basic-user" || binding == "system:discovery" || binding == "system:public-info-viewer"
	case subject.Name == "system:unauthenticated":
		return binding == "system:public-info-viewer"
	}
	return strings.HasPrefix(subject.Name, "system:")
}

// clusterRoleRules maps each ClusterRole to its rules. On a cluster these are the stored rules,
// which are what the authorizer enforces (the aggregation controller fills in aggregated roles).
// In manifests nobody has filled them in: an aggregated ClusterRole without rules gets those of
// the roles its selectors match, as the controller would give it.
func (s *Snapshot) clusterRoleRules() map[string][]rbacv1.PolicyRule {
	out := make(map[string][]rbacv1.PolicyRule, len(s.ClusterRoles))
	var resolve func(role *rbacv1.ClusterRole, visiting map[string]bool) []rbacv1.PolicyRule
	resolve = func(role *rbacv1.ClusterRole, visiting map[string]bool) []rbacv1.PolicyRule {
		if rules, done := out[role.Name]; done {
			return rules
		}
		if s.Source != SourceManifests || role.AggregationRule == nil || visiting[role.Name] {
			return role.Rules
		}
		// As the aggregation controller does: the rules of every role a selector matches (an
		// empty selector matches them all), each rule once, in place of the role's own.
		visiting[role.Name] = true
		var rules []rbacv1.PolicyRule
		for i := range s.ClusterRoles {
			other := &s.ClusterRoles[i]
			if other.Name == role.Name || !aggregates(role.AggregationRule, other.Labels) {
				continue
			}
			for _, rule := range resolve(other, visiting) {
				if !slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool { return reflect.DeepEqual(r, rule) }) {
					rules = append(rules, rule)
				}
			}
		}
		delete(visiting, role.Name)
		out[role.Name] = rules
		return rules
	}
	for i := range s.ClusterRoles {
		role := &s.ClusterRoles[i]
		out[role.Name] = resolve(role, map[string]bool{})
	}
	if _, defined := out["cluster-admin"]; !defined && s.Source == SourceManifests {
		// Every cluster has it, so manifests bind it without defining it.
		out["cluster-admin"] = []rbacv1.PolicyRule{
			{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}},
			{NonResourceURLs: []string{"*"}, Verbs: []string{"*"}},
		}
	}
	return out
}

func aggregates(rule *rbacv1.AggregationRule, roleLabels map[string]string) bool {
	for i := range rule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&rule.ClusterRoleSelectors[i])
		if err == nil && sel.Matches(labels.Set(roleLabels)) {
			return true
		}
	}
	return false
}

// Applies tells whether a grant covers a request's namespace: a cluster-wide grant covers all,
// a namespaced one only requests in its namespace.
func (g Grant) Applies(r Request) bool {
	return g.Namespace == "" || (r.Path == "" && g.Namespace == r.Namespace)
}

// RuleAllows tells whether an RBAC rule admits a request, as the RBAC authorizer decides: verbs,
// API groups and resources match exactly or by "*"; "resource/subresource" must be named as such
// (or "*/subresource"); resourceNames, when given, admit only requests for those names (so never
// a list or a create); non-resource paths match exactly or by a trailing "*".
func RuleAllows(rule rbacv1.PolicyRule, r Request) bool {
	if !matches(rule.Verbs, r.Verb) {
		return false
	}
	if r.Path != "" {
		for _, url := range rule.NonResourceURLs {
			if url == "*" || url == r.Path || (strings.HasSuffix(url, "*") && strings.HasPrefix(r.Path, strings.TrimRight(url, "*"))) {
				return true
			}
		}
		return false
	}
	if !matches(rule.APIGroups, r.APIGroup) {
		return false
	}
	resource := r.Resource
	if r.Subresource != "" {
		resource += "/" + r.Subresource
	}
	resourceMatches := slices.ContainsFunc(rule.Resources, func(res string) bool {
		return res == rbacv1.ResourceAll || res == resource || (r.Subresource != "" && res == "*/"+r.Subresource)
	})
	if !resourceMatches {
		return false
	}
	return len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, r.Name)
}

func matches(values []string, want string) bool {
	return slices.Contains(values, "*") || slices.Contains(values, want)
}
