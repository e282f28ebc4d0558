package snapshot

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConfigMapMetadata is what the changes timeline needs of a ConfigMap the run did not read whole:
// when it was created and who wrote it when (its managedFields, slimmed as SlimManagedFields
// does). A whole-cluster live run reads every ConfigMap so, as metadata only (never its data),
// since KindConfigMaps reads only the add-on namespaces there.
type ConfigMapMetadata struct {
	Namespace string                      `json:"namespace"`
	Name      string                      `json:"name"`
	Created   metav1.Time                 `json:"created"`
	Writes    []metav1.ManagedFieldsEntry `json:"writes,omitempty"`
}

// ObjectMeta is the metadata as an object's: what the timeline reads of any object it follows.
func (c *ConfigMapMetadata) ObjectMeta() *metav1.ObjectMeta {
	return &metav1.ObjectMeta{Namespace: c.Namespace, Name: c.Name, CreationTimestamp: c.Created, ManagedFields: c.Writes}
}

// ControllerRevision is one revision of a StatefulSet's or DaemonSet's pod template, as the
// controller keeps it in a ControllerRevision (apps/v1), reduced to what the changes timeline
// diffs: the collector keeps only each owner's newest two revisions, and of their templates'
// environment no literal value (see RevisionEnvChanged).
type ControllerRevision struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// OwnerKind, OwnerName and OwnerUID name the controller ("StatefulSet", "DaemonSet").
	OwnerKind string `json:"ownerKind"`
	OwnerName string `json:"ownerName"`
	OwnerUID  string `json:"ownerUID,omitempty"`
	// Revision is the number kubectl rollout undo --to-revision takes.
	Revision int64       `json:"revision"`
	Created  metav1.Time `json:"created"`
	// Template is the pod template the revision holds; nil when its data could not be read.
	Template *corev1.PodTemplateSpec `json:"template,omitempty"`
}

// RevisionEnvChanged stands, in a kept revision's template, for a literal environment value
// that differs from the previous revision's variable of that name: the values themselves are
// never kept (they are too often credentials), and this lets a diff tell that one changed.
const RevisionEnvChanged = "(changed since the previous revision)"
