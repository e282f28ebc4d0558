package admission

import (
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

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
			"deployment-unavailable", "statefulset-unavailable", "daemonset-unavailable"},
	}
}

func (c BackendUnavailable) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, h := range hooks(s) {
		if !h.fail || h.service == nil {
			continue
		}
		b := ServiceBackend(s, h.service.Namespace, h.service.Name, h.servicePort())
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

// Backend is what stands behind a Service the API server calls (a webhook's, an aggregated
// API's): whether it can answer, why not, and the pods and workloads it selects.
type Backend struct {
	Namespace, Name string
	// Service is nil when it does not exist.
	Service *corev1.Service
	// Down is true when the Service cannot answer: missing, without the port, without a
	// ready endpoint. An ExternalName Service is never judged down.
	Down bool
	// Evidence says why it is down (first line), then what stands behind it.
	Evidence []string
	// Since is when it went down, as far as the cluster records it; zero when unknown.
	Since     time.Time
	Pods      []*corev1.Pod
	Workloads []snapshot.Ref
}

// ServiceBackend judges the Service namespace/name as the API server would call it on port.
func ServiceBackend(s *snapshot.Snapshot, namespace, name string, port int32) Backend {
	b := lookUpBackend(s, namespace, name)
	b.judge(s, port)
	return b
}

// lookUpBackend finds the Service and what it selects, without judging it.
func lookUpBackend(s *snapshot.Snapshot, namespace, name string) Backend {
	b := Backend{Namespace: namespace, Name: name}
	for i := range s.Services {
		if svc := &s.Services[i]; svc.Namespace == namespace && svc.Name == name {
			b.Service = svc
		}
	}
	b.findPods(s)
	return b
}

// findPods finds the live pods the Service selects and the workloads that own them; for
// manifests, which hold no pods, the workloads whose pod template the Service selects.
func (b *Backend) findPods(s *snapshot.Snapshot) {
	if b.Service == nil || len(b.Service.Spec.Selector) == 0 {
		return
	}
	selector := labels.SelectorFromSet(b.Service.Spec.Selector)
	owners := map[snapshot.Ref]bool{}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if pod.Namespace == b.Namespace && snapshot.IsLive(pod) && selector.Matches(labels.Set(pod.Labels)) {
			b.Pods = append(b.Pods, pod)
			owners[s.TopOwner(pod)] = true
		}
	}
	for _, w := range s.Workloads() {
		if w.Ref.Namespace == b.Namespace && (owners[w.Ref] || selector.Matches(labels.Set(w.Labels))) {
			b.Workloads = append(b.Workloads, w.Ref)
		}
	}
}

func (b *Backend) judge(s *snapshot.Snapshot, port int32) {
	svc := fmt.Sprintf("Service %s/%s", b.Namespace, b.Name)
	if b.Service == nil {
		b.Down, b.Evidence = true, []string{svc + " does not exist"}
		return
	}
	if b.Service.Spec.Type == corev1.ServiceTypeExternalName {
		// The API server calls the external name; nothing in the cluster tells whether it answers.
		return
	}
	ports := make([]string, 0, len(b.Service.Spec.Ports))
	portName, hasPort := "", false
	for _, p := range b.Service.Spec.Ports {
		ports = append(ports, fmt.Sprint(p.Port))
		if p.Port == port {
			portName, hasPort = p.Name, true
		}
	}
	if !hasPort {
		b.Down, b.Evidence = true, []string{fmt.Sprintf("%s has no port %d (it serves %s)", svc, port, strings.Join(ports, ", "))}
		return
	}
	ready, notReady, sliceCount := endpointsOf(s, b.Service, portName)
	if ready > 0 {
		return
	}
	b.Down = true
	reason := svc + " has no EndpointSlices"
	switch {
	case notReady > 0:
		reason = fmt.Sprintf("%s has no ready endpoints (%s not ready)", svc, check.Plural(notReady, "endpoint", "endpoints"))
	case sliceCount > 0:
		reason = fmt.Sprintf("%s has no endpoints (%s, empty)", svc, check.Plural(sliceCount, "EndpointSlice", "EndpointSlices"))
	}
	b.Evidence = []string{reason}
	if len(b.Service.Spec.Selector) == 0 {
		b.Evidence = append(b.Evidence, svc+" has no selector: its endpoints are managed by hand or by an operator")
		return
	}
	if len(b.Pods) == 0 {
		b.Evidence = append(b.Evidence, fmt.Sprintf("no running pod in %s matches the Service's selector %s", b.Namespace, b.selector()))
	}
	for _, pod := range b.Pods {
		b.Evidence = append(b.Evidence, podState(pod))
		if t := snapshot.NotReadySince(pod); !t.IsZero() && (b.Since.IsZero() || t.Before(b.Since)) {
			b.Since = t
		}
	}
	for _, w := range b.Workloads {
		line, t := workloadState(s, w)
		b.Evidence = append(b.Evidence, line)
		if !t.IsZero() && (b.Since.IsZero() || t.Before(b.Since)) {
			b.Since = t
		}
	}
}

func (b *Backend) selector() string {
	return metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: b.Service.Spec.Selector})
}

