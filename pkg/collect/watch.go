package collect

import (
	"context"
	"fmt"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// ListWatch lists and watches one object kind the way Collect lists it through its table entry:
// the typed client of its API group version (protobuf where the config asks for it), in
// namespace ("" for all, and ignored for a cluster-scoped kind), selected by fieldSelector.
// Example is an empty object of the kind, for an informer's type checks.
type ListWatch struct {
	Kind    snapshot.Kind
	Example runtime.Object
	List    func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error)
	Watch   func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// NewListWatch is the ListWatch of kind; an error for a kind Collect does not list through its
// table entry (a probe, the metrics API).
func (c Clients) NewListWatch(kind snapshot.Kind, namespace, fieldSelector string) (*ListWatch, error) {
	info := kind.Info()
	if info.Probe || kind == snapshot.KindPodMetrics {
		return nil, fmt.Errorf("%s is not listed as objects of its API group", kind)
	}
	client, err := c.listClient(info.GroupVersion)
	if err != nil {
		return nil, err
	}
	if !info.Namespaced {
		namespace = ""
	}
	into, _ := kind.ObjectsIn(snapshot.New(snapshot.SourceCluster))
	example, err := itemOf(into.NewList())
	if err != nil {
		return nil, err
	}
	params := client.params
	if params == nil {
		params = metav1.ParameterCodec
	}
	request := func(opts metav1.ListOptions) *rest.Request {
		opts.FieldSelector = fieldSelector
		return client.rest.Get().Namespace(namespace).Resource(info.Resource).VersionedParams(&opts, params)
	}
	return &ListWatch{
		Kind:    kind,
		Example: example,
		List: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			list := into.NewList()
			return list, request(opts).Do(ctx).Into(list)
		},
		Watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.Watch = true
			return request(opts).Watch(ctx)
		},
	}, nil
}

// itemOf is an empty item of a generated list type (a *corev1.Pod of a *corev1.PodList).
func itemOf(list runtime.Object) (runtime.Object, error) {
	items := reflect.ValueOf(list).Elem().FieldByName("Items")
	if !items.IsValid() {
		return nil, fmt.Errorf("%T has no Items", list)
	}
	item, ok := reflect.New(items.Type().Elem()).Interface().(runtime.Object)
	if !ok {
		return nil, fmt.Errorf("the items of %T are not objects", list)
	}
	return item, nil
}
