package snapshot

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SlimManagedFields keeps of an object's managedFields who changed it, how and when (manager,
// operation, time, subresource), without the field sets, which are most of their size: the
// changes timeline needs to tell that a ConfigMap was updated by helm ten minutes ago, not which
// keys. nil for none.
func SlimManagedFields(entries []metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
	if len(entries) == 0 {
		return nil
	}
	out := make([]metav1.ManagedFieldsEntry, len(entries))
	for i, e := range entries {
		out[i] = metav1.ManagedFieldsEntry{Manager: e.Manager, Operation: e.Operation, Time: e.Time, Subresource: e.Subresource}
	}
	return out
}
