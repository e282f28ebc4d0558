package snapshot

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// kindData is how the table reaches and handles one kind's data in a Snapshot.
type kindData interface {
	// field points at the kind's field of s (a *[]corev1.Pod, a *string, ...), for encoding/json.
	field(s *Snapshot) any
	// sortIn puts the kind's data in s into its stable order.
	sortIn(s *Snapshot)
	// record copies the kind's data from src to dst as a snapshot file keeps it.
	record(dst, src *Snapshot, keep []ConfigMapKey)
}

// objectData is a kind of Kubernetes objects, listed from the API server or read from manifests.
type objectData interface {
	kindData
	count(s *Snapshot) int
	// add keeps a decoded manifest object; one of another Go type (an older version of the
	// kind, kept in another shape) is not the kind's and is left out.
	add(l *Loader, k Kind, obj runtime.Object, origin Origin) error
	index(s *Snapshot, objectKind string, into map[objectKey]metav1.Object)
	list(s *Snapshot) ObjectList
	keepsChangeTimes() bool
}

// objectKind is the objectData of objects of type T, listed as L (e.g. corev1.Pod in
// corev1.PodList).
type objectKind[L any, T any, PL interface {
	*L
	runtime.Object
}, PT interface {
	*T
	metav1.Object
}] struct {
	of func(*Snapshot) *[]T
	// podSpec finds the pod spec whose environment values a recording leaves out; nil for none.
	podSpec func(*T) *corev1.PodSpec
	// kept, when set, is what of the objects a recording keeps (ConfigMaps' data the checks read).
	kept func([]T, []ConfigMapKey) []T
	// changeTimes keeps the objects' managedFields in their slim form (SlimManagedFields): who
	// changed them and when, which the changes timeline reads. Other kinds lose them whole.
	changeTimes bool
}

// objects describes the kind held in the field of Snapshot that of points at, listed as an L.
func objects[L any, T any, PL interface {
	*L
	runtime.Object
}, PT interface {
	*T
	metav1.Object
}](of func(*Snapshot) *[]T) objectKind[L, T, PL, PT] {
	return objectKind[L, T, PL, PT]{of: of}
}

func (k objectKind[L, T, PL, PT]) withPodSpec(spec func(*T) *corev1.PodSpec) objectKind[L, T, PL, PT] {
	k.podSpec = spec
	return k
}

func (k objectKind[L, T, PL, PT]) recordedAs(kept func([]T, []ConfigMapKey) []T) objectKind[L, T, PL, PT] {
	k.kept = kept
	return k
}

// keepingChangeTimes keeps the slim managedFields of the kind's objects (see changeTimes).
func (k objectKind[L, T, PL, PT]) keepingChangeTimes() objectKind[L, T, PL, PT] {
	k.changeTimes = true
	return k
}

func (k objectKind[L, T, PL, PT]) keepsChangeTimes() bool { return k.changeTimes }

func (k objectKind[L, T, PL, PT]) field(s *Snapshot) any { return k.of(s) }

func (k objectKind[L, T, PL, PT]) count(s *Snapshot) int { return len(*k.of(s)) }

// sortIn orders objects by namespace/name (by name for cluster-scoped ones). The comparison
// takes the objects where they are: copying a pod for each of n log n comparisons costs more
// than the sorting.
func (k objectKind[L, T, PL, PT]) sortIn(s *Snapshot) {
	items := *k.of(s)
	sort.SliceStable(items, func(i, j int) bool {
		a, b := PT(&items[i]), PT(&items[j])
		return compareQualified(a.GetNamespace(), a.GetName(), b.GetNamespace(), b.GetName()) < 0
	})
}

func (k objectKind[L, T, PL, PT]) record(dst, src *Snapshot, keep []ConfigMapKey) {
	items := *k.of(src)
	if k.kept != nil {
		items = k.kept(items, keep)
	}
	*k.of(dst) = scrubbed[T, PT](items, k.podSpec, k.changeTimes)
}

func (k objectKind[L, T, PL, PT]) add(l *Loader, kind Kind, obj runtime.Object, origin Origin) error {
	o, ok := obj.(PT)
	if !ok {
		return nil
	}
	return keep(l, k.of(l.snap), kind, o, origin)
}

func (k objectKind[L, T, PL, PT]) index(s *Snapshot, objectKind string, into map[objectKey]metav1.Object) {
	items := *k.of(s)
	for i := range items {
		o := PT(&items[i])
		into[objectKey{objectKind, o.GetNamespace(), o.GetName()}] = o
	}
}

func (k objectKind[L, T, PL, PT]) list(s *Snapshot) ObjectList {
	return objectList[L, T, PL, PT]{items: k.of(s), changeTimes: k.changeTimes}
}

