package collect

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// metadataOnly asks the API server for a list's metadata alone (PartialObjectMetadataList), as
// protobuf, else as JSON: a ConfigMap's data is not sent (though an annotation may repeat it,
// kubectl's last-applied-configuration: Append keeps none). A server that can do neither
// refuses with 406 rather than send the data.
const metadataOnly = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1," +
	"application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

// metaDecoder reads a JSON PartialObjectMetadataList, which the Kubernetes clientset's scheme
// does not know.
func metaDecoder() runtime.Decoder {
	s := runtime.NewScheme()
	_ = metav1.AddMetaToScheme(s) // registers known types only: it cannot fail
	return serializer.NewCodecFactory(s).UniversalDeserializer()
}

// listConfigMapMetadata reads every ConfigMap's metadata, across all namespaces, keeping of
// each its name, creation time and slim managedFields (snapshot.ConfigMapMetadata).
func (c *collector) listConfigMapMetadata(ctx context.Context) ([]snapshot.ConfigMapMetadata, error) {
	client := c.clients.Kube.CoreV1().RESTClient()
	lister := newPageLister(client, "", "configmaps", func() runtime.Object { return &metav1.PartialObjectMetadataList{} }).
		decodingWith(typedClient{decoder: metaDecoder(), params: scheme.ParameterCodec}).keepingChangeTimes(true).accepting(metadataOnly)
	into := &configMapMetadataList{}
	err := pages(ctx, metav1.ListOptions{Limit: c.opts.ChunkSize}, c.counter(snapshot.KindConfigMapMetadata), lister.list, into)
	return into.items, err
}

// configMapMetadataList keeps the pages of a metadata-only ConfigMap list as pages reads them.
type configMapMetadataList struct{ items []snapshot.ConfigMapMetadata }

func (l *configMapMetadataList) NewList() runtime.Object { return &metav1.PartialObjectMetadataList{} }
func (l *configMapMetadataList) Len() int                { return len(l.items) }
func (l *configMapMetadataList) Truncate(n int)          { l.items = l.items[:n] }
func (l *configMapMetadataList) Grow(n int)              { l.items = slices.Grow(l.items, n) }

func (l *configMapMetadataList) Append(page runtime.Object) (int, error) {
	list, ok := page.(*metav1.PartialObjectMetadataList)
	if !ok {
		return 0, fmt.Errorf("a page of ConfigMap metadata holds %T", page)
	}
	for i := range list.Items {
		m := &list.Items[i]
		l.items = append(l.items, snapshot.ConfigMapMetadata{Namespace: m.Namespace, Name: m.Name, Created: m.CreationTimestamp,
			Writes: snapshot.SlimManagedFields(m.ManagedFields)})
	}
	return len(list.Items), nil
}

// listControllerRevisions reads the ControllerRevisions of namespace ("" for all), keeping of
// each StatefulSet and DaemonSet its newest two revisions, reduced to their pod templates
// (snapshot.ControllerRevision): the timeline diffs the newest against the one before, and a
// revision holds a whole template, too much to keep for every revision of every owner.
func (c *collector) listControllerRevisions(ctx context.Context, namespace string) ([]snapshot.ControllerRevision, error) {
	client := c.clients.Kube.AppsV1().RESTClient()
	lister := newPageLister(client, namespace, "controllerrevisions", func() runtime.Object { return &appsv1.ControllerRevisionList{} })
	into := &revisionList{}
	if err := pages(ctx, metav1.ListOptions{Limit: c.opts.ChunkSize}, c.counter(snapshot.KindControllerRevisions), lister.list, into); err != nil {
		return nil, err
	}
	return into.newestTwo(), nil
}

// revisionList keeps, as pages of ControllerRevisions arrive, each owner's newest two.
type revisionList struct {
	owners map[revisionOwner][]snapshot.ControllerRevision
	read   int
}

type revisionOwner struct{ namespace, kind, name, uid string }

func (l *revisionList) NewList() runtime.Object { return &appsv1.ControllerRevisionList{} }
func (l *revisionList) Len() int                { return l.read }
func (l *revisionList) Grow(int)                {}

