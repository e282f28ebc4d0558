package admission

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// FailClosedUnscoped finds fail-closed webhooks that intercept kube-system's or their own
// namespace's recovery writes.
type FailClosedUnscoped struct{}

func (FailClosedUnscoped) Meta() check.Meta {
	return check.Meta{
		ID:       "webhook-fail-closed-unscoped",
		Title:    "Fail-closed webhooks intercept kube-system or their own namespace",
		Category: check.CategoryAdmission,
		Severity: check.High,
		Requires: webhookKinds(),
		Optional: []snapshot.Kind{snapshot.KindNamespaces},
		Description: "Flags webhooks with failurePolicy Fail (the v1 default) whose rules intercept the writes a " +
			"cluster heals itself with (pods, ReplicaSets, Deployments, leases, EndpointSlices) and whose " +
			"namespaceSelector, matched against the namespaces' labels, does not leave out kube-system and the " +
			"namespace of the webhook's own Service. An objectSelector that requires a label counts as leaving " +
			"system objects out.",
		Why: "When such a webhook's backend is down, nothing it intercepts can be written: kube-system's " +
			"controllers and DNS cannot restart, and the webhook's own pods cannot come back, so the outage holds itself up.",
		Remediation: "Add to the webhook's namespaceSelector a matchExpression on kubernetes.io/metadata.name NotIn " +
			"kube-system and the webhook's namespace (in the chart or operator that installs it, so it stays).",
		References: []string{"https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#avoiding-operating-on-the-kube-system-namespace"},
	}
}

func (c FailClosedUnscoped) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, h := range hooks(s) {
		if !h.fail || narrows(h.objectSelector) {
			continue
		}
		var intercepted []string
		for _, r := range recoveryRequests() {
			if h.matchesRequest(r) {
				intercepted = append(intercepted, r.String())
			}
		}
		if len(intercepted) == 0 {
			continue
		}
		exposed := []string{}
		for _, ns := range []string{"kube-system", h.backendNamespace()} {
			if ns != "" && !slices.Contains(exposed, ns) && selects(h.namespaceSelector, namespaceLabels(s, ns)) {
				exposed = append(exposed, ns)
			}
		}
		if len(exposed) == 0 {
			continue
		}
		f := check.New(meta, fmt.Sprintf("%s fails closed and intercepts %s in %s: if its backend goes down, "+
			"those writes are refused there too", h.describe(), strings.Join(intercepted, ", "), strings.Join(exposed, " and ")), h.config)
		f.Evidence = []string{fmt.Sprintf("namespaceSelector %s, objectSelector %s", selectorText(h.namespaceSelector), selectorText(h.objectSelector))}
		f.Fix = []string{excludeNamespacesFix(h, exposed)}
		findings = append(findings, f)
	}
	return findings
}

// excludeNamespacesFix adds a NotIn requirement on the namespaces' name label to the webhook's
// namespaceSelector, keeping whatever it already asks.
func excludeNamespacesFix(h hook, namespaces []string) string {
	requirement := metav1.LabelSelectorRequirement{Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpNotIn, Values: namespaces}
	path := fmt.Sprintf("/webhooks/%d/namespaceSelector", h.index)
	var value any = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{requirement}}
	switch {
	case len(h.namespaceSelector.MatchExpressions) > 0:
		path, value = path+"/matchExpressions/-", requirement
	case len(h.namespaceSelector.MatchLabels) > 0:
		path, value = path+"/matchExpressions", []metav1.LabelSelectorRequirement{requirement}
	}
	patch, _ := json.Marshal([]map[string]any{{"op": "add", "path": path, "value": value}})
	return fmt.Sprintf("kubectl patch %s --type=json -p %s  # also in the chart or operator that installs it, or it comes back",
		check.Target(h.config), check.Quote(string(patch)))
}

// MatchesOwnBackend finds fail-closed webhooks that intercept the creation of their own pods.
type MatchesOwnBackend struct{}

