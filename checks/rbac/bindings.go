package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func isDefault(meta *metav1.ObjectMeta) bool {
	return meta.Labels[snapshot.BootstrapLabel] == "rbac-defaults"
}

// binding is a RoleBinding or ClusterRoleBinding, seen the same way.
type binding struct {
	ref      snapshot.Ref
	meta     *metav1.ObjectMeta
	roleRef  rbacv1.RoleRef
	subjects []rbacv1.Subject
	// namespace is a RoleBinding's; "" for a ClusterRoleBinding.
	namespace string
}

func bindings(s *snapshot.Snapshot) []binding {
	out := make([]binding, 0, len(s.ClusterRoleBindings)+len(s.RoleBindings))
	for i := range s.ClusterRoleBindings {
		b := &s.ClusterRoleBindings[i]
		out = append(out, binding{snapshot.RefTo(snapshot.KindClusterRoleBindings, "", b.Name), &b.ObjectMeta, b.RoleRef, b.Subjects, ""})
	}
	for i := range s.RoleBindings {
		b := &s.RoleBindings[i]
		out = append(out, binding{snapshot.RefTo(snapshot.KindRoleBindings, b.Namespace, b.Name), &b.ObjectMeta, b.RoleRef, b.Subjects, b.Namespace})
	}
	return out
}

func (b binding) roleRefOf() snapshot.Ref {
	if b.roleRef.Kind == "ClusterRole" {
		return snapshot.RefTo(snapshot.KindClusterRoles, "", b.roleRef.Name)
	}
	return snapshot.RefTo(snapshot.KindRoles, b.namespace, b.roleRef.Name)
}

func (b binding) editCommand() string { return editBinding(b.ref) }

// WildcardRole reports custom roles with wildcards in their verbs or resources.
type WildcardRole struct{}

func (WildcardRole) Meta() check.Meta {
	return check.Meta{
		ID:       "rbac-wildcard-role",
		Title:    "Custom roles use wildcards",
		Category: check.CategoryRBAC,
		Severity: check.Medium,
		Requires: []snapshot.Kind{snapshot.KindClusterRoles, snapshot.KindRoles},
		Description: "Reports Roles and ClusterRoles, other than the API server's defaults, with * in verbs or " +
			"resources (aggregated ClusterRoles are judged by the roles they aggregate).",
		Why: "A wildcard grants what exists now and every verb, resource and subresource added later (CRDs " +
			"included): permissions grow without anyone editing the role.",
		Remediation: "List the verbs and resources the role needs.",
		References:  []string{reference + "#least-privilege"},
	}
}

func (c WildcardRole) Run(s *snapshot.Snapshot) []check.Finding {
	var findings []check.Finding
	report := func(ref snapshot.Ref, meta *metav1.ObjectMeta, rules []rbacv1.PolicyRule) {
		if isDefault(meta) {
			return
		}
		var evidence []string
		for _, rule := range rules {
			if slices.Contains(rule.Verbs, "*") || slices.Contains(rule.Resources, "*") {
				evidence = append(evidence, DescribeRule(rule))
			}
		}
		if len(evidence) == 0 {
			return
		}
		f := check.New(c.Meta(), fmt.Sprintf("%s grants with wildcards: %s.", describe(ref), strings.Join(evidence, "; ")), ref)
		f.Evidence = evidence
		if ref.Namespace != "" {
			f.Fix = []string{fmt.Sprintf("kubectl edit role -n %s %s", check.Quote(ref.Namespace), check.Quote(ref.Name))}
		} else {
			f.Fix = []string{"kubectl edit clusterrole " + check.Quote(ref.Name)}
		}
		findings = append(findings, f)
	}
	for i := range s.ClusterRoles {
		r := &s.ClusterRoles[i]
		report(snapshot.RefTo(snapshot.KindClusterRoles, "", r.Name), &r.ObjectMeta, r.Rules)
	}
	for i := range s.Roles {
		r := &s.Roles[i]
		report(snapshot.RefTo(snapshot.KindRoles, r.Namespace, r.Name), &r.ObjectMeta, r.Rules)
	}
	return findings
}

