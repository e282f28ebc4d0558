package admission

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// BackendUnavailable finds fail-closed webhooks whose Service cannot answer.
type BackendUnavailable struct{}

func (BackendUnavailable) Meta() check.Meta {
	return check.Meta{
		ID:       "webhook-backend-unavailable",
		Title:    "Admission webhooks that fail closed have no backend to answer",
		Category: check.CategoryAdmission,
		Severity: check.Critical,
		Requires: webhookKinds(snapshot.KindServices, snapshot.KindEndpointSlices),
		Optional: append(snapshot.WorkloadKinds(), snapshot.KindNamespaces, snapshot.KindEvents),
		LiveOnly: true,
		// The backends live in any namespace.
		WholeCluster: true,
		Description: "For each webhook with failurePolicy Fail (the v1 default) that calls a Service, looks for the " +
			"Service, its EndpointSlices' ready endpoints, and the pods and workload behind them. Names the requests " +
			"and namespaces the webhook intercepts (its rules, its namespaceSelector against the namespaces' labels) " +
			"and quotes the newest Warning events saying `failed calling webhook` about it. Critical when it " +
			"intercepts pod creation (or every resource) in every namespace or in kube-system. Webhooks called by " +
			"URL are not judged: their backend is outside what the cluster shows.",
		Why: "The API server refuses every request a fail-closed webhook intercepts while the webhook cannot " +
			"answer: ReplicaSets cannot create pods, Deployments cannot roll out, and, when the webhook intercepts " +
			"its own pods or kube-system's, the cluster cannot heal itself.",
		Remediation: "Bring the backend back (scale it up, fix its pods, recreate its Service). To let writes " +
			"through meanwhile, set the webhook's failurePolicy to Ignore, and set it back once the backend answers.",
		References: []string{"https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#failure-policy"},
		Absorbs: []string{"webhook-matches-own-backend", "webhook-fail-closed-unscoped",
			"deployment-unavailable", "statefulset-unavailable", "daemonset-unavailable", "job-cannot-create-pods"},
	}
}

func (c BackendUnavailable) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, h := range hooks(s) {
		if !h.fail || h.service == nil {
			continue
		}
		b := check.ServiceBackend(s, h.service.Namespace, h.service.Name, h.servicePort())
		if !b.Down {
			continue
		}
		evidence := b.Evidence
		severity, blocks := blastRadius(s, h)
		f := check.New(meta, fmt.Sprintf("%s fails closed and its backend cannot answer: %s; the API server refuses %s %s",
			h.describe(), evidence[0], h.ruleText(), blocks),
			h.config)
		f.Severity = severity
		f.Incident = true
		f.Scope = check.ScopeCluster
		f.Evidence = evidence[1:]
		f.Evidence = append(f.Evidence, fmt.Sprintf("failurePolicy Fail, namespaceSelector %s, objectSelector %s, timeout %ds",
			selectorText(h.namespaceSelector), selectorText(h.objectSelector), h.timeout))
		quoted, blocked, firstFailure := failedCalls(s, h)
		f.Evidence = append(f.Evidence, quoted...)
		f.Objects = appendNewRefs(f.Objects, b.Workloads...)
		f.Objects = appendNewRefs(f.Objects, blocked...)
		if earliest := check.Earliest(b.Since, firstFailure); earliest != nil {
			f.Since = earliest
		}
		f.Evidence = check.LimitEvidence(f.Evidence)
		f.Fix = backendFix(h, b)
		findings = append(findings, f)
	}
	return findings
}

// blastRadius is the finding's severity by what the webhook blocks, and the text naming it.
func blastRadius(s *snapshot.Snapshot, h hook) (check.Severity, string) {
	scope := namespaceScope(s, h)
	if !everywhere(h.objectSelector) {
		scope += " for objects matching " + selectorText(h.objectSelector)
	}
	pods := h.matchesRequest(podCreate)
	systemToo := selects(h.namespaceSelector, namespaceLabels(s, "kube-system")) && !narrows(h.objectSelector)
	switch {
	case pods && systemToo:
		return check.Critical, scope
	case pods || everywhere(h.namespaceSelector):
		return check.High, scope
	}
	return check.Medium, scope
}

