package report

import "github.com/alertmend/kubectl-alertmend/pkg/snapshot"

// KindPermissionReport is the kind of the --explain-permissions document, in the same versioned
// contract as Report: fields may be added, never renamed.
const KindPermissionReport = "PermissionReport"

// PermissionReport is what the collector would request and whether the identity may.
type PermissionReport struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Identity is who the API server says is asking; absent when it does not say
	// (SelfSubjectReview not served or not allowed).
	Identity *PermissionIdentity `json:"identity,omitempty"`
	Accesses []PermissionAccess  `json:"accesses"`
	// NotEvaluated are the checks the denied accesses would leave not evaluated.
	NotEvaluated []string `json:"notEvaluated"`
	// Degraded are the other checks that read something refused when it is there to read:
	// they lose detail, or, where what they find turns on it (dns-forward-loop-risk and the
	// kubelet's configuration), say not evaluated.
	Degraded []string `json:"degraded"`
}

// PermissionIdentity is the user and groups the authorizer sees.
type PermissionIdentity struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// PermissionAccess is one request the collector would make and the API server's answer.
type PermissionAccess struct {
	Verb        string `json:"verb"`
	Group       string `json:"group"`
	Resource    string `json:"resource"`
	Subresource string `json:"subresource"`
	// Namespace is where the request is made; empty for all namespaces and for cluster-scoped
	// resources.
	Namespace string `json:"namespace"`
	// Name is set when one object is asked for (a namespace by name).
	Name           string `json:"name,omitempty"`
	NonResourceURL string `json:"nonResourceURL"`
	Allowed        bool   `json:"allowed"`
	// Reason is the authorizer's reason, or its evaluation error.
	Reason string          `json:"reason"`
	Kinds  []snapshot.Kind `json:"kinds"`
	Checks []string        `json:"checks"`
	// Optional means no selected check goes blind without it: it sharpens a result, is one of
	// several sources, or is made only on some clusters (Note says which).
	Optional bool   `json:"optional"`
	Note     string `json:"note,omitempty"`

	// Namespaced tells, for people, all namespaces from cluster-scoped when Namespace is empty;
	// machines read the same from the resource.
	Namespaced bool `json:"-"`
}

// Request is the access as the RBAC authorizer sees it.
func (a PermissionAccess) Request() snapshot.Request {
	return snapshot.Request{Verb: a.Verb, APIGroup: a.Group, Resource: a.Resource, Subresource: a.Subresource,
		Namespace: a.Namespace, Name: a.Name, Path: a.NonResourceURL}
}