func (MatchesOwnBackend) Meta() check.Meta {
	return check.Meta{
		ID:       "webhook-matches-own-backend",
		Title:    "Fail-closed webhooks intercept the creation of their own pods",
		Category: check.CategoryAdmission,
		Severity: check.High,
		Requires: webhookKinds(snapshot.KindServices),
		Optional: append(snapshot.WorkloadKinds(), snapshot.KindNamespaces),
		// The backends live in any namespace.
		WholeCluster: true,
		Description: "For each webhook with failurePolicy Fail that calls a Service, finds the pods (or, in manifests, " +
			"the pod templates) the Service selects and asks whether the webhook's rules intercept pod creation and " +
			"its namespaceSelector and objectSelector match those pods.",
		Why: "Once all its pods are gone (a node drain, an eviction, a crash), the ReplicaSet cannot create new ones: " +
			"the API server asks the webhook, which has no pod to answer, and refuses. The webhook stays down until " +
			"someone removes it or makes it fail open by hand.",
		Remediation: "Leave the webhook's namespace out of its namespaceSelector (kubernetes.io/metadata.name NotIn), or " +
			"label its pods and leave them out with the objectSelector.",
		References: []string{"https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#avoiding-deadlocks-in-self-hosted-webhooks"},
		Absorbs:    []string{"webhook-fail-closed-unscoped"},
	}
}

func (c MatchesOwnBackend) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, h := range hooks(s) {
		if !h.fail || h.service == nil || !h.matchesRequest(podCreate) ||
			!selects(h.namespaceSelector, namespaceLabels(s, h.service.Namespace)) {
			continue
		}
		var own []snapshot.Ref
		var shown []string
		for _, w := range backendTemplates(s, h.service.Namespace, h.service.Name) {
			if selects(h.objectSelector, labels.Set(w.Labels)) {
				own = append(own, w.Ref)
				shown = append(shown, w.Ref.Describe())
			}
		}
		if len(own) == 0 {
			continue
		}
		f := check.New(meta, fmt.Sprintf("%s fails closed and intercepts the creation of its own backend's pods (%s): "+
			"once they are gone, none can be created to bring it back", h.describe(), strings.Join(shown, ", ")),
			append([]snapshot.Ref{h.config}, own...)...)
		f.Evidence = []string{fmt.Sprintf("Service %s/%s; namespaceSelector %s, objectSelector %s", h.service.Namespace, h.service.Name,
			selectorText(h.namespaceSelector), selectorText(h.objectSelector))}
		f.Fix = []string{excludeNamespacesFix(h, []string{h.service.Namespace})}
		findings = append(findings, f)
	}
	return findings
}

// requestTimeout is how long the API server gives a create, update, patch or delete, webhooks
// included: requestTimeoutUpperBound in k8s.io/apiserver/pkg/endpoints/handlers/rest.go, applied
// by create.go, update.go, patch.go and delete.go there.
const requestTimeout = 34

// TimeoutBudget finds requests whose webhooks may together take longer than the API server
// waits for the request.
type TimeoutBudget struct{}

func (TimeoutBudget) Meta() check.Meta {
	return check.Meta{
		ID:       "webhook-timeout-budget",
		Title:    "Webhooks that can intercept one request may outlast its deadline",
		Category: check.CategoryAdmission,
		Severity: check.Medium,
		Requires: webhookKinds(),
		Description: fmt.Sprintf("For each operation and resource some webhook names, adds up the timeoutSeconds (default %d) of "+
			"the mutating webhooks that intercept it, which the API server calls one after another, and the longest "+
			"of the validating ones, which it calls together, and compares the sum with the %ds the API server "+
			"gives a write. Selectors are not compared: the webhooks are assumed to be able to meet on one object.",
			defaultTimeoutSeconds, requestTimeout),
		Why: "When slow webhooks use up the request's deadline, the write fails with a timeout even if every webhook " +
			"fails open, and the later webhooks are never asked.",
		Remediation: "Lower the webhooks' timeoutSeconds (most answer in well under a second; a few seconds is plenty), " +
			"or narrow their rules so fewer of them meet on one request.",
		References: []string{"https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#timeouts"},
	}
}

