package disruption

import (
	"fmt"
	"regexp"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// HPAMetricsUnavailable finds autoscalers that cannot scale: no metric to compute replicas from,
// or no target to scale.
type HPAMetricsUnavailable struct{}

func (HPAMetricsUnavailable) Meta() check.Meta {
	return check.Meta{
		ID:       "hpa-metrics-unavailable",
		Title:    "Autoscalers cannot read their metrics or their target",
		Category: check.CategoryCapacity,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindHorizontalPodAutoscalers},
		Optional: optionalOwners(snapshot.KindAPIServices, snapshot.KindEvents),
		Description: "Reads the HorizontalPodAutoscaler controller's conditions: ScalingActive False (FailedGetResourceMetric, " +
			"FailedGetContainerResourceMetric, FailedGetPodsMetric, FailedGetObjectMetric, FailedGetExternalMetric, " +
			"InvalidSelector, AmbiguousSelector, ...; ScalingDisabled, a target scaled to zero on purpose, aside) and " +
			"AbleToScale False (FailedGetScale: the target is missing or has no scale; FailedUpdateScale). It quotes the " +
			"condition and the newest Warning event (FailedComputeMetricsReplicas and the like), and says which metrics " +
			"API the metric comes from (metrics.k8s.io for Resource metrics, custom.metrics.k8s.io for Pods and Object " +
			"metrics, external.metrics.k8s.io for External ones) and the state of the APIServices that serve it: none " +
			"registered, or Available=False (apiservice-unavailable then reports the outage and folds this in). A pod " +
			"without the request a Utilization target is a percentage of (\"missing request for cpu\") is told apart. " +
			"Where the controller has not judged the autoscaler (manifests, -f), it reports a Utilization metric on a " +
			"target whose containers request none of that resource.",
		Why: "An autoscaler that cannot compute its replica count keeps the current one whatever the load: it neither " +
			"scales up under load nor down after it, and nothing else reports it. One metrics API down stops every " +
			"autoscaler that reads it.",
		Remediation: "Bring back the metrics API the metric comes from (metrics-server, or the adapter serving custom " +
			"and external metrics), give every container the request the utilization is a percentage of, or point the " +
			"autoscaler at the workload it is meant for.",
		References: []string{referenceHPA, "https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#support-for-metrics-apis"},
	}
}

// missingRequestPattern reads the replica calculator's error for a container without a request.
var missingRequestPattern = regexp.MustCompile(`missing request for (\S+) in container (\S+) of Pod (\S+)`)

func (c HPAMetricsUnavailable) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var templates map[snapshot.Ref]snapshot.Workload
	var findings []check.Finding
	for i := range s.HorizontalPodAutoscalers {
		hpa := &s.HorizontalPodAutoscalers[i]
		target := snapshot.ScaleTarget(hpa)
		ref := hpaRef(hpa.Namespace, hpa.Name)
		able := snapshot.HPACondition(hpa, autoscalingv2.AbleToScale)
		active := snapshot.HPACondition(hpa, autoscalingv2.ScalingActive)
		var f check.Finding
		switch {
		case able != nil && able.Status == corev1.ConditionFalse:
			f = c.targetFinding(s, hpa, able, target, ref)
		case active != nil && active.Status == corev1.ConditionFalse && active.Reason != "ScalingDisabled":
			f = c.metricFinding(s, hpa, active, target, ref)
		case len(hpa.Status.Conditions) == 0:
			// Not judged by the controller (manifests, or just created): what the template shows.
			if templates == nil {
				templates = map[snapshot.Ref]snapshot.Workload{}
				for _, w := range s.Workloads() {
					templates[w.Ref] = w
				}
			}
			w, ok := templates[target]
			if !ok {
				continue
			}
			missing := requestsMissing(hpa, w.Spec)
			if len(missing) == 0 {
				continue
			}
			f = check.New(meta, fmt.Sprintf("HorizontalPodAutoscaler %s/%s scales %s on utilization, a percentage of requests, "+
				"but %s: the controller cannot compute it (\"missing request for %s\") and will not scale", hpa.Namespace, hpa.Name,
				target.Describe(), strings.Join(missing.describe(), "; "), missing[0].resource), target, ref)
			f.Fix = missing.fixes(target)
			if s.Source == snapshot.SourceManifests {
				f.Evidence = []string{"judged from the manifests: the controller has not reported on the autoscaler"}
			} else {
				f.Evidence = []string{"the controller has not reported on the autoscaler yet (no conditions); judged from the template"}
			}
		default:
			continue
		}
		findings = append(findings, f)
	}
	return findings
}

