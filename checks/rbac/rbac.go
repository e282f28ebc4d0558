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

// subjectGrants is every grant that names one subject, in snapshot order.
type subjectGrants struct {
	subject rbacv1.Subject
	// all includes the API server's default bindings; reported leaves them out.
	all, reported []snapshot.Grant
}

// grantIndex groups the snapshot's grants by the subject their binding names, in the order
// subjects first appear; the family's checks share it.
type grantIndex struct {
	subjects []subjectGrants
	byKey    map[string]int
	// namespaces are every namespace the snapshot names (namespaces, ServiceAccounts, bindings
	// and their subjects), sorted: where a ServiceAccount of a given name may live.
	namespaces []string
}

type grantIndexKey struct{}

func indexGrants(s *snapshot.Snapshot) *grantIndex {
	return snapshot.Derived(s, grantIndexKey{}, func() *grantIndex {
		x := &grantIndex{byKey: map[string]int{}}
		for _, g := range s.Grants() {
			key := subjectKey(g.Subject)
			i, seen := x.byKey[key]
			if !seen {
				i = len(x.subjects)
				x.byKey[key] = i
				x.subjects = append(x.subjects, subjectGrants{subject: g.Subject})
			}
			x.subjects[i].all = append(x.subjects[i].all, g)
			if !g.Default {
				x.subjects[i].reported = append(x.subjects[i].reported, g)
			}
		}
		x.namespaces = knownNamespaces(s)
		return x
	})
}

