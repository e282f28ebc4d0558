package collect

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// CheckNeeds is what one selected check reads: the kinds it cannot do without, and those it
// reads when they are there.
type CheckNeeds struct {
	ID       string
	Requires []snapshot.Kind
	Optional []snapshot.Kind
}

// maxReviewsInFlight bounds the SelfSubjectAccessReviews sent at once.
const maxReviewsInFlight = 8

// ExplainPermissions answers --explain-permissions: the requests Collect would make to read
// kinds in namespace ("" is the whole cluster), whether this identity may make each, and which
// of checks a refusal leaves not evaluated or degraded. directPrometheus is --prometheus-url.
// It reads no object but whether the add-on namespaces exist: it only creates review objects,
// which the API server does not store.
func ExplainPermissions(ctx context.Context, client kubernetes.Interface, kinds []snapshot.Kind, namespace string,
	directPrometheus bool, checks []CheckNeeds) (*report.PermissionReport, error) {
	planned := accessesFor(kinds, namespace, directPrometheus, absentNamespaces(ctx, client))
	decisions := make([]accessDecision, len(planned))
	errs := make([]error, len(planned))
	slots := make(chan struct{}, maxReviewsInFlight)
	var wg sync.WaitGroup
	for i := range planned {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			decisions[i], errs[i] = reviewAccess(ctx, client, planned[i].request)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			var urlErr *url.Error
			if errors.As(err, &urlErr) {
				err = urlErr.Err // the URL it repeats is the review's, not the request asked about
			}
			return nil, fmt.Errorf("asking the API server whether this identity may %s %s: %v", planned[i].request.Verb,
				planned[i].request.ResourceName(), err)
		}
	}
	pr := newPermissionReport(planned, decisions, checks)
	pr.Identity = whoAmI(ctx, client)
	return pr, nil
}

// absentNamespaces are the cluster add-on namespaces beyond the first (openshift-dns) that the
// API server says do not exist: the one read --explain-permissions makes, as the collector makes
// it, since whether their ConfigMaps are needed turns on it.
func absentNamespaces(ctx context.Context, client kubernetes.Interface) map[string]bool {
	absent := map[string]bool{}
	for _, where := range snapshot.ClusterDNSNamespaces()[1:] {
		if _, err := client.CoreV1().Namespaces().Get(ctx, where, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			absent[where] = true
		}
	}
	return absent
}

// accessDecision is the API server's answer for one request.
type accessDecision struct {
	allowed bool
	reason  string
}

func reviewAccess(ctx context.Context, client kubernetes.Interface, r snapshot.Request) (accessDecision, error) {
	var spec authorizationv1.SelfSubjectAccessReviewSpec
	if r.Path != "" {
		spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: r.Path, Verb: r.Verb}
	} else {
		spec.ResourceAttributes = &authorizationv1.ResourceAttributes{Namespace: r.Namespace, Verb: r.Verb, Group: r.APIGroup,
			Resource: r.Resource, Subresource: r.Subresource, Name: r.Name}
	}
	answer, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx,
		&authorizationv1.SelfSubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return accessDecision{}, err
	}
	var reasons []string
	for _, why := range []string{answer.Status.Reason, answer.Status.EvaluationError} {
		if why != "" {
			reasons = append(reasons, why)
		}
	}
	return accessDecision{allowed: answer.Status.Allowed, reason: strings.Join(reasons, "; ")}, nil
}

// whoAmI asks the API server who is asking; nil when it does not say (before Kubernetes 1.28,
// or where a policy refuses it), which only leaves the identity line out.
func whoAmI(ctx context.Context, client kubernetes.Interface) *report.PermissionIdentity {
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || review.Status.UserInfo.Username == "" {
		return nil
	}
	return &report.PermissionIdentity{Username: review.Status.UserInfo.Username, Groups: slices.Clone(review.Status.UserInfo.Groups)}
}

// newPermissionReport joins the planned requests with the answers: which checks each serves,
// whether any needs it, and which checks the refusals leave not evaluated.
func newPermissionReport(planned []plannedAccess, decisions []accessDecision, counted []CheckNeeds) *report.PermissionReport {
	pr := &report.PermissionReport{APIVersion: report.APIVersion, Kind: report.KindPermissionReport, Accesses: []report.PermissionAccess{}, NotEvaluated: []string{},
		Degraded: []string{}}
	unreadable := unreadableKinds(planned, decisions)
	for i, a := range planned {
		access := report.PermissionAccess{Verb: a.request.Verb, Group: a.request.APIGroup, Resource: a.request.Resource,
			Subresource: a.request.Subresource, Namespace: a.request.Namespace, Name: a.request.Name, NonResourceURL: a.request.Path,
			Allowed: decisions[i].allowed, Reason: decisions[i].reason, Kinds: []snapshot.Kind{}, Checks: []string{}, Optional: true,
			Note: strings.Join(a.notes, "; "), Namespaced: a.namespaced}
		for _, n := range a.needs {
			if !slices.Contains(access.Kinds, n.kind) {
				access.Kinds = append(access.Kinds, n.kind)
			}
			for _, m := range counted {
				required := slices.Contains(m.Requires, n.kind)
				if !required && !slices.Contains(m.Optional, n.kind) {
					continue
				}
				if !slices.Contains(access.Checks, m.ID) {
					access.Checks = append(access.Checks, m.ID)
				}
				if required && !n.optional && n.source == "" {
					access.Optional = false
				}
			}
		}
		slices.Sort(access.Kinds)
		slices.Sort(access.Checks)
		pr.Accesses = append(pr.Accesses, access)
	}
	isUnreadable := func(k snapshot.Kind) bool { return unreadable[k] }
	for _, m := range counted {
		switch {
		case slices.ContainsFunc(m.Requires, isUnreadable):
			pr.NotEvaluated = append(pr.NotEvaluated, m.ID)
		case slices.ContainsFunc(m.Optional, isUnreadable):
			pr.Degraded = append(pr.Degraded, m.ID)
		}
	}
	slices.Sort(pr.NotEvaluated)
	slices.Sort(pr.Degraded)
	return pr
}

// unreadableKinds are the kinds the refusals would leave unread: a kind is, when a request it
// cannot do without is refused, or when every one of its alternative sources has a refusal.
func unreadableKinds(planned []plannedAccess, decisions []accessDecision) map[snapshot.Kind]bool {
	unreadable := map[snapshot.Kind]bool{}
	sourceRefused := map[snapshot.Kind]map[string]bool{}
	for i, a := range planned {
		for _, n := range a.needs {
			switch {
			case n.source != "":
				if sourceRefused[n.kind] == nil {
					sourceRefused[n.kind] = map[string]bool{}
				}
				sourceRefused[n.kind][n.source] = sourceRefused[n.kind][n.source] || !decisions[i].allowed
			case !n.optional && !decisions[i].allowed:
				unreadable[n.kind] = true
			}
		}
	}
	for kind, sources := range sourceRefused {
		allRefused := true
		for _, refused := range sources {
			allRefused = allRefused && refused
		}
		if allRefused {
			unreadable[kind] = true
		}
	}
	return unreadable
}