// targetFinding reports an autoscaler that cannot read or update its target's scale.
func (c HPAMetricsUnavailable) targetFinding(s *snapshot.Snapshot, hpa *autoscalingv2.HorizontalPodAutoscaler,
	cond *autoscalingv2.HorizontalPodAutoscalerCondition, target, ref snapshot.Ref) check.Finding {
	f := c.start(s, hpa, cond, target, ref)
	target0 := fmt.Sprintf("-n %s horizontalpodautoscaler/%s", check.Quote(hpa.Namespace), check.Quote(hpa.Name))
	if exists, known := workloadExists(s, target); known && !exists {
		f.Message += fmt.Sprintf("; %s does not exist", target.Describe())
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s does not exist in the cluster", target.Describe()))
		f.Fix = []string{
			fmt.Sprintf("kubectl get -n %s %s  # what there is to scale", check.Quote(hpa.Namespace), strings.ToLower(target.Kind)+"s"),
			fmt.Sprintf(`kubectl patch %s --type=merge -p '{"spec":{"scaleTargetRef":{"name":"WORKLOAD_NAME"}}}'  # point it at the workload it is meant for`, target0),
			check.Comment(fmt.Sprintf("or, if %s is gone for good: kubectl delete %s", target.Describe(), target0)),
		}
		return f
	}
	f.Fix = []string{fmt.Sprintf("kubectl describe %s", target0), fmt.Sprintf("kubectl get %s -o yaml", check.InNamespace(target))}
	return f
}

// metricFinding reports an autoscaler that cannot compute its replica count, and says which
// metrics API it waits on.
func (c HPAMetricsUnavailable) metricFinding(s *snapshot.Snapshot, hpa *autoscalingv2.HorizontalPodAutoscaler,
	cond *autoscalingv2.HorizontalPodAutoscalerCondition, target, ref snapshot.Ref) check.Finding {
	f := c.start(s, hpa, cond, target, ref)
	describe := fmt.Sprintf("kubectl describe -n %s horizontalpodautoscaler/%s", check.Quote(hpa.Namespace), check.Quote(hpa.Name))
	if snapshot.MissingRequest(cond.Message) {
		var missing unrequestedList
		if m := missingRequestPattern.FindStringSubmatch(cond.Message); m != nil {
			missing = unrequestedList{{resource: m[1], container: m[2]}}
			f.Message += fmt.Sprintf("; container %s requests no %s, and utilization is a percentage of requests", m[2], m[1])
		}
		f.Fix = append(missing.fixes(target), describe)
		return f
	}
	group := snapshot.HPAMetricsAPI(hpa)
	if group == "" {
		f.Fix = []string{describe}
		return f
	}
	state, fix := apiState(s, group)
	f.Message += "; " + state
	f.Fix = append(fix, probeFix(hpa, group)...)
	f.Fix = append(f.Fix, describe)
	return f
}

