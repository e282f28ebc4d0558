package collect

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// Go's generics cannot reach a struct field, so each list type says where its items are.

func namespaceItems(l *corev1.NamespaceList) ([]corev1.Namespace, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func nodeItems(l *corev1.NodeList) ([]corev1.Node, metav1.ListMeta)    { return l.Items, l.ListMeta }
func eventItems(l *corev1.EventList) ([]corev1.Event, metav1.ListMeta) { return l.Items, l.ListMeta }
func podItems(l *corev1.PodList) ([]corev1.Pod, metav1.ListMeta)       { return l.Items, l.ListMeta }
func deploymentItems(l *appsv1.DeploymentList) ([]appsv1.Deployment, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func replicaSetItems(l *appsv1.ReplicaSetList) ([]appsv1.ReplicaSet, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func statefulSetItems(l *appsv1.StatefulSetList) ([]appsv1.StatefulSet, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func daemonSetItems(l *appsv1.DaemonSetList) ([]appsv1.DaemonSet, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func jobItems(l *batchv1.JobList) ([]batchv1.Job, metav1.ListMeta) { return l.Items, l.ListMeta }
func cronJobItems(l *batchv1.CronJobList) ([]batchv1.CronJob, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func limitRangeItems(l *corev1.LimitRangeList) ([]corev1.LimitRange, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func resourceQuotaItems(l *corev1.ResourceQuotaList) ([]corev1.ResourceQuota, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func podMetricsItems(l *metricsv1beta1.PodMetricsList) ([]metricsv1beta1.PodMetrics, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func clusterRoleBindingItems(l *rbacv1.ClusterRoleBindingList) ([]rbacv1.ClusterRoleBinding, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func roleBindingItems(l *rbacv1.RoleBindingList) ([]rbacv1.RoleBinding, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func clusterRoleItems(l *rbacv1.ClusterRoleList) ([]rbacv1.ClusterRole, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func roleItems(l *rbacv1.RoleList) ([]rbacv1.Role, metav1.ListMeta) { return l.Items, l.ListMeta }
func serviceItems(l *corev1.ServiceList) ([]corev1.Service, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func endpointSliceItems(l *discoveryv1.EndpointSliceList) ([]discoveryv1.EndpointSlice, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func pdbItems(l *policyv1.PodDisruptionBudgetList) ([]policyv1.PodDisruptionBudget, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func configMapItems(l *corev1.ConfigMapList) ([]corev1.ConfigMap, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func networkPolicyItems(l *networkingv1.NetworkPolicyList) ([]networkingv1.NetworkPolicy, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func ingressItems(l *networkingv1.IngressList) ([]networkingv1.Ingress, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
func serviceAccountItems(l *corev1.ServiceAccountList) ([]corev1.ServiceAccount, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