// failedCalls quotes the newest Warning events that say the API server failed calling this
// webhook, and names the controllers whose writes it refused (the owner of a ReplicaSet that
// could not create pods, for one).
func failedCalls(s *snapshot.Snapshot, h hook) (quoted []string, blocked []snapshot.Ref, first time.Time) {
	needle := fmt.Sprintf("failed calling webhook %q", h.name)
	var matched []corev1.Event
	for _, e := range s.Events {
		if e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, needle) {
			matched = append(matched, e)
		}
	}
	slices.SortStableFunc(matched, func(a, b corev1.Event) int { return snapshot.LastSeen(&b).Compare(snapshot.LastSeen(&a)) })
	for i, e := range matched {
		o := e.InvolvedObject
		if i < 3 {
			line := fmt.Sprintf("event %s on %s %s/%s", e.Reason, strings.ToLower(o.Kind), o.Namespace, o.Name)
			if n := snapshot.EventCount(&e); n > 1 {
				line += fmt.Sprintf(" (x%d)", n)
			}
			if t := snapshot.LastSeen(&e); !t.IsZero() {
				line += ", last " + check.Ago(t, s.CollectedAt)
			}
			quoted = append(quoted, line+": "+e.Message)
		}
		if t := e.FirstTimestamp.Time; !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
		if ref, ok := controllerOf(s, o); ok {
			blocked = appendNewRefs(blocked, ref)
		}
	}
	if len(matched) > 3 {
		quoted = append(quoted, fmt.Sprintf("... and %d more such events", len(matched)-3))
	}
	return quoted, blocked, first
}

// controllerOf names the workload a person manages for an event's object: a ReplicaSet's
// Deployment, or the controller itself.
func controllerOf(s *snapshot.Snapshot, o corev1.ObjectReference) (snapshot.Ref, bool) {
	switch o.Kind {
	case "ReplicaSet":
		for i := range s.ReplicaSets {
			rs := &s.ReplicaSets[i]
			if rs.Namespace == o.Namespace && rs.Name == o.Name {
				if owner := metav1.GetControllerOf(rs); owner != nil && owner.Kind == "Deployment" {
					return snapshot.RefTo(snapshot.KindDeployments, o.Namespace, owner.Name), true
				}
				return snapshot.RefTo(snapshot.KindReplicaSets, o.Namespace, o.Name), true
			}
		}
	case "Job":
		// A CronJob's Job is the CronJob's, as job-cannot-create-pods names it.
		for i := range s.Jobs {
			job := &s.Jobs[i]
			if job.Namespace == o.Namespace && job.Name == o.Name {
				if owner := metav1.GetControllerOf(job); owner != nil && owner.Kind == "CronJob" {
					return snapshot.RefTo(snapshot.KindCronJobs, o.Namespace, owner.Name), true
				}
			}
		}
		return snapshot.RefTo(snapshot.KindJobs, o.Namespace, o.Name), true
	case "Deployment", "StatefulSet", "DaemonSet", "CronJob":
		if kind, ok := snapshot.KindOf(o.Kind); ok {
			return snapshot.RefTo(kind, o.Namespace, o.Name), true
		}
	}
	return snapshot.Ref{}, false
}

func appendNewRefs(list []snapshot.Ref, refs ...snapshot.Ref) []snapshot.Ref {
	for _, r := range refs {
		if !slices.Contains(list, r) {
			list = append(list, r)
		}
	}
	return list
}

// backendFix is what on-call does: let writes through, bring the backend back, and, as a last
// resort only, remove the webhook.
func backendFix(h hook, b check.Backend) []string {
	patch := fmt.Sprintf(`[{"op":"replace","path":"/webhooks/%d/failurePolicy","value":"Ignore"}]`, h.index)
	fix := []string{
		fmt.Sprintf("kubectl patch %s --type=json -p %s  # lets writes through unchecked until the backend answers; set Fail again after",
			check.Target(h.config), check.Quote(patch)),
	}
	fix = append(fix, b.Fix()...)
	return append(fix, check.Comment(fmt.Sprintf("last resort, once the above failed: kubectl delete %s "+
		"(removes every webhook in it, and its policy stops being enforced; its operator may recreate it)", h.config.KubectlTarget())))
}
