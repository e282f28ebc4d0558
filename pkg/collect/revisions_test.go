package collect

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// revisionData is a ControllerRevision's data as the StatefulSet and DaemonSet controllers
// write it: a patch replacing the owner's spec.template.
func revisionData(t *testing.T, image, password string) runtime.RawExtension {
	t.Helper()
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: image,
		Env: []corev1.EnvVar{{Name: "PASSWORD", Value: password}, {Name: "MODE", Value: "primary"}}}}}}
	raw, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	var template map[string]any
	if err := json.Unmarshal(raw, &template); err != nil {
		t.Fatal(err)
	}
	template["$patch"] = "replace"
	data, err := json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
	if err != nil {
		t.Fatal(err)
	}
	return runtime.RawExtension{Raw: data}
}

func controllerRevision(t *testing.T, kind, owner string, revision int64, image, password string) appsv1.ControllerRevision {
	controller := true
	return appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: fmt.Sprintf("%s-%d", owner, revision),
		OwnerReferences: []metav1.OwnerReference{{Kind: kind, Name: owner, UID: types.UID("uid-" + owner), Controller: &controller}}},
		Revision: revision, Data: revisionData(t, image, password)}
}

// Of each owner's revisions, in pages and in any order, the newest two are kept, with their
// templates and no environment value: the one that changed is marked so.
func TestRevisionListKeepsTheNewestTwoWithoutValues(t *testing.T) {
	var l revisionList
	pages := [][]appsv1.ControllerRevision{
		{controllerRevision(t, "StatefulSet", "db", 3, "db:3", "third"), controllerRevision(t, "StatefulSet", "db", 1, "db:1", "first"),
			controllerRevision(t, "DaemonSet", "agent", 1, "agent:1", "x")},
		{controllerRevision(t, "StatefulSet", "db", 2, "db:2", "first"), controllerRevision(t, "StatefulSet", "db", 4, "db:4", "fourth"),
			// Another kind's revisions (an operator's), not a StatefulSet's or a DaemonSet's.
			controllerRevision(t, "CloneSet", "db", 9, "db:9", "x")},
	}
	for _, page := range pages {
		if n, err := l.Append(&appsv1.ControllerRevisionList{Items: page}); err != nil || n != len(page) {
			t.Fatalf("Append: %d, %v", n, err)
		}
	}
	var got []string
	for _, r := range l.newestTwo() {
		c := r.Template.Spec.Containers[0]
		got = append(got, fmt.Sprintf("%s %s/%s %d %s %s=%q %s=%q", r.Name, r.OwnerKind, r.OwnerName, r.Revision, c.Image,
			c.Env[0].Name, c.Env[0].Value, c.Env[1].Name, c.Env[1].Value))
	}
	want := []string{
		`agent-1 DaemonSet/agent 1 agent:1 PASSWORD="" MODE=""`,
		`db-3 StatefulSet/db 3 db:3 PASSWORD="" MODE=""`,
		`db-4 StatefulSet/db 4 db:4 PASSWORD="` + snapshot.RevisionEnvChanged + `" MODE=""`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kept\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	l.Truncate(0)
	if l.Len() != 0 || len(l.newestTwo()) != 0 {
		t.Error("Truncate(0) kept revisions")
	}
}

// Data that is not a template patch leaves the revision without a template, not the run.
func TestRevisionTemplateOfOtherData(t *testing.T) {
	for _, data := range []string{"", "{", `{"spec":{}}`, `[1]`} {
		if tmpl := revisionTemplate([]byte(data)); tmpl != nil {
			t.Errorf("revisionTemplate(%q) = %+v", data, tmpl)
		}
	}
}

// A metadata page keeps each ConfigMap's name, creation and writers, slimmed.
func TestConfigMapMetadataList(t *testing.T) {
	var l configMapMetadataList
	at := metav1.Now()
	page := &metav1.PartialObjectMetadataList{Items: []metav1.PartialObjectMetadata{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-config",
		Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"k":"v"}}`},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate, Time: &at, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}}}}}}}
	if n, err := l.Append(page); n != 1 || err != nil {
		t.Fatalf("Append: %d, %v", n, err)
	}
	got := l.items[0]
	if got.Namespace != "shop" || got.Name != "cart-config" || len(got.Writes) != 1 || got.Writes[0].Manager != "helm" || got.Writes[0].FieldsV1 != nil {
		t.Errorf("kept %+v", got)
	}
	if _, err := l.Append(&appsv1.ControllerRevisionList{}); err == nil {
		t.Error("a page of another list was taken")
	}
}