// start is what every live finding says: the condition, the replicas held, the newest warning.
func (c HPAMetricsUnavailable) start(s *snapshot.Snapshot, hpa *autoscalingv2.HorizontalPodAutoscaler,
	cond *autoscalingv2.HorizontalPodAutoscalerCondition, target, ref snapshot.Ref) check.Finding {
	f := check.New(c.Meta(), fmt.Sprintf("HorizontalPodAutoscaler %s/%s cannot scale %s: %s", hpa.Namespace, hpa.Name, target.Describe(),
		conditionLine(cond)), target, ref)
	f.Incident = true
	f.Since = check.Earliest(cond.LastTransitionTime.Time)
	f.Evidence = []string{fmt.Sprintf("replicas held at %d (minReplicas %d, maxReplicas %d)", hpa.Status.CurrentReplicas,
		ptrOr(hpa.Spec.MinReplicas, 1), hpa.Spec.MaxReplicas)}
	for _, e := range first(s.WarningEvents("HorizontalPodAutoscaler", hpa.Namespace, hpa.Name), 1) {
		f.Evidence = append(f.Evidence, "newest warning: "+check.EventLine(&e, s.CollectedAt))
	}
	return f
}

// apiState says what serves a metrics API group, and the fix for it.
func apiState(s *snapshot.Snapshot, group string) (string, []string) {
	if why, unread := s.Unavailable[snapshot.KindAPIServices]; unread {
		return fmt.Sprintf("the metrics API %s: its APIServices could not be read (%s), so which is down is not judged", group, why),
			[]string{"kubectl get apiservices | grep " + check.Quote(group)}
	}
	var serving []*apiregistrationv1.APIService
	for i := range s.APIServices {
		if a := &s.APIServices[i]; a.Spec.Group == group {
			serving = append(serving, a)
		}
	}
	if len(serving) == 0 {
		installer := "metrics-server"
		if group != "metrics.k8s.io" {
			installer = "a metrics adapter (prometheus-adapter, KEDA, the cloud provider's)"
		}
		return fmt.Sprintf("no APIService serves the metrics API %s: %s is not installed", group, installer),
			[]string{check.Comment(fmt.Sprintf("install %s, which registers an APIService for %s", installer, group))}
	}
	for _, a := range serving {
		for _, cond := range a.Status.Conditions {
			if cond.Type == apiregistrationv1.Available && cond.Status != apiregistrationv1.ConditionTrue {
				state := fmt.Sprintf("the metrics API %s is unavailable: APIService %s is Available=%s (%s)", group, a.Name, cond.Status, cond.Reason)
				if cond.Message != "" {
					state += ": " + check.OneLine(cond.Message, 160)
				}
				return state + " (see apiservice-unavailable)", []string{"kubectl get apiservice " + check.Quote(a.Name) + " -o yaml"}
			}
		}
	}
	return fmt.Sprintf("the metrics API %s is available (APIService %s): it answers, but not for this metric (not served by the adapter, "+
		"or no samples of it yet)", group, serving[0].Name), nil
}

// probeFix asks the metrics API for what the autoscaler asks it (a comment: the answer is an
// error until the API serves the metric), for the custom and external metrics APIs, whose
// adapters serve only the metrics they are configured for.
func probeFix(hpa *autoscalingv2.HorizontalPodAutoscaler, group string) []string {
	var paths []string
	for _, m := range hpa.Spec.Metrics {
		switch {
		case group == "custom.metrics.k8s.io" && m.Type == autoscalingv2.PodsMetricSourceType && m.Pods != nil:
			paths = append(paths, fmt.Sprintf("/apis/custom.metrics.k8s.io/v1beta1/namespaces/%s/pods/*/%s", hpa.Namespace, m.Pods.Metric.Name))
		case group == "external.metrics.k8s.io" && m.Type == autoscalingv2.ExternalMetricSourceType && m.External != nil:
			paths = append(paths, fmt.Sprintf("/apis/external.metrics.k8s.io/v1beta1/namespaces/%s/%s", hpa.Namespace, m.External.Metric.Name))
		}
	}
	out := make([]string, 0, 2)
	for _, p := range first(paths, 2) {
		out = append(out, check.Comment("what the autoscaler asks the API: kubectl get --raw "+check.Quote(p)))
	}
	return out
}

