package snapshot

import (
	"bytes"
	"compress/gzip"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var changedAt = metav1.NewTime(time.Date(2026, 11, 24, 9, 41, 0, 0, time.UTC))

// managedFields as the API server writes them: a field set naming what each manager owns.
func managedFields() []metav1.ManagedFieldsEntry {
	return []metav1.ManagedFieldsEntry{
		{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &changedAt,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{"f:secret-ish-key":{}}}`)}},
		{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Time: &changedAt, Subresource: "status"},
	}
}

func slimManagedFields() []metav1.ManagedFieldsEntry {
	return []metav1.ManagedFieldsEntry{
		{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate, Time: &changedAt},
		{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Time: &changedAt, Subresource: "status"},
	}
}

func TestSlimManagedFields(t *testing.T) {
	if got := SlimManagedFields(managedFields()); !equality.Semantic.DeepEqual(got, slimManagedFields()) {
		t.Errorf("SlimManagedFields = %+v, want %+v", got, slimManagedFields())
	}
	if got := SlimManagedFields(nil); got != nil {
		t.Errorf("SlimManagedFields(nil) = %+v", got)
	}
}

// Listing keeps the slim managedFields of ConfigMaps, NetworkPolicies and webhook
// configurations, and drops every other kind's.
func TestAppendKeepsChangeTimesOfFewKinds(t *testing.T) {
	s := New(SourceCluster)
	meta := func(namespace string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "x", Namespace: namespace, ManagedFields: managedFields()}
	}
	pages := []struct {
		kind Kind
		page runtime.Object
	}{
		{KindConfigMaps, &corev1.ConfigMapList{Items: []corev1.ConfigMap{{ObjectMeta: meta("shop")}}}},
		{KindNetworkPolicies, &networkingv1.NetworkPolicyList{Items: []networkingv1.NetworkPolicy{{ObjectMeta: meta("shop")}}}},
		{KindValidatingWebhookConfigurations, &admissionregistrationv1.ValidatingWebhookConfigurationList{
			Items: []admissionregistrationv1.ValidatingWebhookConfiguration{{ObjectMeta: meta("")}}}},
		{KindMutatingWebhookConfigurations, &admissionregistrationv1.MutatingWebhookConfigurationList{
			Items: []admissionregistrationv1.MutatingWebhookConfiguration{{ObjectMeta: meta("")}}}},
		{KindPods, &corev1.PodList{Items: []corev1.Pod{{ObjectMeta: meta("shop")}}}},
		{KindServices, &corev1.ServiceList{Items: []corev1.Service{{ObjectMeta: meta("shop")}}}},
		{KindNodes, &corev1.NodeList{Items: []corev1.Node{{ObjectMeta: meta("")}}}},
	}
	for _, p := range pages {
		list, _ := p.kind.ObjectsIn(s)
		if _, err := list.Append(p.page); err != nil {
			t.Fatal(p.kind, err)
		}
	}
	s.Finish()
	for _, p := range pages {
		namespace := ""
		if p.kind.Info().Namespaced {
			namespace = "shop"
		}
		obj, ok := s.ObjectMeta(RefTo(p.kind, namespace, "x"))
		if !ok {
			t.Fatalf("%s not found", p.kind)
		}
		got := obj.GetManagedFields()
		switch {
		case p.kind.Info().ChangeTimes && !equality.Semantic.DeepEqual(got, slimManagedFields()):
			t.Errorf("%s: managedFields = %+v, want the slim form", p.kind, got)
		case !p.kind.Info().ChangeTimes && got != nil:
			t.Errorf("%s: managedFields = %+v, want none", p.kind, got)
		}
	}
	var changeTimes []Kind
	for _, k := range AllKinds() {
		if k.Info().ChangeTimes {
			changeTimes = append(changeTimes, k)
		}
	}
	want := []Kind{KindConfigMaps, KindMutatingWebhookConfigurations, KindNetworkPolicies, KindValidatingWebhookConfigurations}
	if !slices.Equal(changeTimes, want) {
		t.Errorf("kinds keeping change times: %v, want %v (memory stays bounded by keeping them only for few, small kinds)", changeTimes, want)
	}
}

// A recording keeps the slim managedFields of the kinds that keep them, and reads them back;
// other kinds' are left out, and a file without them (recorded before) reads as before.
func TestRecordKeepsSlimManagedFields(t *testing.T) {
	s := New(SourceCluster)
	s.CollectedAt = changedAt.Add(time.Hour)
	s.ConfigMaps = []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop", ManagedFields: managedFields()},
		Data: map[string]string{"secret-ish-key": "hunter2"}}}
	s.NetworkPolicies = []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "deny", Namespace: "shop", ManagedFields: managedFields()}}}
	s.ValidatingWebhookConfigurations = []admissionregistrationv1.ValidatingWebhookConfiguration{{ObjectMeta: metav1.ObjectMeta{Name: "policy", ManagedFields: managedFields()}}}
	s.Pods = []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop", ManagedFields: managedFields()}}}
	s.Finish()
	kinds := []Kind{KindConfigMaps, KindNetworkPolicies, KindValidatingWebhookConfigurations, KindPods}
	var buf bytes.Buffer
	if err := Record(s, kinds, nil, "test").Write(&buf); err != nil {
		t.Fatal(err)
	}
	raw, _ := gzip.NewReader(bytes.NewReader(buf.Bytes()))
	var plain bytes.Buffer
	plain.ReadFrom(raw)
	for _, left := range []string{"fieldsV1", "f:secret-ish-key", "hunter2"} {
		if strings.Contains(plain.String(), left) {
			t.Errorf("the recording holds %q", left)
		}
	}
	if !equality.Semantic.DeepEqual(s.ConfigMaps[0].ManagedFields, managedFields()) {
		t.Error("Record changed the snapshot it recorded")
	}
	back, _, err := ReadFile("changes.gz", bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range [][]metav1.ManagedFieldsEntry{back.ConfigMaps[0].ManagedFields, back.NetworkPolicies[0].ManagedFields,
		back.ValidatingWebhookConfigurations[0].ManagedFields} {
		if !equality.Semantic.DeepEqual(got, slimManagedFields()) {
			t.Errorf("read back %+v, want %+v", got, slimManagedFields())
		}
	}
	if back.Pods[0].ManagedFields != nil {
		t.Errorf("a pod's managedFields were recorded: %+v", back.Pods[0].ManagedFields)
	}
}