func (c TimeoutBudget) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	all := hooks(s)
	type budget struct {
		total    int32
		requests []string
		hooks    []hook
	}
	var order []string
	budgets := map[string]*budget{}
	for _, r := range namedRequests(all) {
		var total, longestValidating int32
		var matched []hook
		for _, h := range all {
			if !h.matchesRequest(r) {
				continue
			}
			matched = append(matched, h)
			if h.mutating {
				total += h.timeout
			} else {
				longestValidating = max(longestValidating, h.timeout)
			}
		}
		total += longestValidating
		if total <= requestTimeout {
			continue
		}
		// Requests met by the same webhooks are one finding.
		var key strings.Builder
		for _, h := range matched {
			fmt.Fprintf(&key, "%s#%d;", h.config, h.index)
		}
		b, ok := budgets[key.String()]
		if !ok {
			b = &budget{total: total, hooks: matched}
			budgets[key.String()] = b
			order = append(order, key.String())
		}
		b.requests = append(b.requests, r.String())
	}
	var findings []check.Finding
	for _, key := range order {
		b := budgets[key]
		var objects []snapshot.Ref
		var evidence []string
		for _, h := range b.hooks {
			objects = appendNewRefs(objects, h.config)
			kind := "validating, called alongside the others"
			if h.mutating {
				kind = "mutating, called in turn"
				if h.reinvoked {
					kind += ", and again if a later one mutates (reinvocationPolicy IfNeeded)"
				}
			}
			evidence = append(evidence, fmt.Sprintf("%s: timeout %ds (%s)", h.describe(), h.timeout, kind))
		}
		shown := b.requests[:min(len(b.requests), 4)]
		requests := strings.Join(shown, ", ")
		if len(b.requests) > len(shown) {
			requests += fmt.Sprintf(", and %d more", len(b.requests)-len(shown))
		}
		f := check.New(meta, fmt.Sprintf("%s can take up to %ds in webhooks for %s, longer than the %ds the API server gives a write",
			check.Plural(len(b.hooks), "webhook", "webhooks"), b.total, requests, requestTimeout), objects...)
		f.Evidence = check.LimitEvidence(evidence)
		f.Fix = check.FixEach(len(b.hooks), "webhooks", func(i int) string {
			h := b.hooks[i]
			patch := fmt.Sprintf(`[{"op":"replace","path":"/webhooks/%d/timeoutSeconds","value":5}]`, h.index)
			return fmt.Sprintf("kubectl patch %s --type=json -p %s", check.Target(h.config), check.Quote(patch))
		})
		findings = append(findings, f)
	}
	return findings
}

// namedRequests lists, in a stable order, one request for each operation and resource a rule
// names; a wildcard stands for itself, and matches every rule naming anything.
func namedRequests(all []hook) []request {
	seen := map[request]bool{}
	var out []request
	for _, h := range all {
		for _, rule := range h.rules {
			clusterScoped := rule.Scope != nil && *rule.Scope == admissionregistrationv1.ClusterScope
			for _, op := range rule.Operations {
				for _, g := range rule.APIGroups {
					for _, res := range rule.Resources {
						r := request{operation: op, group: g, resource: res, clusterScoped: clusterScoped}
						if !seen[r] {
							seen[r] = true
							out = append(out, r)
						}
					}
				}
			}
		}
	}
	return out
}

// backendTemplates are the workloads whose pods the Service namespace/name selects, with their
// pod templates' labels (a live pod's own, for a workload the snapshot has no template of).
func backendTemplates(s *snapshot.Snapshot, namespace, name string) []snapshot.Workload {
	b := check.LookUpBackend(s, namespace, name)
	var out []snapshot.Workload
	for _, w := range s.Workloads() {
		if slices.Contains(b.Workloads, w.Ref) {
			out = append(out, w)
		}
	}
	return out
}