// workloadExists tells whether the snapshot holds the workload, and whether it can tell: its
// kind is one the snapshot reads and it was read.
func workloadExists(s *snapshot.Snapshot, ref snapshot.Ref) (exists, known bool) {
	k, ok := snapshot.KindOf(ref.Kind)
	if !ok || snapshot.RefTo(k, ref.Namespace, ref.Name) != ref {
		return false, false
	}
	if _, unread := s.Unavailable[k]; unread {
		return false, false
	}
	switch k {
	case snapshot.KindDeployments:
		return hasNamed(s.Deployments, ref), true
	case snapshot.KindStatefulSets:
		return hasNamed(s.StatefulSets, ref), true
	case snapshot.KindReplicaSets:
		return hasNamed(s.ReplicaSets, ref), true
	case snapshot.KindReplicationControllers:
		return hasNamed(s.ReplicationControllers, ref), true
	}
	return false, false
}

func hasNamed[T any, PT interface {
	*T
	GetNamespace() string
	GetName() string
}](items []T, ref snapshot.Ref) bool {
	for i := range items {
		if o := PT(&items[i]); o.GetNamespace() == ref.Namespace && o.GetName() == ref.Name {
			return true
		}
	}
	return false
}

// unrequested is a container that requests none of a resource a Utilization metric needs.
type unrequested struct{ resource, container string }

type unrequestedList []unrequested

func (l unrequestedList) describe() []string {
	out := make([]string, len(l))
	for i, u := range l {
		out[i] = fmt.Sprintf("container %s requests no %s", u.container, u.resource)
	}
	return out
}

// fixes sets a request on each container; the value is the workload's to choose.
func (l unrequestedList) fixes(target snapshot.Ref) []string {
	return check.FixEach(len(l), "containers", func(i int) string {
		u := l[i]
		return fmt.Sprintf("kubectl set resources %s -c %s --requests=%s=%s_REQUEST  # the utilization target is a percentage of it",
			check.InNamespace(target), check.Quote(u.container), u.resource, strings.ToUpper(u.resource))
	})
}

// requestsMissing lists, for each Utilization metric on a resource, the containers the controller
// would find without a request for it (an unset request defaults to the limit), unless the pod
// requests it as a whole; as the replica calculator counts them, sidecars included.
func requestsMissing(hpa *autoscalingv2.HorizontalPodAutoscaler, spec *corev1.PodSpec) unrequestedList {
	var out unrequestedList
	requests := func(c *corev1.Container, r corev1.ResourceName) bool {
		_, req := c.Resources.Requests[r]
		_, lim := c.Resources.Limits[r]
		return req || lim
	}
	containers := make([]*corev1.Container, 0, len(spec.Containers))
	for i := range spec.InitContainers {
		if c := &spec.InitContainers[i]; c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers, c)
		}
	}
	for i := range spec.Containers {
		containers = append(containers, &spec.Containers[i])
	}
	for _, m := range hpa.Spec.Metrics {
		var name corev1.ResourceName
		only := ""
		switch {
		case m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Target.Type == autoscalingv2.UtilizationMetricType:
			name = m.Resource.Name
		case m.Type == autoscalingv2.ContainerResourceMetricSourceType && m.ContainerResource != nil &&
			m.ContainerResource.Target.Type == autoscalingv2.UtilizationMetricType:
			name, only = m.ContainerResource.Name, m.ContainerResource.Container
		default:
			continue
		}
		if spec.Resources != nil && only == "" {
			if _, pod := spec.Resources.Requests[name]; pod {
				continue
			}
		}
		for _, c := range containers {
			if (only == "" || only == c.Name) && !requests(c, name) {
				out = append(out, unrequested{string(name), c.Name})
			}
		}
	}
	return out
}