// Fix is how to look at and bring back what stands behind the Service.
func (b *Backend) Fix() []string {
	var fix []string
	switch {
	case b.Service == nil:
		fix = append(fix, check.Comment(fmt.Sprintf("Service %s/%s is missing: reinstall or repair what deploys it (its chart or operator)", b.Namespace, b.Name)))
	case len(b.Workloads) == 0:
		fix = append(fix, fmt.Sprintf("kubectl -n %s get endpointslices,pods -l %s", check.Quote(b.Namespace), check.Quote(b.selector())))
	}
	for _, w := range b.Workloads {
		fix = append(fix, "kubectl describe "+check.InNamespace(w))
		if w.Kind == "Deployment" || w.Kind == "StatefulSet" {
			fix = append(fix, fmt.Sprintf("kubectl scale %s --replicas=1  # if it was scaled to zero", check.InNamespace(w)))
		}
	}
	return fix
}

// endpointsOf counts the ready and not-ready endpoints of the Service's EndpointSlices that
// serve portName, as the API server's service resolver would pick them.
func endpointsOf(s *snapshot.Snapshot, svc *corev1.Service, portName string) (ready, notReady, count int) {
	for i := range s.EndpointSlices {
		slice := &s.EndpointSlices[i]
		if slice.Namespace != svc.Namespace || slice.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		count++
		if len(slice.Ports) > 0 && !slices.ContainsFunc(slice.Ports, func(p discoveryv1.EndpointPort) bool {
			return p.Name != nil && *p.Name == portName
		}) {
			continue
		}
		for _, e := range slice.Endpoints {
			// A nil ready condition means ready (discovery.k8s.io/v1).
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				ready++
			} else {
				notReady++
			}
		}
	}
	return ready, notReady, count
}

func podState(pod *corev1.Pod) string {
	var states []string
	for _, cs := range snapshot.ContainerStatuses(pod) {
		switch {
		case cs.State.Waiting != nil:
			states = append(states, fmt.Sprintf("%s waiting (%s)", cs.Name, cs.State.Waiting.Reason))
		case cs.State.Terminated != nil:
			states = append(states, fmt.Sprintf("%s terminated (%s)", cs.Name, cs.State.Terminated.Reason))
		case !cs.Ready:
			states = append(states, cs.Name+" not ready")
		}
	}
	state := string(pod.Status.Phase)
	if len(states) > 0 {
		state += ", " + strings.Join(states, ", ")
	}
	return fmt.Sprintf("backend pod %s/%s: %s", pod.Namespace, pod.Name, state)
}

// workloadState describes a backend controller's replicas, and when it became unavailable.
func workloadState(s *snapshot.Snapshot, ref snapshot.Ref) (string, time.Time) {
	switch ref.Kind {
	case "Deployment":
		for i := range s.Deployments {
			d := &s.Deployments[i]
			if d.Namespace != ref.Namespace || d.Name != ref.Name {
				continue
			}
			var since time.Time
			for _, cond := range d.Status.Conditions {
				if cond.Type == appsv1.DeploymentAvailable && cond.Status != corev1.ConditionTrue {
					since = cond.LastTransitionTime.Time
				}
			}
			return fmt.Sprintf("backend %s: %d of %d replicas available", ref.Describe(), d.Status.AvailableReplicas, replicas(d.Spec.Replicas)), since
		}
	case "StatefulSet":
		for i := range s.StatefulSets {
			st := &s.StatefulSets[i]
			if st.Namespace == ref.Namespace && st.Name == ref.Name {
				return fmt.Sprintf("backend %s: %d of %d replicas ready", ref.Describe(), st.Status.ReadyReplicas, replicas(st.Spec.Replicas)), time.Time{}
			}
		}
	case "DaemonSet":
		for i := range s.DaemonSets {
			ds := &s.DaemonSets[i]
			if ds.Namespace == ref.Namespace && ds.Name == ref.Name {
				return fmt.Sprintf("backend %s: %d of %d pods available", ref.Describe(), ds.Status.NumberAvailable, ds.Status.DesiredNumberScheduled), time.Time{}
			}
		}
	}
	return "backend " + ref.Describe(), time.Time{}
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
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
	slices.SortStableFunc(matched, func(a, b corev1.Event) int { return lastSeen(b).Compare(lastSeen(a)) })
	for i, e := range matched {
		o := e.InvolvedObject
		if i < 3 {
			line := fmt.Sprintf("event %s on %s %s/%s", e.Reason, strings.ToLower(o.Kind), o.Namespace, o.Name)
			if e.Count > 1 {
				line += fmt.Sprintf(" (x%d)", e.Count)
			}
			if t := lastSeen(e); !t.IsZero() {
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

func lastSeen(e corev1.Event) time.Time {
	t := e.FirstTimestamp.Time
	for _, u := range []time.Time{e.LastTimestamp.Time, e.EventTime.Time} {
		if u.After(t) {
			t = u
		}
	}
	return t
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
	case "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob":
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
func backendFix(h hook, b Backend) []string {
	patch := fmt.Sprintf(`[{"op":"replace","path":"/webhooks/%d/failurePolicy","value":"Ignore"}]`, h.index)
	fix := []string{
		fmt.Sprintf("kubectl patch %s --type=json -p %s  # lets writes through unchecked until the backend answers; set Fail again after",
			check.Target(h.config), check.Quote(patch)),
	}
	fix = append(fix, b.Fix()...)
	return append(fix, check.Comment(fmt.Sprintf("last resort, once the above failed: kubectl delete %s "+
		"(removes every webhook in it, and its policy stops being enforced; its operator may recreate it)", h.config.KubectlTarget())))
}
