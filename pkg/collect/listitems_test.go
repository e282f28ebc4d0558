package collect

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The items of the lists BenchmarkDecode decodes as client-go does, to drop their managedFields
// after decoding as the collector once did. (The collector reaches any list's items through
// snapshot.ObjectList.)

func podItems(l *corev1.PodList) ([]corev1.Pod, metav1.ListMeta) { return l.Items, l.ListMeta }

func replicaSetItems(l *appsv1.ReplicaSetList) ([]appsv1.ReplicaSet, metav1.ListMeta) {
	return l.Items, l.ListMeta
}