// Truncate forgets everything: pages truncates a list to where it started, and this one
// always starts empty.
func (l *revisionList) Truncate(int) { l.owners, l.read = nil, 0 }

func (l *revisionList) Append(page runtime.Object) (int, error) {
	list, ok := page.(*appsv1.ControllerRevisionList)
	if !ok {
		return 0, fmt.Errorf("a page of ControllerRevisions holds %T", page)
	}
	if l.owners == nil {
		l.owners = map[revisionOwner][]snapshot.ControllerRevision{}
	}
	for i := range list.Items {
		r := &list.Items[i]
		owner := metav1.GetControllerOfNoCopy(r)
		if owner == nil || (owner.Kind != "StatefulSet" && owner.Kind != "DaemonSet") {
			continue
		}
		key := revisionOwner{r.Namespace, owner.Kind, owner.Name, string(owner.UID)}
		kept := l.owners[key]
		if len(kept) == 2 && r.Revision <= kept[1].Revision {
			continue // older than both kept: its template is never decoded
		}
		reduced := snapshot.ControllerRevision{Namespace: r.Namespace, Name: r.Name, OwnerKind: owner.Kind, OwnerName: owner.Name,
			OwnerUID: string(owner.UID), Revision: r.Revision, Created: r.CreationTimestamp, Template: revisionTemplate(r.Data.Raw)}
		kept = append(kept, reduced)
		slices.SortFunc(kept, func(a, b snapshot.ControllerRevision) int { return compareRevisions(b, a) })
		l.owners[key] = kept[:min(len(kept), 2)]
	}
	l.read += len(list.Items)
	return len(list.Items), nil
}

// compareRevisions orders revisions by number, then name (two of one number: a collision).
func compareRevisions(a, b snapshot.ControllerRevision) int {
	return cmp.Or(cmp.Compare(a.Revision, b.Revision), cmp.Compare(a.Name, b.Name))
}

// revisionTemplate reads the pod template out of a revision's data: the StatefulSet and
// DaemonSet controllers store a patch that replaces the owner's spec.template,
// {"spec":{"template":{...,"$patch":"replace"}}}. nil when the data is not that.
func revisionTemplate(data []byte) *corev1.PodTemplateSpec {
	var patch struct {
		Spec struct {
			Template *corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if len(data) == 0 || json.Unmarshal(data, &patch) != nil {
		return nil
	}
	return patch.Spec.Template
}

// newestTwo lists the revisions kept, with no literal environment value left in them: each
// differing from the older revision's is replaced by snapshot.RevisionEnvChanged, so that a
// diff still tells which changed.
func (l *revisionList) newestTwo() []snapshot.ControllerRevision {
	var out []snapshot.ControllerRevision
	for _, kept := range l.owners {
		var older *corev1.PodTemplateSpec
		if len(kept) == 2 {
			older = kept[1].Template
		}
		markChangedValues(kept[0].Template, older)
		for i := 1; i < len(kept); i++ {
			markChangedValues(kept[i].Template, nil)
		}
		out = append(out, kept...)
	}
	slices.SortFunc(out, func(a, b snapshot.ControllerRevision) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// markChangedValues replaces each literal value of newer's environment by the marker where
// older's same variable (same container) had another value, and by nothing elsewhere. older's
// values are read before they are cleared: markChangedValues(newer, older) comes first.
func markChangedValues(newer, older *corev1.PodTemplateSpec) {
	if newer == nil {
		return
	}
	type variable struct{ container, name string }
	before := map[variable]string{}
	if older != nil {
		for _, c := range slices.Concat(older.Spec.InitContainers, older.Spec.Containers) {
			for _, e := range c.Env {
				before[variable{c.Name, e.Name}] = e.Value
			}
		}
	}
	for _, containers := range [][]corev1.Container{newer.Spec.InitContainers, newer.Spec.Containers} {
		for i := range containers {
			c := &containers[i]
			for j := range c.Env {
				e := &c.Env[j]
				was, existed := before[variable{c.Name, e.Name}]
				if existed && was != e.Value {
					e.Value = snapshot.RevisionEnvChanged
				} else {
					e.Value = ""
				}
			}
		}
	}
}
