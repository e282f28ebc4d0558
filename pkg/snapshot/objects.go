package snapshot

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type objectIndexKey struct{}

// ObjectMeta finds the metadata (labels, annotations) of an object a finding names. Findings
// may name things the snapshot does not hold (RBAC users and groups); those are not found.
func (s *Snapshot) ObjectMeta(r Ref) (metav1.Object, bool) {
	index := Derived(s, objectIndexKey{}, s.indexObjects)
	o, ok := index[objectKey{r.Kind, r.Namespace, r.Name}]
	return o, ok
}

// NamespacesOf lists, sorted, the namespaces holding an object of objectKind (e.g. "Deployment")
// named name.
func (s *Snapshot) NamespacesOf(objectKind, name string) []string {
	var out []string
	for key := range Derived(s, objectIndexKey{}, s.indexObjects) {
		if key.kind == objectKind && key.name == name && key.namespace != "" {
			out = append(out, key.namespace)
		}
	}
	slices.Sort(out)
	return out
}

// KindsNamed lists, sorted, the kinds of the objects named name in namespace ("" for
// cluster-scoped objects).
func (s *Snapshot) KindsNamed(namespace, name string) []string {
	var out []string
	for key := range Derived(s, objectIndexKey{}, s.indexObjects) {
		if key.namespace == namespace && key.name == name {
			out = append(out, key.kind)
		}
	}
	slices.Sort(out)
	return out
}

// objectKey leaves the API version out: a finding may name an object by another version of
// its group than the one it was read as.
type objectKey struct{ kind, namespace, name string }

func (s *Snapshot) indexObjects() map[objectKey]metav1.Object {
	index := map[objectKey]metav1.Object{}
	for _, e := range kindEntries {
		if objects, ok := e.data.(objectData); ok {
			objects.index(s, e.objectKind, index)
		}
	}
	return index
}

// ConfigMapKey names one piece of a ConfigMap's data.
type ConfigMapKey struct {
	Namespace, Name, Key string
}
