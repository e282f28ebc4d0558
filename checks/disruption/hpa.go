package disruption

import (
	"fmt"
	"math"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// HPAAtMax finds autoscalers held at maxReplicas while their metric is above target.
type HPAAtMax struct{}

func (HPAAtMax) Meta() check.Meta {
	return check.Meta{
		ID:       "hpa-at-max",
		Title:    "Autoscalers are at maxReplicas with the load above target",
		Category: check.CategoryCapacity,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindHorizontalPodAutoscalers},
		LiveOnly: true,
		Description: "Reports HorizontalPodAutoscalers whose ScalingLimited condition is True for TooManyReplicas (the " +
			"controller wants more replicas than maxReplicas) while they run maxReplicas and a metric is above its " +
			"target: status.currentMetrics against spec.metrics, for Resource and ContainerResource (Utilization or " +
			"AverageValue), Pods, Object and External metrics (Value or AverageValue). It names the metric, its current " +
			"value and its target, and how many replicas the load asks for at that ratio.",
		Why: "At its maximum the autoscaler adds no replica however the load grows: every pod runs above the target the " +
			"workload was sized for, latency rises and requests fail, and nothing in the cluster will change that by itself.",
		Remediation: "Raise maxReplicas to what the load asks for (if the nodes have room, or the cluster autoscaler can add " +
			"them), or add capacity per pod (more CPU or memory per replica), or reduce the load.",
		References: []string{referenceHPA},
	}
}

func (c HPAAtMax) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for i := range s.HorizontalPodAutoscalers {
		hpa := &s.HorizontalPodAutoscalers[i]
		limited := snapshot.HPACondition(hpa, autoscalingv2.ScalingLimited)
		if limited == nil || limited.Status != corev1.ConditionTrue || limited.Reason != "TooManyReplicas" ||
			hpa.Status.CurrentReplicas < hpa.Spec.MaxReplicas {
			continue
		}
		// Blind to its metrics, the controller's limit is stale: hpa-metrics-unavailable says why.
		if active := snapshot.HPACondition(hpa, autoscalingv2.ScalingActive); active != nil && active.Status == corev1.ConditionFalse {
			continue
		}
		var above []reading
		worst := 0.0
		for _, r := range readings(hpa) {
			if r.ratio > 1 {
				above = append(above, r)
				worst = math.Max(worst, r.ratio)
			}
		}
		if len(above) == 0 {
			continue
		}
		parts := make([]string, len(above))
		for j, r := range above {
			parts[j] = r.String()
		}
		ref := hpaRef(hpa.Namespace, hpa.Name)
		target := snapshot.ScaleTarget(hpa)
		f := check.New(meta, fmt.Sprintf("HorizontalPodAutoscaler %s/%s runs %s at its maxReplicas %d and wants more: %s",
			hpa.Namespace, hpa.Name, target.Describe(), hpa.Spec.MaxReplicas, strings.Join(parts, "; ")), target, ref)
		f.Incident = true
		f.Since = check.Earliest(limited.LastTransitionTime.Time)
		f.Evidence = []string{
			fmt.Sprintf("replicas: current %d, desired %d, minReplicas %d, maxReplicas %d", hpa.Status.CurrentReplicas,
				hpa.Status.DesiredReplicas, ptrOr(hpa.Spec.MinReplicas, 1), hpa.Spec.MaxReplicas),
			conditionLine(limited),
		}
		for _, e := range first(s.WarningEvents("HorizontalPodAutoscaler", hpa.Namespace, hpa.Name), 1) {
			f.Evidence = append(f.Evidence, check.EventLine(&e, s.CollectedAt))
		}
		// At the ratio of the metric furthest above target, the controller would ask for this many.
		wanted := max(int32(math.Ceil(float64(hpa.Status.CurrentReplicas)*worst)), hpa.Spec.MaxReplicas+1)
		f.Fix = []string{
			fmt.Sprintf(`kubectl patch -n %s horizontalpodautoscaler/%s --type=merge -p '{"spec":{"maxReplicas":%d}}'`,
				check.Quote(hpa.Namespace), check.Quote(hpa.Name), wanted) +
				fmt.Sprintf("  # %d replicas at %.0f%% of target is about %d at target; check the nodes have room for them", hpa.Status.CurrentReplicas, worst*100, wanted),
			check.Comment(fmt.Sprintf("or add capacity per pod (more cpu or memory for each replica of %s), or shed load", target.Describe())),
		}
		findings = append(findings, f)
	}
	return findings
}

