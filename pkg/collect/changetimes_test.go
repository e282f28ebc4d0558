package collect

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kinds that keep who changed them lose only the field sets of their managedFields before
// decoding: the entries' manager, operation, time and subresource come through, and everything
// else of the object is as the server sent it.
func TestUnmarshalWithoutFieldSets(t *testing.T) {
	when := metav1.NewTime(time.Date(2026, 3, 1, 9, 41, 0, 0, time.UTC))
	served := &corev1.ConfigMapList{Items: []corev1.ConfigMap{{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop", Labels: map[string]string{"app": "shop"},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate, Time: &when, FieldsType: "FieldsV1",
					FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{"f:config.yaml":{}}}`)}},
				{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, Time: &when, Subresource: "status"},
			}},
		Data: map[string]string{"config.yaml": "x: 1"},
	}}}
	var got corev1.ConfigMapList
	if ok, _ := unmarshalWithoutFieldSets(protobufBody(t, served), &got, nil); !ok {
		t.Fatal("not decoded")
	}
	if len(got.Items) != 1 {
		t.Fatalf("decoded %d items", len(got.Items))
	}
	cm := got.Items[0]
	if cm.Name != "app" || cm.Labels["app"] != "shop" || cm.Data["config.yaml"] != "x: 1" {
		t.Errorf("the object changed: %+v", cm)
	}
	entries := cm.ManagedFields
	if len(entries) != 2 {
		t.Fatalf("managedFields = %+v, want both entries", entries)
	}
	if e := entries[0]; e.Manager != "helm" || e.Operation != metav1.ManagedFieldsOperationUpdate || !e.Time.Equal(&when) || e.FieldsV1 != nil {
		t.Errorf("first entry = %+v, want helm's update at %s without its field set", e, when)
	}
	if e := entries[1]; e.Manager != "kubectl" || e.Subresource != "status" {
		t.Errorf("second entry = %+v, want kubectl's on status", e)
	}
}
