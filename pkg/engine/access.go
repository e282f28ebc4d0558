package engine

import (
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// SubjectAccess answers rbac-audit --subject from a snapshot's RBAC objects: every grant that
// reaches identity, directly or through its groups.
func SubjectAccess(s *snapshot.Snapshot, subject report.Subject, identity snapshot.Identity, now time.Time) *report.SubjectAccess {
	access := &report.SubjectAccess{APIVersion: report.APIVersion, Kind: report.KindSubjectAccess, Metadata: accessMetadata(s, now),
		Subject: subject, User: identity.User, Groups: identity.Groups, Grants: []report.AccessGrant{}}
	for _, g := range s.Grants() {
		if identity.Holds(g.Subject) {
			access.Grants = append(access.Grants, accessGrant(g))
		}
	}
	return access
}

// WhoCan answers rbac-audit --who-can: every subject a grant allows the request, once per
// subject and binding.
func WhoCan(s *snapshot.Snapshot, request snapshot.Request, now time.Time) *report.WhoCan {
	answer := &report.WhoCan{APIVersion: report.APIVersion, Kind: report.KindWhoCan, Metadata: accessMetadata(s, now),
		Request: report.AccessRequest{Verb: request.Verb, APIGroup: request.APIGroup, Resource: request.Resource,
			Subresource: request.Subresource, Namespace: request.Namespace, Path: request.Path},
		Grants: []report.AccessGrant{}}
	seen := map[string]bool{}
	for _, g := range s.Grants() {
		// One row per subject and binding: further rules of the same binding say nothing new.
		key := g.Subject.Kind + "/" + g.Subject.Namespace + "/" + g.Subject.Name + "|" + g.Binding.String()
		if !seen[key] && g.Applies(request) && snapshot.RuleAllows(*g.Rule, request) {
			seen[key] = true
			answer.Grants = append(answer.Grants, accessGrant(g))
		}
	}
	return answer
}

func accessMetadata(s *snapshot.Snapshot, now time.Time) report.Metadata {
	return report.Metadata{Source: string(s.Source), Context: s.Context, Server: s.Server, Namespace: s.Namespace,
		GeneratedAt: now.UTC().Truncate(time.Second)}
}

func accessGrant(g snapshot.Grant) report.AccessGrant {
	return report.AccessGrant{
		Subject: report.Subject{Kind: g.Subject.Kind, Name: g.Subject.Name, Namespace: g.Subject.Namespace},
		Binding: g.Binding, Role: g.Role, Namespace: g.Namespace, Rule: *g.Rule, Default: g.Default,
	}
}
