package snapshot

import (
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ScaleTarget names the workload an HPA scales as TopOwner names the owner of its pods, so that
// findings about the HPA and about the workload's pods name the same object.
func ScaleTarget(hpa *autoscalingv2.HorizontalPodAutoscaler) Ref {
	t := hpa.Spec.ScaleTargetRef
	if k, ok := KindOf(t.Kind); ok {
		if gv, err := schema.ParseGroupVersion(t.APIVersion); err == nil && gv.Group == k.Info().Group {
			return RefTo(k, hpa.Namespace, t.Name)
		}
	}
	return Ref{APIVersion: t.APIVersion, Kind: t.Kind, Namespace: hpa.Namespace, Name: t.Name}
}

// HPACondition is the HPA's condition of type t; nil when the controller has not set it.
func HPACondition(hpa *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType) *autoscalingv2.HorizontalPodAutoscalerCondition {
	for i := range hpa.Status.Conditions {
		if c := &hpa.Status.Conditions[i]; c.Type == t {
			return c
		}
	}
	return nil
}

// HPAMetricsAPI names the metrics API group (metrics.k8s.io, custom.metrics.k8s.io,
// external.metrics.k8s.io) the HPA controller could not read a metric from, as the reason of
// the HPA's ScalingActive=False condition says; "" when it reads its metrics, or fails for
// another cause (a container without the request a Utilization target is a percentage of).
func HPAMetricsAPI(hpa *autoscalingv2.HorizontalPodAutoscaler) string {
	c := HPACondition(hpa, autoscalingv2.ScalingActive)
	if c == nil || c.Status != corev1.ConditionFalse {
		return ""
	}
	switch c.Reason {
	case "FailedGetResourceMetric", "FailedGetContainerResourceMetric":
		if MissingRequest(c.Message) {
			return ""
		}
		return "metrics.k8s.io"
	case "FailedGetPodsMetric", "FailedGetObjectMetric":
		return "custom.metrics.k8s.io"
	case "FailedGetExternalMetric":
		return "external.metrics.k8s.io"
	}
	return ""
}

// MissingRequest tells the replica calculator's error for a pod without the request a
// Utilization target is a percentage of ("missing request for cpu in container app of Pod
// cart-1", or its pod-level form).
func MissingRequest(message string) bool {
	return strings.Contains(message, "missing request for") || strings.Contains(message, "missing pod-level request for")
}
