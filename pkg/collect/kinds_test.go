package collect

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// everyKindServer answers, for every object kind of the table, the LIST its entry describes
// (group, version, resource, all namespaces; ConfigMaps in kube-system) with one object that
// has managedFields, in protobuf when asked for it; anything else is not found.
type everyKindServer struct {
	t      *testing.T
	codecs serializer.CodecFactory
	log    requestLog
}

func newEveryKindServer(t *testing.T) *everyKindServer {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := metricsv1beta1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := apiregistrationv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return &everyKindServer{t: t, codecs: serializer.NewCodecFactory(s)}
}

func (f *everyKindServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.log.mu.Lock()
	f.log.requests = append(f.log.requests, r.Method+" "+r.URL.RequestURI())
	f.log.mu.Unlock()
	for _, k := range snapshot.AllKinds() {
		info := k.Info()
		if info.Probe || r.Method != http.MethodGet || r.URL.Path != listPath(k) {
			continue
		}
		list, _ := k.ObjectsIn(&snapshot.Snapshot{})
		page := list.NewList()
		if err := meta.SetList(page, []runtime.Object{sample(f.t, k, page)}); err != nil {
			f.t.Error(err)
		}
		gv, _ := schema.ParseGroupVersion(info.GroupVersion)
		mediaType := runtime.ContentTypeJSON
		if strings.Contains(r.Header.Get("Accept"), runtime.ContentTypeProtobuf) {
			mediaType = runtime.ContentTypeProtobuf
		}
		codec, _ := runtime.SerializerInfoForMediaType(f.codecs.SupportedMediaTypes(), mediaType)
		var body bytes.Buffer
		if err := f.codecs.EncoderForVersion(codec.Serializer, gv).Encode(page, &body); err != nil {
			f.t.Error(err)
		}
		w.Header().Set("Content-Type", mediaType)
		w.Write(body.Bytes())
		return
	}
	status := apierrors.NewNotFound(schema.GroupResource{Resource: r.URL.Path}, "").Status()
	codec, _ := runtime.SerializerInfoForMediaType(f.codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	var body bytes.Buffer
	f.codecs.EncoderForVersion(codec.Serializer, metav1.SchemeGroupVersion).Encode(&status, &body)
	w.Header().Set("Content-Type", runtime.ContentTypeJSON)
	w.WriteHeader(http.StatusNotFound)
	w.Write(body.Bytes())
}

// listPath is where the API server serves the LIST of kind k the collector makes on a whole
// cluster.
func listPath(k snapshot.Kind) string {
	info := k.Info()
	path := "/apis/" + info.GroupVersion
	if info.Group == "" {
		path = "/api/" + info.GroupVersion
	}
	if k == snapshot.KindConfigMaps {
		return path + "/namespaces/" + snapshot.ClusterDNSNamespaces()[0] + "/configmaps"
	}
	return path + "/" + info.Resource
}

var sampleManagedFields = metav1.ManagedFieldsEntry{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply,
	APIVersion: "v1", Time: &metav1.Time{Time: time.Date(2026, 3, 1, 9, 41, 0, 0, time.UTC)}, FieldsType: "FieldsV1",
	FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{}}`)}}

// sample is one object of the type page's items have, named after k, with managedFields.
func sample(t *testing.T, k snapshot.Kind, page runtime.Object) runtime.Object {
	t.Helper()
	items, err := meta.GetItemsPtr(page)
	if err != nil {
		t.Fatal(err)
	}
	obj := reflect.New(reflect.TypeOf(items).Elem().Elem()).Interface().(runtime.Object)
	accessor, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	accessor.SetName("sample-" + string(k))
	if k.Info().Namespaced {
		accessor.SetNamespace(snapshot.ClusterDNSNamespaces()[0])
	}
	accessor.SetManagedFields([]metav1.ManagedFieldsEntry{sampleManagedFields})
	return obj
}

// Every object kind of the table is listed by the collector, each from where its entry says,
// into its field of the snapshot, without managedFields (but for their slim form, on the kinds
// that keep who changed them): a kind added to the table that the collector cannot list fails here.
func TestEveryListableKindIsCollected(t *testing.T) {
	server := newEveryKindServer(t)
	clients := fakeClients(t, server)
	for _, k := range snapshot.AllKinds() {
		if k.Info().Probe {
			continue
		}
		t.Run(string(k), func(t *testing.T) {
			snap, err := Collect(context.Background(), clients, []snapshot.Kind{k}, Options{ChunkSize: DefaultChunkSize})
			if err != nil {
				t.Fatal(err)
			}
			if why, blind := snap.Unavailable[k]; blind {
				t.Fatalf("not read: %s", why)
			}
			list, _ := k.ObjectsIn(snap)
			want := 1
			if k == snapshot.KindEvents {
				want = 3 // three lists, by field selectors this server does not apply
			}
			if list.Len() != want {
				t.Fatalf("read %d objects, want the one served %d times", list.Len(), want)
			}
			o, found := snap.ObjectMeta(snapshot.RefTo(k, snapshot.ClusterDNSNamespaces()[0], "sample-"+string(k)))
			if !k.Info().Namespaced {
				o, found = snap.ObjectMeta(snapshot.RefTo(k, "", "sample-"+string(k)))
			}
			if !found {
				t.Fatal("the object read is not the one served")
			}
			switch got := o.GetManagedFields(); {
			case k.Info().ChangeTimes:
				want := []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, Time: sampleManagedFields.Time}}
				if !apiequality.Semantic.DeepEqual(got, want) {
					t.Errorf("managedFields = %+v, want only who and when: %+v", got, want)
				}
			case len(got) > 0:
				t.Error("managedFields were kept")
			}
		})
	}
	for _, r := range server.log.matching("") {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("%s: the collector only reads", r)
		}
	}
}
