package changes

import (
	"slices"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// objectChanges adds an object's creation and its updates in the window, as its managedFields
// tell them: each entry is the newest write of one manager and operation. The snapshot keeps
// them, slimmed, for ConfigMaps, NetworkPolicies and webhook configurations only; a ConfigMap
// not read whole may be among those read as metadata alone.
func (t *timeline) objectChanges(ref snapshot.Ref, kind string) {
	obj, ok := t.s.ObjectMeta(ref)
	if !ok && ref.Kind == "ConfigMap" {
		obj, ok = configMapMetadata(t.s, ref)
	}
	if !ok {
		return
	}
	created := obj.GetCreationTimestamp().Time
	// A status written by a controller is not a change anyone made to the object.
	var entries, atCreation []metav1.ManagedFieldsEntry
	for _, e := range obj.GetManagedFields() {
		switch {
		case e.Time == nil || e.Subresource != "":
		case e.Time.Time.Equal(created):
			atCreation = append(atCreation, e)
		default:
			entries = append(entries, e)
		}
	}
	if t.in(created) {
		switch len(atCreation) {
		case 0:
			t.add(Change{Time: created, Object: ref, Kind: kind, Summary: "created"})
		case 1:
			// The write that created it, as long as its manager wrote nothing since.
			manager := atCreation[0].Manager
			t.add(Change{Time: created, Object: ref, Kind: kind, Summary: "created by " + managerName(manager), Manager: manager})
		default:
			// Times are whole seconds: which of them created it cannot be told.
			for _, e := range atCreation {
				t.add(Change{Time: created, Object: ref, Kind: kind, Summary: "created or " + operationVerb(e.Operation) + " by " + managerName(e.Manager), Manager: e.Manager})
			}
		}
	}
	for _, e := range entries {
		if t.in(e.Time.Time) {
			t.add(Change{Time: e.Time.Time, Object: ref, Kind: kind, Summary: operationVerb(e.Operation) + " by " + managerName(e.Manager), Manager: e.Manager})
		}
	}
}

func operationVerb(op metav1.ManagedFieldsOperationType) string {
	if op == metav1.ManagedFieldsOperationApply {
		return "applied"
	}
	return "updated"
}

// managerName is a field manager as a line may show it: cut, on one line (anyone may name one).
func managerName(manager string) string {
	if manager == "" {
		return "an unnamed manager"
	}
	return check.OneLine(manager, 80)
}

// ConfigMapsOf lists, sorted, the ConfigMaps a pod spec reads: volumes (projected ones too),
// envFrom and env valueFrom of every container.
func ConfigMapsOf(spec *corev1.PodSpec) []string {
	var names []string
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			names = append(names, v.ConfigMap.Name)
		}
		if v.Projected != nil {
			for _, source := range v.Projected.Sources {
				if source.ConfigMap != nil {
					names = append(names, source.ConfigMap.Name)
				}
			}
		}
	}
	containers := slices.Concat(spec.InitContainers, spec.Containers)
	for _, c := range containers {
		for _, from := range c.EnvFrom {
			if from.ConfigMapRef != nil {
				names = append(names, from.ConfigMapRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				names = append(names, e.ValueFrom.ConfigMapKeyRef.Name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

type policiesKey struct{}

// policiesSelecting lists the NetworkPolicies of namespace whose pod selector matches podLabels.
func policiesSelecting(s *snapshot.Snapshot, namespace string, podLabels map[string]string) []snapshot.Ref {
	byNamespace := snapshot.Derived(s, policiesKey{}, func() map[string][]*networkingv1.NetworkPolicy {
		index := map[string][]*networkingv1.NetworkPolicy{}
		for i := range s.NetworkPolicies {
			p := &s.NetworkPolicies[i]
			index[p.Namespace] = append(index[p.Namespace], p)
		}
		return index
	})
	var out []snapshot.Ref
	for _, p := range byNamespace[namespace] {
		selector, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err == nil && selector.Matches(labels.Set(podLabels)) {
			out = append(out, snapshot.RefTo(snapshot.KindNetworkPolicies, p.Namespace, p.Name))
		}
	}
	return out
}

// admittingWebhooks follows the webhook configurations that may refuse or change the creation
// of pods in the namespaces of the workloads followed: a webhook added or changed just before
// pods stop being created is often why. One pass over them for the whole incident.
func (t *timeline) admittingWebhooks() {
	if len(t.namespaces) == 0 {
		return
	}
	validating := func(w admissionregistrationv1.ValidatingWebhook) bool {
		return t.admitsPods(w.Rules, w.NamespaceSelector)
	}
	for i := range t.s.ValidatingWebhookConfigurations {
		if c := &t.s.ValidatingWebhookConfigurations[i]; slices.ContainsFunc(c.Webhooks, validating) {
			t.follow(snapshot.RefTo(snapshot.KindValidatingWebhookConfigurations, "", c.Name))
		}
	}
	mutating := func(w admissionregistrationv1.MutatingWebhook) bool {
		return t.admitsPods(w.Rules, w.NamespaceSelector)
	}
	for i := range t.s.MutatingWebhookConfigurations {
		if c := &t.s.MutatingWebhookConfigurations[i]; slices.ContainsFunc(c.Webhooks, mutating) {
			t.follow(snapshot.RefTo(snapshot.KindMutatingWebhookConfigurations, "", c.Name))
		}
	}
}

// admitsPods tells whether a webhook's rules cover creating pods in one of the namespaces
// followed. A namespace the snapshot lacks is matched by the label the API server gives every
// namespace, its name.
func (t *timeline) admitsPods(rules []admissionregistrationv1.RuleWithOperations, namespaceSelector *metav1.LabelSelector) bool {
	covers := false
	for _, r := range rules {
		creates := slices.Contains(r.Operations, admissionregistrationv1.Create) || slices.Contains(r.Operations, admissionregistrationv1.OperationAll)
		core := slices.Contains(r.APIGroups, "") || slices.Contains(r.APIGroups, "*")
		pods := slices.Contains(r.Resources, "pods") || slices.Contains(r.Resources, "*") || slices.Contains(r.Resources, "*/*")
		covers = covers || (creates && core && pods)
	}
	if !covers {
		return false
	}
	selector := labels.Everything()
	if namespaceSelector != nil {
		var err error
		if selector, err = metav1.LabelSelectorAsSelector(namespaceSelector); err != nil {
			return false
		}
	}
	for namespace := range t.namespaces {
		nsLabels := map[string]string{corev1.LabelMetadataName: namespace}
		if ns, ok := lookup[*corev1.Namespace](t.s, snapshot.RefTo(snapshot.KindNamespaces, "", namespace)); ok && ns.Labels != nil {
			nsLabels = ns.Labels
		}
		if selector.Matches(labels.Set(nsLabels)) {
			return true
		}
	}
	return false
}
