package snapshot

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TopOwner names the object a person manages for this pod: its Deployment, StatefulSet,
// DaemonSet, ReplicationController, CronJob or Job, or the pod itself when nothing controls it. When the intermediate
// ReplicaSet or Job could not be read, the Deployment is inferred from the pod-template-hash
// naming convention, and otherwise the nearest owner is named.
func (s *Snapshot) TopOwner(pod *corev1.Pod) Ref {
	owner := metav1.GetControllerOfNoCopy(pod)
	// A static pod's mirror is "owned" by its Node; the pod is what a person manages.
	if owner == nil || owner.Kind == "Node" {
		return RefTo(KindPods, pod.Namespace, pod.Name)
	}
	switch owner.Kind {
	case "ReplicaSet":
		if rs, ok := s.replicaSetsByKey[pod.Namespace+"/"+owner.Name]; ok {
			if parent := metav1.GetControllerOfNoCopy(rs); parent != nil {
				return Ref{APIVersion: parent.APIVersion, Kind: parent.Kind, Namespace: pod.Namespace, Name: parent.Name}
			}
			return RefTo(KindReplicaSets, pod.Namespace, rs.Name)
		}
		if hash := pod.Labels["pod-template-hash"]; hash != "" && strings.HasSuffix(owner.Name, "-"+hash) {
			return RefTo(KindDeployments, pod.Namespace, strings.TrimSuffix(owner.Name, "-"+hash))
		}
	case "Job":
		if job, ok := s.jobsByKey[pod.Namespace+"/"+owner.Name]; ok {
			if parent := metav1.GetControllerOfNoCopy(job); parent != nil {
				return Ref{APIVersion: parent.APIVersion, Kind: parent.Kind, Namespace: pod.Namespace, Name: parent.Name}
			}
		}
	}
	return Ref{APIVersion: owner.APIVersion, Kind: owner.Kind, Namespace: pod.Namespace, Name: owner.Name}
}

// ContainerStatuses lists a pod's init container statuses, then its containers'.
func ContainerStatuses(pod *corev1.Pod) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(pod.Status.InitContainerStatuses)+len(pod.Status.ContainerStatuses))
	return append(append(out, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
}
