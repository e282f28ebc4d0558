// Package aggregated judges the aggregation layer: the APIServices the API server proxies whole
// API groups to (metrics-server's metrics.k8s.io, adapters' custom metrics), and what their
// outage stalls, namespace deletion first. Its checks are of the apiserver category: an
// aggregated API is part of what the API server serves.
package aggregated

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Checks is the family, in the order the catalog lists it.
func Checks() []check.Check {
	return []check.Check{APIServiceUnavailable{}, NamespaceTerminatingStuck{}}
}

// APIServiceUnavailable finds aggregated APIs the API server reports unavailable.
type APIServiceUnavailable struct{}

func (APIServiceUnavailable) Meta() check.Meta {
	return check.Meta{
		ID:       "apiservice-unavailable",
		Title:    "Aggregated APIs are unavailable",
		Category: check.CategoryAPIServer,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindAPIServices},
		Optional: append(snapshot.WorkloadKinds(), snapshot.KindServices, snapshot.KindEndpointSlices, snapshot.KindNamespaces,
			snapshot.KindHorizontalPodAutoscalers),
		LiveOnly: true,
		Description: "Reads each APIService's Available condition, which the API server's aggregator sets (ServiceNotFound, " +
			"MissingEndpoints, EndpointsNotFound, FailedDiscoveryCheck, ...), says what stops working with its group " +
			"(metrics.k8s.io: kubectl top and HPAs on CPU and memory; custom and external metrics: HPAs on those), and " +
			"shows the backing Service, its endpoints, pods and workload. Namespaces whose deletion stalls on the " +
			"group's discovery are named with it.",
		Why: "While an aggregated API is unavailable, discovery of it fails: kubectl warns on every command, " +
			"namespaces cannot finish deleting (the namespace controller must list every group), the garbage " +
			"collector and quota controllers work from partial discovery, and whatever reads the group (HPAs, kubectl top) fails.",
		Remediation: "Bring the backend back (its Deployment, its Service and endpoints, its serving certificate). If the " +
			"API is no longer wanted, remove its APIService with what installed it.",
		References: []string{"https://kubernetes.io/docs/tasks/extend-kubernetes/configure-aggregation-layer/"},
		Absorbs:    []string{"namespace-terminating-stuck", "hpa-metrics-unavailable"},
	}
}

func (c APIServiceUnavailable) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for i := range s.APIServices {
		a := &s.APIServices[i]
		cond, unavailable := availability(a)
		if !unavailable {
			continue
		}
		groupVersion := a.Spec.Group + "/" + a.Spec.Version
		reason := fmt.Sprintf("Available=%s (%s)", cond.Status, cond.Reason)
		if cond.Message != "" {
			reason += ": " + cond.Message
		}
		f := check.New(meta, fmt.Sprintf("APIService %s is unavailable, %s; %s", a.Name, reason, consequences(a.Spec.Group)),
			snapshot.RefTo(snapshot.KindAPIServices, "", a.Name))
		f.Incident = true
		f.Scope = check.ScopeCluster
		if !cond.LastTransitionTime.IsZero() {
			f.Since = check.Earliest(cond.LastTransitionTime.Time)
		}
		f.Fix = []string{"kubectl get apiservice " + check.Quote(a.Name) + " -o yaml"}
		if svc := a.Spec.Service; svc != nil {
			port := int32(443)
			if svc.Port != nil {
				port = *svc.Port
			}
			if why := backendUnseen(s, svc.Namespace); why != "" {
				f.Evidence = append(f.Evidence, fmt.Sprintf("Service %s/%s not judged: %s", svc.Namespace, svc.Name, why))
			} else {
				b := check.ServiceBackend(s, svc.Namespace, svc.Name, port)
				if b.Down {
					f.Evidence = append(f.Evidence, b.Evidence...)
				} else {
					f.Evidence = append(f.Evidence, fmt.Sprintf("Service %s/%s has ready endpoints: the API server cannot reach or "+
						"talk to them (network policy, TLS, the backend's own errors)", svc.Namespace, svc.Name))
				}
				f.Objects = append(f.Objects, b.Workloads...)
				f.Fix = append(f.Fix, b.Fix()...)
			}
		}
		stuck := stuckOn(s, groupVersion)
		for _, ns := range stuck {
			f.Objects = append(f.Objects, snapshot.RefTo(snapshot.KindNamespaces, "", ns))
		}
		f.Fix = append(f.Fix, check.FixEach(len(stuck), "namespaces", func(i int) string {
			return fmt.Sprintf("kubectl -n %s get deployments,statefulsets,pods  # part of what is left to delete, which goes once the API answers", check.Quote(stuck[i]))
		})...)
		if len(stuck) > 0 {
			f.Evidence = append(f.Evidence, fmt.Sprintf("deletion of %s is stalled on discovery of %s: %s",
				check.PluralForm(len(stuck), "namespace", "namespaces"), groupVersion, strings.Join(stuck, ", ")))
		}
		// The autoscalers that cannot read their metrics from the group are part of the outage:
		// their own findings (hpa-metrics-unavailable) fold into this one.
		var hpas []string
		for i := range s.HorizontalPodAutoscalers {
			if hpa := &s.HorizontalPodAutoscalers[i]; snapshot.HPAMetricsAPI(hpa) == a.Spec.Group {
				f.Objects = append(f.Objects, snapshot.ScaleTarget(hpa), snapshot.RefTo(snapshot.KindHorizontalPodAutoscalers, hpa.Namespace, hpa.Name))
				hpas = append(hpas, hpa.Namespace+"/"+hpa.Name)
			}
		}
		if len(hpas) > 0 {
			names := strings.Join(hpas[:min(len(hpas), check.MaxFixes)], ", ")
			if len(hpas) > check.MaxFixes {
				names += fmt.Sprintf(" and %d more", len(hpas)-check.MaxFixes)
			}
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s cannot scale without it: %s",
				check.Plural(len(hpas), "HorizontalPodAutoscaler", "HorizontalPodAutoscalers"), names))
		}
		f.Evidence = check.LimitEvidence(f.Evidence)
		f.Fix = append(f.Fix, check.Comment(fmt.Sprintf("last resort, if the API is not coming back: kubectl delete apiservice %s "+
			"(its group disappears; stalled namespace deletions then finish; reinstalling its chart brings it back)", a.Name)))
		findings = append(findings, f)
	}
	return findings
}