func knownNamespaces(s *snapshot.Snapshot) []string {
	var out []string
	for i := range s.Namespaces {
		out = append(out, s.Namespaces[i].Name)
	}
	for i := range s.ServiceAccounts {
		out = append(out, s.ServiceAccounts[i].Namespace)
	}
	for _, b := range bindings(s) {
		if b.namespace != "" {
			out = append(out, b.namespace)
		}
		for _, sub := range b.subjects {
			if sub.Kind == rbacv1.ServiceAccountKind && sub.Namespace != "" {
				out = append(out, sub.Namespace)
			}
			if ns, ok := strings.CutPrefix(sub.Name, serviceAccountsGroupPrefix); ok && sub.Kind == rbacv1.GroupKind {
				out = append(out, ns)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// of lists the grants a binding names this subject in, defaults included.
func (x *grantIndex) of(subject rbacv1.Subject) []snapshot.Grant {
	if i, ok := x.byKey[subjectKey(subject)]; ok {
		return x.subjects[i].all
	}
	return nil
}

// holding is what one subject holds of an ability.
type holding struct {
	subject  rbacv1.Subject
	grants   []heldGrant
	severity check.Severity
}

// heldGrant is a grant that gives (a part of) an ability, and what the grant tells beyond its path.
type heldGrant struct {
	snapshot.Grant
	// part names the request the grant allows, when the ability needs several.
	part string
	// notes explain the grant's severity (what a minted token is worth, say).
	notes []string
	// objects are further objects the grant's severity is about.
	objects []snapshot.Ref
}

// part is one request (or one of several equivalent requests) an ability needs.
type part struct {
	// what names it in the evidence of an ability made of several parts; "" for one part.
	what   string
	allows func(snapshot.Grant) bool
}

// way is a set of parts that together give an ability. The API server may ask the authorizer
// several questions for one operation (approving a certificate request is update on its
// approval subresource and approve on its signer); each part may then be allowed by another
// rule, role or binding of the same subject.
type way []part

// verdict is what a grant is worth towards an ability: its severity ("" when it does not count),
// with the notes and objects that explain it.
type verdict struct {
	severity check.Severity
	notes    []string
	objects  []snapshot.Ref
}

// ability is a dangerous permission: the requests that give it, and how severe it is where a
// grant applies.
type ability struct {
	meta check.Meta
	// ways are the alternatives that give the ability: a subject holds it when some grant of
	// its allows each part of one way.
	ways []way
	// severity says how severe a grant is (by its scope, say); "" means it does not count.
	// Without it every grant has the check's severity.
	severity func(snapshot.Grant) check.Severity
	// weigh, when set, takes severity's place for abilities whose worth depends on the rest of
	// the snapshot (a token for a ServiceAccount is worth what that account may do): it judges
	// a grant of holder, with every subject's grants at hand.
	weigh func(x *grantIndex, holder rbacv1.Subject, g snapshot.Grant) verdict
	// consequence says what the holder can do, for the message.
	consequence string
}

// oneRequest is the ways of an ability that a single rule gives.
func oneRequest(allows func(snapshot.Grant) bool) []way {
	return []way{{{allows: allows}}}
}

// holders lists, in the order subjects first appear, those that hold the ability through
// bindings other than the API server's defaults.
func (a ability) holders(s *snapshot.Snapshot) []holding {
	x := indexGrants(s)
	var out []holding
	for _, sg := range x.subjects {
		if h, ok := a.judge(x, sg.subject, sg.reported); ok {
			out = append(out, h)
		}
	}
	return out
}

// judge tells whether grants of a subject (in snapshot order) give the ability. A way is
// as severe as its weakest part, each part as its most severe grant; the subject holds the
// ability at the severity of its most severe complete way, and the grants of every complete
// way are its evidence.
func (a ability) judge(x *grantIndex, subject rbacv1.Subject, grants []snapshot.Grant) (holding, bool) {
	h := holding{subject: subject}
	for _, w := range a.ways {
		var held []heldGrant
		weakest := check.Severity("")
		for _, p := range w {
			strongest := check.Severity("")
			for _, g := range grants {
				if !p.allows(g) {
					continue
				}
				v := a.verdictOf(x, subject, g)
				if v.severity == "" {
					continue
				}
				held = append(held, heldGrant{Grant: g, part: p.what, notes: v.notes, objects: v.objects})
				if strongest == "" || v.severity.Rank() < strongest.Rank() {
					strongest = v.severity
				}
			}
			if strongest == "" {
				held = nil
				break
			}
			if weakest == "" || strongest.Rank() > weakest.Rank() {
				weakest = strongest
			}
		}
		if len(held) == 0 {
			continue
		}
		h.grants = append(h.grants, held...)
		if h.severity == "" || weakest.Rank() < h.severity.Rank() {
			h.severity = weakest
		}
	}
	return h, len(h.grants) > 0
}

func (a ability) verdictOf(x *grantIndex, holder rbacv1.Subject, g snapshot.Grant) verdict {
	switch {
	case a.weigh != nil:
		return a.weigh(x, holder, g)
	case a.severity != nil:
		return verdict{severity: a.severity(g)}
	}
	return verdict{severity: a.meta.Severity}
}

func (a ability) Meta() check.Meta { return a.meta }

func (a ability) Run(s *snapshot.Snapshot) []check.Finding {
	var findings []check.Finding
	for _, h := range a.holders(s) {
		objects := []snapshot.Ref{SubjectRef(h.subject)}
		add := func(refs ...snapshot.Ref) {
			for _, ref := range refs {
				if !slices.Contains(objects, ref) {
					objects = append(objects, ref)
				}
			}
		}
		var evidence []string
		grants := make([]snapshot.Grant, len(h.grants))
		for i, g := range h.grants {
			grants[i] = g.Grant
			add(g.Binding, g.Role)
			add(g.objects...)
			line := DescribeGrant(g.Grant)
			if g.part != "" {
				line = g.part + ": " + line
			}
			evidence = append(evidence, line)
			evidence = append(evidence, g.notes...)
		}
		message := fmt.Sprintf("%s %s.", SubjectString(h.subject), a.consequence)
		if namespaces := grantNamespaces(grants); namespaces != "" {
			message = fmt.Sprintf("%s %s, in namespace %s.", SubjectString(h.subject), a.consequence, namespaces)
		}
		f := check.New(a.meta, message, objects...)
		f.Severity = h.severity
		f.Scope = check.ScopeCluster
		f.Evidence = check.LimitEvidence(evidence)
		f.Fix = revokeHints(grants)
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

// revokeHints are the commands that open each binding behind the grants, once each.
func revokeHints(grants []snapshot.Grant) []string {
	var bindings []snapshot.Ref
	for _, g := range grants {
		if !slices.Contains(bindings, g.Binding) {
			bindings = append(bindings, g.Binding)
		}
	}
	return check.FixEach(len(bindings), "bindings", func(i int) string {
		return editBinding(bindings[i]) + "   # remove the subject, or bind a narrower role"
	})
}

// editBinding is the command that opens a RoleBinding or ClusterRoleBinding in the editor.
func editBinding(b snapshot.Ref) string {
	if b.Namespace != "" {
		return fmt.Sprintf("kubectl edit rolebinding -n %s %s", check.Quote(b.Namespace), check.Quote(b.Name))
	}
	return "kubectl edit clusterrolebinding " + check.Quote(b.Name)
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