// compareQualified orders two objects as their "namespace/name" strings compare, without
// building them: the order snapshots have always had (a namespace that another extends,
// "shop" and "shop-v2", sorts after it, as '-' is before '/').
func compareQualified(namespaceA, nameA, namespaceB, nameB string) int {
	if namespaceA == namespaceB {
		return strings.Compare(nameA, nameB)
	}
	n := min(len(namespaceA), len(namespaceB))
	for i := range n {
		if namespaceA[i] != namespaceB[i] {
			return cmp.Compare(namespaceA[i], namespaceB[i])
		}
	}
	// One namespace begins the other: the shorter one's '/' meets the longer one's next byte.
	switch {
	case len(namespaceA) < len(namespaceB) && namespaceB[n] != '/':
		return cmp.Compare('/', namespaceB[n])
	case len(namespaceB) < len(namespaceA) && namespaceA[n] != '/':
		return cmp.Compare(namespaceA[n], '/')
	}
	// A namespace holding '/', which the API server refuses but a manifest may say.
	return strings.Compare(namespaceA+"/"+nameA, namespaceB+"/"+nameB)
}

// ObjectList is one kind's objects in a snapshot, for the collector, which fills it from the
// pages of a LIST without knowing the kind's Go types.
type ObjectList interface {
	// NewList returns an empty list of the kind (a *corev1.PodList) to decode a page into.
	NewList() runtime.Object
	// Append adds the items of a page NewList made, without their managedFields (no check
	// reads them, and on large clusters they are a large share of memory), and says how many.
	// Kinds whose KindInfo.ChangeTimes is set keep them in their slim form instead.
	Append(page runtime.Object) (int, error)
	// Len is how many objects the snapshot holds; Truncate forgets those past n, to read a
	// list again from its start.
	Len() int
	Truncate(n int)
	// Grow makes room for n more objects, so that a long list is not copied as it grows.
	Grow(n int)
}

// CopyData sets the kind's data in dst to src's (the same objects, not copies of them), and
// what src records of it being unavailable or absent.
func (k Kind) CopyData(dst, src *Snapshot) {
	e, ok := byKind[k]
	if !ok {
		return
	}
	reflect.ValueOf(e.data.field(dst)).Elem().Set(reflect.ValueOf(e.data.field(src)).Elem())
	if reason, unavailable := src.Unavailable[k]; unavailable {
		if src.Absent[k] {
			dst.MarkAbsent(k, reason)
		} else {
			dst.MarkUnavailable(k, reason)
		}
	}
}

// ObjectsIn returns the list of s that holds the kind's objects; false for a probe.
func (k Kind) ObjectsIn(s *Snapshot) (ObjectList, bool) {
	e, ok := byKind[k]
	if !ok {
		return nil, false
	}
	objects, ok := e.data.(objectData)
	if !ok {
		return nil, false
	}
	return objects.list(s), true
}

type objectList[L any, T any, PL interface {
	*L
	runtime.Object
}, PT interface {
	*T
	metav1.Object
}] struct {
	items       *[]T
	changeTimes bool
}

func (o objectList[L, T, PL, PT]) NewList() runtime.Object { return PL(new(L)) }

func (o objectList[L, T, PL, PT]) Append(page runtime.Object) (int, error) {
	list, ok := page.(PL)
	if !ok {
		return 0, fmt.Errorf("a page of %T holds %T", PL(nil), page)
	}
	// Every generated list type keeps its objects in Items; Go's generics cannot name a field.
	items, ok := reflect.ValueOf(list).Elem().FieldByName("Items").Interface().([]T)
	if !ok {
		return 0, fmt.Errorf("%T has no Items of %T", list, *new(T))
	}
	for i := range items {
		obj := PT(&items[i])
		if o.changeTimes {
			obj.SetManagedFields(SlimManagedFields(obj.GetManagedFields()))
		} else {
			obj.SetManagedFields(nil)
		}
	}
	*o.items = append(*o.items, items...)
	return len(items), nil
}

func (o objectList[L, T, PL, PT]) Len() int       { return len(*o.items) }
func (o objectList[L, T, PL, PT]) Truncate(n int) { *o.items = (*o.items)[:n] }
func (o objectList[L, T, PL, PT]) Grow(n int)     { *o.items = slices.Grow(*o.items, n) }

// probeKind is a probe's data: what the collector learns by asking, held as a T.
type probeKind[T any] struct {
	of func(*Snapshot) *T
	// sort puts the data in its stable order; nil when it has none to put.
	sort func(*T)
}

func probe[T any](of func(*Snapshot) *T, sort func(*T)) probeKind[T] {
	return probeKind[T]{of: of, sort: sort}
}

func (p probeKind[T]) field(s *Snapshot) any { return p.of(s) }

func (p probeKind[T]) sortIn(s *Snapshot) {
	if p.sort != nil {
		p.sort(p.of(s))
	}
}

// record keeps a probe's answers whole: they hold no object data.
func (p probeKind[T]) record(dst, src *Snapshot, _ []ConfigMapKey) { *p.of(dst) = *p.of(src) }

// isEmpty tells, as encoding/json's omitempty does, a kind's field with nothing in it.
func isEmpty(field any) bool {
	v := reflect.ValueOf(field).Elem()
	switch v.Kind() {
	case reflect.Slice, reflect.Map, reflect.String:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	}
	return v.IsZero()
}