// AuthenticatedGrant reports grants to every authenticated user beyond the defaults.
type AuthenticatedGrant struct{}

func (AuthenticatedGrant) Meta() check.Meta {
	return check.Meta{
		ID:       "rbac-authenticated-grant",
		Title:    "Every authenticated user is granted more than the defaults",
		Category: check.CategoryRBAC,
		Severity: check.High,
		Requires: rbacKinds(),
		Description: "Reports bindings, other than the API server's defaults (system:basic-user, system:discovery, " +
			"system:public-info-viewer), whose subjects include the group system:authenticated, or " +
			"system:serviceaccounts (every service account of every namespace). Grants to " +
			"system:anonymous and system:unauthenticated are apiserver-anonymous-binding's.",
		Why: "system:authenticated is every identity the cluster accepts: every service account of every namespace, " +
			"every user of any configured identity provider (on some managed clusters, any account of the provider).",
		Remediation: "Bind the role to the groups that need it instead.",
		References:  []string{"https://kubernetes.io/docs/reference/access-authn-authz/rbac/#default-roles-and-role-bindings"},
	}
}

func (c AuthenticatedGrant) Run(s *snapshot.Snapshot) []check.Finding {
	var findings []check.Finding
	for _, b := range bindings(s) {
		i := slices.IndexFunc(b.subjects, func(sub rbacv1.Subject) bool {
			return sub.Kind == rbacv1.GroupKind && (sub.Name == "system:authenticated" || sub.Name == "system:serviceaccounts") &&
				!(isDefault(b.meta) && snapshot.IsBootstrapSubject(b.ref.Name, sub))
		})
		if i < 0 {
			continue
		}
		group := b.subjects[i].Name
		role := b.roleRefOf()
		f := check.New(c.Meta(), fmt.Sprintf("%s grants %s to every identity of group %s.",
			describe(b.ref), describe(role), group), SubjectRef(b.subjects[i]), b.ref, role)
		f.Scope = check.ScopeCluster
		f.Fix = []string{b.editCommand() + "   # replace " + group + " with the groups that need it"}
		findings = append(findings, f)
	}
	return findings
}

// DefaultServiceAccountBound reports bindings that give a namespace's default ServiceAccount
// permissions.
type DefaultServiceAccountBound struct{}

func (DefaultServiceAccountBound) Meta() check.Meta {
	return check.Meta{
		ID:       "rbac-default-sa-bound",
		Title:    "Default ServiceAccounts are granted permissions",
		Category: check.CategoryRBAC,
		Severity: check.Medium,
		Requires: rbacKinds(),
		Description: "Reports bindings (other than the API server's defaults) whose subjects include a namespace's " +
			"default ServiceAccount.",
		Why: "Every pod that names no ServiceAccount runs as default: a permission given to it is given to every " +
			"such pod of the namespace, today's and tomorrow's.",
		Remediation: "Create a ServiceAccount for the workload that needs the permission and bind that instead.",
		References:  []string{reference + "#least-privilege"},
	}
}

func (c DefaultServiceAccountBound) Run(s *snapshot.Snapshot) []check.Finding {
	var findings []check.Finding
	for _, b := range bindings(s) {
		for _, sub := range b.subjects {
			if sub.Kind != rbacv1.ServiceAccountKind || sub.Name != "default" || (isDefault(b.meta) && snapshot.IsBootstrapSubject(b.ref.Name, sub)) {
				continue
			}
			if sub.Namespace == "" {
				sub.Namespace = b.namespace
			}
			role := b.roleRefOf()
			f := check.New(c.Meta(), fmt.Sprintf("%s grants %s to the default ServiceAccount of namespace %s: every pod "+
				"there that names no ServiceAccount holds it.", describe(b.ref), describe(role), sub.Namespace),
				SubjectRef(sub), b.ref, role)
			f.Fix = []string{b.editCommand() + "   # bind a dedicated ServiceAccount instead"}
			findings = append(findings, f)
		}
	}
	return findings
}

// MissingServiceAccount reports bindings to ServiceAccounts that do not exist.
type MissingServiceAccount struct{}