// reading is one metric of an autoscaler: what it is, its current value against its target.
type reading struct {
	metric, current, target string
	// ratio is current over target; 0 when either is unknown.
	ratio float64
}

func (r reading) String() string {
	return fmt.Sprintf("%s is %s, target %s", r.metric, r.current, r.target)
}

// readings pairs each metric of the spec with its current value in the status.
func readings(hpa *autoscalingv2.HorizontalPodAutoscaler) []reading {
	var out []reading
	for _, spec := range hpa.Spec.Metrics {
		for _, status := range hpa.Status.CurrentMetrics {
			if r, ok := pair(spec, status); ok {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// pair reads a status metric against the spec's metric it reports, if it is that one.
func pair(spec autoscalingv2.MetricSpec, status autoscalingv2.MetricStatus) (reading, bool) {
	if spec.Type != status.Type {
		return reading{}, false
	}
	switch spec.Type {
	case autoscalingv2.ResourceMetricSourceType:
		if spec.Resource == nil || status.Resource == nil || spec.Resource.Name != status.Resource.Name {
			return reading{}, false
		}
		return compare("resource "+string(spec.Resource.Name), spec.Resource.Target, status.Resource.Current), true
	case autoscalingv2.ContainerResourceMetricSourceType:
		s, st := spec.ContainerResource, status.ContainerResource
		if s == nil || st == nil || s.Name != st.Name || s.Container != st.Container {
			return reading{}, false
		}
		return compare(fmt.Sprintf("resource %s of container %s", s.Name, s.Container), s.Target, st.Current), true
	case autoscalingv2.PodsMetricSourceType:
		if spec.Pods == nil || status.Pods == nil || spec.Pods.Metric.Name != status.Pods.Metric.Name {
			return reading{}, false
		}
		return compare("pods metric "+spec.Pods.Metric.Name, spec.Pods.Target, status.Pods.Current), true
	case autoscalingv2.ObjectMetricSourceType:
		s, st := spec.Object, status.Object
		if s == nil || st == nil || s.Metric.Name != st.Metric.Name || s.DescribedObject.Name != st.DescribedObject.Name {
			return reading{}, false
		}
		return compare(fmt.Sprintf("object metric %s of %s/%s", s.Metric.Name, strings.ToLower(s.DescribedObject.Kind), s.DescribedObject.Name),
			s.Target, st.Current), true
	case autoscalingv2.ExternalMetricSourceType:
		if spec.External == nil || status.External == nil || spec.External.Metric.Name != status.External.Metric.Name {
			return reading{}, false
		}
		return compare("external metric "+spec.External.Metric.Name, spec.External.Target, status.External.Current), true
	}
	return reading{}, false
}

// compare reads a current value against a target of the same type, as the controller does:
// a utilization in percent of the pods' requests, an average per pod, or a total value.
func compare(metric string, target autoscalingv2.MetricTarget, current autoscalingv2.MetricValueStatus) reading {
	r := reading{metric: metric, current: "unknown", target: "unknown"}
	switch target.Type {
	case autoscalingv2.UtilizationMetricType:
		if target.AverageUtilization != nil {
			r.target = fmt.Sprintf("%d%% of requests", *target.AverageUtilization)
		}
		if current.AverageUtilization != nil {
			r.current = fmt.Sprintf("%d%% of requests", *current.AverageUtilization)
		}
		if target.AverageUtilization != nil && current.AverageUtilization != nil && *target.AverageUtilization > 0 {
			r.ratio = float64(*current.AverageUtilization) / float64(*target.AverageUtilization)
		}
	case autoscalingv2.AverageValueMetricType:
		r.current, r.target, r.ratio = quantities(current.AverageValue, target.AverageValue, " per pod")
	case autoscalingv2.ValueMetricType:
		r.current, r.target, r.ratio = quantities(current.Value, target.Value, "")
	}
	return r
}

func quantities(current, target *resource.Quantity, unit string) (string, string, float64) {
	c, t, ratio := "unknown", "unknown", 0.0
	if current != nil {
		c = current.String() + unit
	}
	if target != nil {
		t = target.String() + unit
	}
	if current != nil && target != nil && target.Sign() > 0 {
		ratio = current.AsApproximateFloat64() / target.AsApproximateFloat64()
	}
	return c, t, ratio
}

func conditionLine(c *autoscalingv2.HorizontalPodAutoscalerCondition) string {
	line := fmt.Sprintf("%s=%s (%s)", c.Type, c.Status, c.Reason)
	if c.Message != "" {
		line += ": " + check.OneLine(c.Message, 240)
	}
	return line
}
