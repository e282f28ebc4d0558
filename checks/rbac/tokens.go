package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const (
	serviceAccountUserPrefix   = "system:serviceaccount:"
	serviceAccountsGroupPrefix = "system:serviceaccounts:"
)

// tokenWorth judges a grant of create on serviceaccounts/token by the ServiceAccounts it can mint
// tokens for. The TokenRequest subresource (pkg/registry/core/serviceaccount/storage/token.go) is
// a named create: the request names the ServiceAccount in its path, the token carries that
// account's identity, and RBAC matches the rule's resourceNames against that name, in the
// binding's namespace for a RoleBinding and in any namespace for a ClusterRoleBinding. Without
// resourceNames the grant reaches every account there: high. With them, it is worth what the
// named accounts may do beyond the holder: nothing (no finding) when every request any of them
// may make the holder may make too, else at least high, and the severity of the most dangerous
// other ability of this family that account holds.
func tokenWorth(x *grantIndex, holder rbacv1.Subject, g snapshot.Grant) verdict {
	if len(g.Rule.ResourceNames) == 0 {
		return verdict{severity: check.High}
	}
	namespaces := x.namespaces
	if g.Namespace != "" {
		namespaces = []string{g.Namespace}
	}
	holderGrants := x.reaching(identityOf(holder))
	var out verdict
	for _, name := range g.Rule.ResourceNames {
		for _, ns := range namespaces {
			account := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
			accountGrants := x.reaching(snapshot.ServiceAccountIdentity(ns, name))
			beyond, ok := firstBeyond(accountGrants, holderGrants)
			if !ok {
				continue
			}
			severity, note := check.High, fmt.Sprintf("a token for %s may do what %s may not: %s", SubjectString(account),
				SubjectString(holder), DescribeGrant(beyond))
			if h, dangerous := strongestAbility(x, account, accountGrants); dangerous {
				severity = h.severity
				if severity.Rank() > check.High.Rank() {
					severity = check.High
				}
				note = fmt.Sprintf("a token for %s %s: %s", SubjectString(account), h.consequence, DescribeGrant(h.grant))
			}
			out.notes = append(out.notes, note)
			out.objects = append(out.objects, SubjectRef(account))
			if out.severity == "" || severity.Rank() < out.severity.Rank() {
				out.severity = severity
			}
		}
	}
	return out
}

// dangerousHolding is the most severe ability an identity holds, and one grant that gives it.
type dangerousHolding struct {
	severity    check.Severity
	consequence string
	grant       snapshot.Grant
}

// strongestAbility finds the most severe ability of the family, other than minting tokens (a
// token for an account that mints tokens is judged when that account's own grant is), that
// grants reaching an account give it.
func strongestAbility(x *grantIndex, account rbacv1.Subject, grants []snapshot.Grant) (dangerousHolding, bool) {
	var best dangerousHolding
	for _, c := range Abilities() {
		a, ok := c.(ability)
		if !ok || a.weigh != nil {
			continue
		}
		h, held := a.judge(x, account, grants)
		if held && (best.severity == "" || h.severity.Rank() < best.severity.Rank()) {
			best = dangerousHolding{severity: h.severity, consequence: a.consequence, grant: h.grants[0].Grant}
		}
	}
	return best, best.severity != ""
}

// identityOf is who the authorizer sees when a binding's subject makes a request: a user or a
// ServiceAccount is authenticated, and so is a member of any group but the unauthenticated.
func identityOf(subject rbacv1.Subject) snapshot.Identity {
	switch subject.Kind {
	case rbacv1.ServiceAccountKind:
		return snapshot.ServiceAccountIdentity(subject.Namespace, subject.Name)
	case rbacv1.UserKind:
		if subject.Name == "system:anonymous" {
			return snapshot.Identity{User: subject.Name, Groups: []string{"system:unauthenticated"}}
		}
		return snapshot.Identity{User: subject.Name, Groups: []string{"system:authenticated"}}
	}
	groups := []string{subject.Name}
	if subject.Name != "system:unauthenticated" && subject.Name != "system:authenticated" {
		groups = append(groups, "system:authenticated")
	}
	if strings.HasPrefix(subject.Name, serviceAccountsGroupPrefix) {
		groups = append(groups, "system:serviceaccounts")
	}
	return snapshot.Identity{Groups: groups}
}

// reaching lists every grant that reaches an identity: bindings naming its user (or, for a
// ServiceAccount's user name, the account) and each of its groups, defaults included.
func (x *grantIndex) reaching(id snapshot.Identity) []snapshot.Grant {
	var out []snapshot.Grant
	if id.User != "" {
		out = append(out, x.of(rbacv1.Subject{Kind: rbacv1.UserKind, Name: id.User})...)
		if rest, ok := strings.CutPrefix(id.User, serviceAccountUserPrefix); ok {
			if ns, name, ok := strings.Cut(rest, ":"); ok {
				out = append(out, x.of(rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name})...)
			}
		}
	}
	for _, group := range id.Groups {
		out = append(out, x.of(rbacv1.Subject{Kind: rbacv1.GroupKind, Name: group})...)
	}
	return out
}

// firstBeyond finds the first of grants that allows a request none of within allows where it
// applies: every verb, group, resource and name (or path) of its rule is asked separately, and
// a wildcard only by a wildcard.
func firstBeyond(grants, within []snapshot.Grant) (snapshot.Grant, bool) {
	for _, g := range grants {
		for _, r := range ruleRequests(*g.Rule) {
			r.Namespace = g.Namespace
			if !slices.ContainsFunc(within, func(w snapshot.Grant) bool { return w.Applies(r) && snapshot.RuleAllows(*w.Rule, r) }) {
				return g, true
			}
		}
	}
	return snapshot.Grant{}, false
}

// ruleRequests spells out every request a rule allows, wildcards as they are written.
func ruleRequests(rule rbacv1.PolicyRule) []snapshot.Request {
	var out []snapshot.Request
	names := rule.ResourceNames
	if len(names) == 0 {
		names = []string{""}
	}
	for _, verb := range rule.Verbs {
		for _, path := range rule.NonResourceURLs {
			out = append(out, snapshot.Request{Verb: verb, Path: path})
		}
		for _, group := range rule.APIGroups {
			for _, resource := range rule.Resources {
				res, sub, _ := strings.Cut(resource, "/")
				for _, name := range names {
					out = append(out, snapshot.Request{Verb: verb, APIGroup: group, Resource: res, Subresource: sub, Name: name})
				}
			}
		}
	}
	return out
}
