package connect

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/restmapper"
)

// Resource resolves a resource as a user names it (pods, deployments.apps: explicitGroup says
// a group was given) to its group and whether it is namespaced, by the server's discovery.
func (t Target) Resource(partial schema.GroupVersionResource, explicitGroup bool) (schema.GroupVersionResource, bool, error) {
	config, err := t.RESTConfig()
	if err == nil {
		var dc discovery.DiscoveryInterface
		if dc, err = discovery.NewDiscoveryClientForConfig(config); err == nil {
			mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
			var gvr schema.GroupVersionResource
			if gvr, err = mapper.ResourceFor(partial); err == nil {
				var gvk schema.GroupVersionKind
				var mapping *meta.RESTMapping
				if gvk, err = mapper.KindFor(gvr); err == nil {
					if mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
						return gvr, mapping.Scope.Name() == meta.RESTScopeNameNamespace, nil
					}
				}
			}
		}
	}
	if gvr, ok := virtualResource(partial, explicitGroup); ok {
		return gvr, false, nil
	}
	return schema.GroupVersionResource{}, false, fmt.Errorf("unknown resource %q on this server: %v", partial.Resource, err)
}

// BuiltinResource resolves a resource without a server, for manifests: among the built-in
// types, core group first.
func BuiltinResource(partial schema.GroupVersionResource, explicitGroup bool) (schema.GroupVersionResource, bool, error) {
	if gvr, ok := virtualResource(partial, explicitGroup); ok {
		return gvr, false, nil
	}
	namespaced := !slices.Contains(clusterScopedBuiltins(), partial.Resource)
	if explicitGroup {
		return partial, namespaced, nil
	}
	var groups []string
	for gvk := range clientgoscheme.Scheme.AllKnownTypes() {
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		if plural.Resource == partial.Resource && !slices.Contains(groups, gvk.Group) {
			groups = append(groups, gvk.Group)
		}
	}
	if len(groups) == 0 {
		return schema.GroupVersionResource{}, false, fmt.Errorf("unknown resource %q: name its group, as in widgets.example.com", partial.Resource)
	}
	slices.Sort(groups) // "" (core) sorts first
	return schema.GroupVersionResource{Group: groups[0], Resource: partial.Resource}, namespaced, nil
}

// clusterScopedBuiltins are the built-in resources that live in no namespace; without a server
// to ask, they tell where a request for manifests is made.
func clusterScopedBuiltins() []string {
	return []string{"apiservices", "certificatesigningrequests", "clusterrolebindings", "clusterroles", "componentstatuses",
		"csidrivers", "csinodes", "customresourcedefinitions", "deviceclasses", "flowschemas", "ingressclasses", "ipaddresses",
		"mutatingadmissionpolicies", "mutatingadmissionpolicybindings", "mutatingwebhookconfigurations", "namespaces", "nodes",
		"persistentvolumes", "priorityclasses", "prioritylevelconfigurations", "runtimeclasses", "selfsubjectaccessreviews",
		"selfsubjectreviews", "selfsubjectrulesreviews", "servicecidrs", "storageclasses", "subjectaccessreviews", "tokenreviews",
		"validatingadmissionpolicies", "validatingadmissionpolicybindings", "validatingwebhookconfigurations", "volumeattachments"}
}

// virtualResource knows the resources RBAC names that no API serves as objects: the targets of
// impersonation and the certificate signers. They are cluster-wide.
func virtualResource(partial schema.GroupVersionResource, explicitGroup bool) (schema.GroupVersionResource, bool) {
	groups := map[string]string{"users": "", "groups": "", "userextras": "authentication.k8s.io", "uids": "authentication.k8s.io",
		"signers": "certificates.k8s.io"}
	group, ok := groups[partial.Resource]
	if !ok || (explicitGroup && partial.Group != group) {
		return schema.GroupVersionResource{}, false
	}
	return schema.GroupVersionResource{Group: group, Resource: partial.Resource}, true
}
