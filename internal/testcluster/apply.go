package testcluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Apply creates the objects of a multi-document YAML scenario and then writes their status
// through the status subresource, standing in for the controllers, kubelets and scheduler the
// test control plane does not run. Owner references without a uid are resolved by name, and
// every namespace gets its "default" ServiceAccount, as the controller-manager would do.
func Apply(ctx context.Context, config *rest.Config, manifests []byte) error {
	objects, err := decodeAll(manifests)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	a := &applier{dyn: dyn, mapper: mapper}

	sort.SliceStable(objects, func(i, j int) bool { return applyOrder(objects[i]) < applyOrder(objects[j]) })
	for _, ns := range []string{"default", "kube-system"} {
		if err := a.ensureDefaultServiceAccount(ctx, ns); err != nil {
			return err
		}
	}
	for _, obj := range objects {
		if err := a.apply(ctx, obj); err != nil {
			return fmt.Errorf("%s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
	return nil
}

func decodeAll(manifests []byte) ([]*unstructured.Unstructured, error) {
	var objects []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	for {
		var raw map[string]any
		if err := dec.Decode(&raw); err == io.EOF {
			return objects, nil
		} else if err != nil {
			return nil, err
		}
		if len(raw) == 0 {
			continue
		}
		objects = append(objects, &unstructured.Unstructured{Object: raw})
	}
}

// applyOrder creates what others depend on first: namespaces and accounts, nodes, then
// owners before the objects they own.
func applyOrder(obj *unstructured.Unstructured) int {
	switch obj.GetKind() {
	case "Namespace":
		return 0
	case "ServiceAccount", "Node", "ClusterRole", "Role":
		return 1
	case "Deployment", "StatefulSet", "DaemonSet", "CronJob", "ClusterRoleBinding", "RoleBinding":
		return 2
	case "ReplicaSet", "Job":
		return 3
	case "Pod":
		return 4
	}
	return 2
}

type applier struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

func (a *applier) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace("default")
		}
		return a.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()), nil
	}
	return a.dyn.Resource(mapping.Resource), nil
}

func (a *applier) apply(ctx context.Context, obj *unstructured.Unstructured) error {
	status, hasStatus := obj.Object["status"]
	delete(obj.Object, "status")
	if err := a.resolveOwners(ctx, obj); err != nil {
		return err
	}
	client, err := a.resource(obj)
	if err != nil {
		return err
	}
	created, err := client.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	if obj.GetKind() == "Namespace" {
		if err := a.ensureDefaultServiceAccount(ctx, obj.GetName()); err != nil {
			return err
		}
	}
	if !hasStatus {
		return nil
	}
	created.Object["status"] = status
	_, err = client.UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}

// resolveOwners fills in the uid of owner references that name their owner only by kind and name.
func (a *applier) resolveOwners(ctx context.Context, obj *unstructured.Unstructured) error {
	refs := obj.GetOwnerReferences()
	for i, ref := range refs {
		if ref.UID != "" {
			continue
		}
		owner := &unstructured.Unstructured{}
		owner.SetAPIVersion(ref.APIVersion)
		owner.SetKind(ref.Kind)
		owner.SetNamespace(obj.GetNamespace())
		client, err := a.resource(owner)
		if err != nil {
			return err
		}
		found, err := client.Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("owner %s %s: %w", ref.Kind, ref.Name, err)
		}
		refs[i].UID = found.GetUID()
	}
	obj.SetOwnerReferences(refs)
	return nil
}

func (a *applier) ensureDefaultServiceAccount(ctx context.Context, namespace string) error {
	sa := &unstructured.Unstructured{}
	sa.SetAPIVersion("v1")
	sa.SetKind("ServiceAccount")
	sa.SetName("default")
	sa.SetNamespace(namespace)
	client := a.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}).Namespace(namespace)
	_, err := client.Create(ctx, sa, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