func (MissingServiceAccount) Meta() check.Meta {
	return check.Meta{
		ID:           "rbac-missing-serviceaccount",
		Title:        "Bindings name ServiceAccounts that do not exist",
		Category:     check.CategoryRBAC,
		Severity:     check.Medium,
		Requires:     append(rbacKinds(), snapshot.KindServiceAccounts),
		LiveOnly:     true,
		WholeCluster: true,
		Description: "Reports binding subjects that are ServiceAccounts absent from the cluster. The API server's " +
			"default bindings name ServiceAccounts the controller-manager creates, and are left out.",
		Why: "The grant waits for the name: whoever may create a ServiceAccount of that name in that namespace " +
			"(or create the namespace) inherits it.",
		Remediation: "Remove the subject from the binding, or create the ServiceAccount deliberately.",
		References:  []string{reference},
	}
}

func (c MissingServiceAccount) Run(s *snapshot.Snapshot) []check.Finding {
	exists := map[string]bool{}
	for i := range s.ServiceAccounts {
		exists[s.ServiceAccounts[i].Namespace+"/"+s.ServiceAccounts[i].Name] = true
	}
	var findings []check.Finding
	for _, b := range bindings(s) {
		for _, sub := range b.subjects {
			if sub.Kind != rbacv1.ServiceAccountKind || (isDefault(b.meta) && snapshot.IsBootstrapSubject(b.ref.Name, sub)) {
				continue
			}
			if sub.Namespace == "" {
				sub.Namespace = b.namespace
			}
			if sub.Namespace == "" || exists[sub.Namespace+"/"+sub.Name] {
				// Without a namespace no ServiceAccount ever matches: nobody can inherit the grant.
				continue
			}
			f := check.New(c.Meta(), fmt.Sprintf("%s grants %s to %s, which does not exist: whoever creates it inherits the grant.",
				describe(b.ref), describe(b.roleRefOf()), SubjectString(sub)), SubjectRef(sub), b.ref)
			f.Fix = []string{b.editCommand() + "   # remove the subject"}
			findings = append(findings, f)
		}
	}
	return findings
}

// DanglingBinding reports bindings to roles that do not exist.
type DanglingBinding struct{}

func (DanglingBinding) Meta() check.Meta {
	return check.Meta{
		ID:       "rbac-dangling-binding",
		Title:    "Bindings refer to roles that do not exist",
		Category: check.CategoryRBAC,
		Severity: check.Low,
		Requires: rbacKinds(),
		// Manifests bind the cluster's built-in roles without defining them.
		LiveOnly:     true,
		WholeCluster: true,
		Description:  "Reports RoleBindings and ClusterRoleBindings whose roleRef names a Role or ClusterRole that is not there.",
		Why: "The binding grants nothing today, and whatever a role of that name grants as soon as someone creates " +
			"one: a permission that appears without anyone binding it.",
		Remediation: "Delete the binding, or create the role it was meant for.",
		References:  []string{"https://kubernetes.io/docs/reference/access-authn-authz/rbac/#rolebinding-and-clusterrolebinding"},
	}
}

func (c DanglingBinding) Run(s *snapshot.Snapshot) []check.Finding {
	var findings []check.Finding
	for _, b := range bindings(s) {
		if _, ok := s.RoleRules(b.namespace, b.roleRef); ok {
			continue
		}
		role := b.roleRefOf()
		f := check.New(c.Meta(), fmt.Sprintf("%s refers to %s, which does not exist.", describe(b.ref), describe(role)), b.ref)
		if b.namespace != "" {
			f.Fix = []string{fmt.Sprintf("kubectl delete rolebinding -n %s %s   # or create the role", check.Quote(b.namespace), check.Quote(b.ref.Name))}
		} else {
			f.Fix = []string{fmt.Sprintf("kubectl delete clusterrolebinding %s   # or create the role", check.Quote(b.ref.Name))}
		}
		findings = append(findings, f)
	}
	return findings
}

// Checks is every check of the family, as the catalog lists it.
func Checks() []check.Check {
	return append(Abilities(), WildcardRole{}, AuthenticatedGrant{}, DefaultServiceAccountBound{}, MissingServiceAccount{}, DanglingBinding{})
}