// backendUnseen says why the snapshot cannot tell the state of a Service in namespace: the
// Services or EndpointSlices could not be read, or the run was limited (-n) to another
// namespace; "" when it can.
func backendUnseen(s *snapshot.Snapshot, namespace string) string {
	for _, k := range []snapshot.Kind{snapshot.KindServices, snapshot.KindEndpointSlices} {
		if why, unread := s.Unavailable[k]; unread {
			return fmt.Sprintf("cannot read %s: %s", k, why)
		}
	}
	if s.LimitedToNamespace() && s.Namespace != namespace {
		return fmt.Sprintf("the run was limited (-n) to namespace %s", s.Namespace)
	}
	return ""
}

// availability returns the Available condition and whether it says the API cannot be used (never
// without the condition). A local APIService (no spec.service) is served by the API server itself.
func availability(a *apiregistrationv1.APIService) (*apiregistrationv1.APIServiceCondition, bool) {
	if a.Spec.Service == nil {
		return nil, false
	}
	for i := range a.Status.Conditions {
		if c := &a.Status.Conditions[i]; c.Type == apiregistrationv1.Available {
			return c, c.Status != apiregistrationv1.ConditionTrue
		}
	}
	// Not judged yet: the aggregator sets the condition within moments of creation.
	return nil, false
}

// consequences says what stops working while group is unavailable.
func consequences(group string) string {
	const always = "kubectl warns on discovery, and namespaces cannot finish deleting"
	switch group {
	case "metrics.k8s.io":
		return "kubectl top fails and HPAs cannot scale on CPU or memory (FailedGetResourceMetric); " + always
	case "custom.metrics.k8s.io":
		return "HPAs on Pods and Object metrics cannot scale (FailedGetPodsMetric, FailedGetObjectMetric); " + always
	case "external.metrics.k8s.io":
		return "HPAs on External metrics cannot scale (FailedGetExternalMetric); " + always
	}
	return "every request to " + group + " fails; " + always
}

// stuckOn lists, sorted, the terminating namespaces whose deletion fails on discovery of
// groupVersion, as the namespace controller's condition message names it.
func stuckOn(s *snapshot.Snapshot, groupVersion string) []string {
	var out []string
	for i := range s.Namespaces {
		ns := &s.Namespaces[i]
		for _, c := range ns.Status.Conditions {
			if c.Type == corev1.NamespaceDeletionDiscoveryFailure && c.Status == corev1.ConditionTrue &&
				strings.Contains(c.Message, groupVersion+":") {
				out = append(out, ns.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}
