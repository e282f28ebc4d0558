package report

import (
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The answers of `rbac-audit --subject` and `rbac-audit --who-can`, in the same versioned
// contract as Report: fields may be added, never renamed.
const (
	KindSubjectAccess = "SubjectAccess"
	KindWhoCan        = "WhoCan"
)

// Subject is a user, a group or a ServiceAccount, as RBAC bindings name them.
type Subject struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// AccessGrant is one rule reaching a subject: through which binding and role, and where.
type AccessGrant struct {
	// Subject is whom the binding names: the subject asked about, or a group it belongs to.
	Subject Subject      `json:"subject"`
	Binding snapshot.Ref `json:"binding"`
	Role    snapshot.Ref `json:"role"`
	// Namespace is where the grant applies; empty means cluster-wide.
	Namespace string            `json:"namespace,omitempty"`
	Rule      rbacv1.PolicyRule `json:"rule"`
	// Default marks the API server's own bootstrap bindings.
	Default bool `json:"default"`
}

// SubjectAccess is everything one subject may do.
type SubjectAccess struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Subject    Subject  `json:"subject"`
	// User and Groups are the identity the authorizer sees for the subject.
	User   string        `json:"user,omitempty"`
	Groups []string      `json:"groups"`
	Grants []AccessGrant `json:"grants"`
}

// AccessRequest is the question of --who-can.
type AccessRequest struct {
	Verb        string `json:"verb"`
	APIGroup    string `json:"apiGroup,omitempty"`
	Resource    string `json:"resource,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Path        string `json:"path,omitempty"`
}

// WhoCan lists every grant that allows a request, one per subject and binding.
type WhoCan struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Metadata   Metadata      `json:"metadata"`
	Request    AccessRequest `json:"request"`
	Grants     []AccessGrant `json:"grants"`
}
