// Package admission judges the admission webhooks the API server calls on every matching write:
// whether their backends can answer, and whether their shape turns a webhook outage into a
// cluster outage.
package admission

import (
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

// Checks is the family, in the order the catalog lists it.
func Checks() []check.Check {
	return []check.Check{BackendUnavailable{}, FailClosedUnscoped{}, MatchesOwnBackend{}, TimeoutBudget{}}
}

// webhookKinds are what every check of the family reads first.
func webhookKinds(more ...snapshot.Kind) []snapshot.Kind {
	return append([]snapshot.Kind{snapshot.KindValidatingWebhookConfigurations, snapshot.KindMutatingWebhookConfigurations}, more...)
}

// The API server's defaults for admissionregistration.k8s.io/v1 webhooks
// (pkg/apis/admissionregistration/v1/defaults.go in Kubernetes): a manifest that leaves a field
// out gets these.
const (
	defaultTimeoutSeconds = 10
	defaultServicePort    = 443
)

// hook is one webhook of either kind, with the API server's defaults applied.
type hook struct {
	config   snapshot.Ref
	index    int // its place in the configuration's webhooks, for a JSON patch
	name     string
	mutating bool
	fail     bool
	// reinvoked is a mutating webhook with reinvocationPolicy IfNeeded: it may be called twice.
	reinvoked         bool
	rules             []admissionregistrationv1.RuleWithOperations
	namespaceSelector metav1.LabelSelector
	objectSelector    metav1.LabelSelector
	timeout           int32
	service           *admissionregistrationv1.ServiceReference
}

// hooks lists every webhook of s: validating configurations first, then mutating, each by name.
func hooks(s *snapshot.Snapshot) []hook {
	var out []hook
	add := func(config snapshot.Ref, i int, name string, mutating bool, policy *admissionregistrationv1.FailurePolicyType,
		rules []admissionregistrationv1.RuleWithOperations, ns, obj *metav1.LabelSelector, timeout *int32,
		client admissionregistrationv1.WebhookClientConfig) hook {
		h := hook{config: config, index: i, name: name, mutating: mutating, rules: rules, timeout: defaultTimeoutSeconds, service: client.Service,
			// v1 defaults failurePolicy to Fail.
			fail: policy == nil || *policy == admissionregistrationv1.Fail}
		if ns != nil {
			h.namespaceSelector = *ns
		}
		if obj != nil {
			h.objectSelector = *obj
		}
		if timeout != nil {
			h.timeout = *timeout
		}
		return h
	}
	for i := range s.ValidatingWebhookConfigurations {
		c := &s.ValidatingWebhookConfigurations[i]
		ref := snapshot.RefTo(snapshot.KindValidatingWebhookConfigurations, "", c.Name)
		for j, w := range c.Webhooks {
			out = append(out, add(ref, j, w.Name, false, w.FailurePolicy, w.Rules, w.NamespaceSelector, w.ObjectSelector, w.TimeoutSeconds, w.ClientConfig))
		}
	}
	for i := range s.MutatingWebhookConfigurations {
		c := &s.MutatingWebhookConfigurations[i]
		ref := snapshot.RefTo(snapshot.KindMutatingWebhookConfigurations, "", c.Name)
		for j, w := range c.Webhooks {
			h := add(ref, j, w.Name, true, w.FailurePolicy, w.Rules, w.NamespaceSelector, w.ObjectSelector, w.TimeoutSeconds, w.ClientConfig)
			h.reinvoked = w.ReinvocationPolicy != nil && *w.ReinvocationPolicy == admissionregistrationv1.IfNeededReinvocationPolicy
			out = append(out, h)
		}
	}
	return out
}

// describe reads `webhook "x" of validatingwebhookconfiguration y`.
func (h hook) describe() string {
	return fmt.Sprintf("webhook %q of %s", h.name, h.config.Describe())
}

// backendNamespace is where the webhook's Service lives; "" for a URL.
func (h hook) backendNamespace() string {
	if h.service == nil {
		return ""
	}
	return h.service.Namespace
}

// servicePort is the port the API server calls the Service on.
func (h hook) servicePort() int32 {
	if h.service == nil || h.service.Port == nil {
		return defaultServicePort
	}
	return *h.service.Port
}

// request is what a rule is matched against: one operation on one resource.
type request struct {
	operation admissionregistrationv1.OperationType
	group     string
	resource  string // may be "resource/subresource"
	// clusterScoped is the resource's scope, for a rule's scope field.
	clusterScoped bool
}

func (r request) String() string {
	resource := r.resource
	if r.group != "" {
		resource = r.group + "/" + resource
	}
	return string(r.operation) + " " + resource
}

// podCreate is the request no workload can start without.
var podCreate = request{operation: admissionregistrationv1.Create, resource: "pods"}

// recoveryRequests are the namespaced writes a cluster needs to heal itself and the webhook's
// own backend to restart: pods and their controllers, leases (leader election), endpoints. A
// namespaceSelector does not apply to cluster-scoped writes, so they are no part of this.
func recoveryRequests() []request {
	out := []request{podCreate,
		{operation: admissionregistrationv1.Update, resource: "pods/status"},
		{operation: admissionregistrationv1.Create, group: "apps", resource: "replicasets"},
		{operation: admissionregistrationv1.Update, group: "apps", resource: "deployments"},
		{operation: admissionregistrationv1.Update, group: "coordination.k8s.io", resource: "leases"},
		{operation: admissionregistrationv1.Create, group: "discovery.k8s.io", resource: "endpointslices"},
	}
	return out
}

// matchesRequest says whether any rule matches r: "*" stands for any group, operation or
// resource. Versions are not compared: with the default matchPolicy Equivalent, a request in
// any version of a resource a rule names is converted and sent.
func (h hook) matchesRequest(r request) bool {
	for _, rule := range h.rules {
		if ruleMatches(rule, r) {
			return true
		}
	}
	return false
}

func ruleMatches(rule admissionregistrationv1.RuleWithOperations, r request) bool {
	operation := slices.ContainsFunc(rule.Operations, func(o admissionregistrationv1.OperationType) bool {
		return o == admissionregistrationv1.OperationAll || o == r.operation
	})
	group := slices.Contains(rule.APIGroups, "*") || slices.Contains(rule.APIGroups, r.group)
	if !operation || !group {
		return false
	}
	if rule.Scope != nil {
		switch *rule.Scope {
		case admissionregistrationv1.ClusterScope:
			if !r.clusterScoped {
				return false
			}
		case admissionregistrationv1.NamespacedScope:
			if r.clusterScoped {
				return false
			}
		}
	}
	// As k8s.io/apiserver/pkg/admission/plugin/webhook/predicates/rules matches: "*" is every
	// resource without a subresource, and "pods/*" is pods and every subresource of it.
	resource, sub, _ := strings.Cut(r.resource, "/")
	return slices.ContainsFunc(rule.Resources, func(pattern string) bool {
		pr, ps, _ := strings.Cut(pattern, "/")
		return (pr == "*" || pr == resource) && (ps == "*" || ps == sub)
	})
}

// ruleText describes a webhook's rules for a person: "CREATE, UPDATE of pods, apps/deployments".
func (h hook) ruleText() string {
	var parts []string
	for _, rule := range h.rules {
		ops := make([]string, len(rule.Operations))
		for i, o := range rule.Operations {
			ops[i] = string(o)
		}
		var resources []string
		for _, g := range rule.APIGroups {
			for _, r := range rule.Resources {
				switch g {
				case "":
					resources = append(resources, r)
				default:
					resources = append(resources, g+"/"+r)
				}
			}
		}
		parts = append(parts, strings.Join(ops, ", ")+" of "+strings.Join(resources, ", "))
	}
	if len(parts) == 0 {
		return "no request (it has no rules)"
	}
	return strings.Join(parts, "; ")
}

// namespaceLabels are a namespace's labels as a namespaceSelector sees them: the API server
// labels every namespace with its name (kubernetes.io/metadata.name), which manifests and
// namespaces the snapshot does not hold leave out.
func namespaceLabels(s *snapshot.Snapshot, name string) labels.Set {
	set := labels.Set{corev1.LabelMetadataName: name}
	for i := range s.Namespaces {
		if s.Namespaces[i].Name == name {
			for k, v := range s.Namespaces[i].Labels {
				set[k] = v
			}
		}
	}
	return set
}

// selects reports whether sel matches set; a selector the API server would refuse selects nothing.
func selects(sel metav1.LabelSelector, set labels.Set) bool {
	selector, err := metav1.LabelSelectorAsSelector(&sel)
	return err == nil && selector.Matches(set)
}

// everywhere reports whether a selector is empty: it matches every namespace or object.
func everywhere(sel metav1.LabelSelector) bool {
	return len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0
}

// narrows reports whether an objectSelector asks for something objects must carry (a label, a
// value): it then leaves out most objects it was not written for, such as system pods, whereas
// NotIn and DoesNotExist leave out only what they name.
func narrows(sel metav1.LabelSelector) bool {
	if len(sel.MatchLabels) > 0 {
		return true
	}
	return slices.ContainsFunc(sel.MatchExpressions, func(r metav1.LabelSelectorRequirement) bool {
		return r.Operator == metav1.LabelSelectorOpIn || r.Operator == metav1.LabelSelectorOpExists
	})
}

// matchedNamespaces lists, sorted, the namespaces of s the webhook's namespaceSelector matches.
func matchedNamespaces(s *snapshot.Snapshot, h hook) []string {
	var out []string
	for i := range s.Namespaces {
		if name := s.Namespaces[i].Name; selects(h.namespaceSelector, namespaceLabels(s, name)) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// selectorText renders a label selector as kubectl writes one.
func selectorText(sel metav1.LabelSelector) string {
	if everywhere(sel) {
		return "{} (everything)"
	}
	selector, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		return "an invalid selector"
	}
	return selector.String()
}

// namespaceScope says which namespaces the webhook intercepts, for a message.
func namespaceScope(s *snapshot.Snapshot, h hook) string {
	if everywhere(h.namespaceSelector) {
		return "in every namespace"
	}
	matched := matchedNamespaces(s, h)
	if len(matched) == 0 {
		return fmt.Sprintf("in namespaces matching %s (none of those read)", selectorText(h.namespaceSelector))
	}
	shown := matched[:min(len(matched), 5)]
	text := fmt.Sprintf("in %s (%s", check.Plural(len(matched), "namespace", "namespaces"), strings.Join(shown, ", "))
	if len(matched) > len(shown) {
		text += fmt.Sprintf(", and %d more", len(matched)-len(shown))
	}
	return text + ") matching " + selectorText(h.namespaceSelector)
}
