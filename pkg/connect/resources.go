package connect

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/alertmend/kubectl-alertmend/pkg/suggest"
)

// Resource resolves a resource as a user names it (pods, deployments.apps: explicitGroup says
// a group was given) to its group and whether it is namespaced, by the server's discovery. The
// server is reached first, as c says, so that discovery does not stand for an unreachable one.
func (t Target) Resource(ctx context.Context, partial schema.GroupVersionResource, explicitGroup bool, c Contact) (schema.GroupVersionResource, bool, error) {
	config, err := t.RESTConfig()
	if err != nil {
		return schema.GroupVersionResource{}, false, err
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return schema.GroupVersionResource{}, false, fmt.Errorf("cannot configure a client for %s: %v", config.Host, err)
	}
	c.Namespace = ""
	if err := Reach(ctx, client, config, c); err != nil {
		return schema.GroupVersionResource{}, false, err
	}
	if config.Timeout == 0 {
		// Discovery takes no context: each of its requests is bounded as the first one was.
		config = rest.CopyConfig(config)
		config.Timeout = c.bound(config)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return schema.GroupVersionResource{}, false, fmt.Errorf("cannot configure a client for %s: %v", config.Host, err)
	}
	cached := memory.NewMemCacheClient(dc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	gvr, err := mapper.ResourceFor(partial)
	if err == nil {
		var gvk schema.GroupVersionKind
		var mapping *meta.RESTMapping
		if gvk, err = mapper.KindFor(gvr); err == nil {
			if mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
				return gvr, mapping.Scope.Name() == meta.RESTScopeNameNamespace, nil
			}
		}
	}
	if gvr, ok := virtualResource(partial, explicitGroup); ok {
		return gvr, false, nil
	}
	if !meta.IsNoMatchError(err) {
		return schema.GroupVersionResource{}, false, fmt.Errorf("cannot tell what resource %q is: discovery on %s failed: %v", partial.Resource, Where(config, c.Context), err)
	}
	// Partial discovery (an aggregated API that does not answer) still names the rest.
	_, lists, _ := cached.ServerGroupsAndResources()
	var names []string
	for _, list := range lists {
		for _, r := range list.APIResources {
			if !strings.Contains(r.Name, "/") {
				names = append(names, r.Name)
			}
		}
	}
	return schema.GroupVersionResource{}, false, fmt.Errorf("unknown resource %s on %s%s", describeResource(partial, explicitGroup),
		Where(config, c.Context), suggest.DidYouMean(partial.Resource, append(names, virtualResources()...)))
}

// describeResource quotes a resource as the user typed it: pods, or deployments.apps.
func describeResource(partial schema.GroupVersionResource, explicitGroup bool) string {
	if explicitGroup {
		return strconv.Quote(partial.Resource + "." + partial.Group)
	}
	return strconv.Quote(partial.Resource)
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
		return schema.GroupVersionResource{}, false, fmt.Errorf("unknown resource %q%s: a custom resource needs its group, as in widgets.example.com",
			partial.Resource, suggest.DidYouMean(partial.Resource, append(builtinResources(), virtualResources()...)))
	}
	slices.Sort(groups) // "" (core) sorts first
	return schema.GroupVersionResource{Group: groups[0], Resource: partial.Resource}, namespaced, nil
}

// builtinResources are the plural names of the built-in types, for suggestions.
func builtinResources() []string {
	var names []string
	for gvk := range clientgoscheme.Scheme.AllKnownTypes() {
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		if !strings.HasSuffix(gvk.Kind, "List") && !slices.Contains(names, plural.Resource) {
			names = append(names, plural.Resource)
		}
	}
	slices.Sort(names)
	return names
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
	group, ok := virtualGroups()[partial.Resource]
	if !ok || (explicitGroup && partial.Group != group) {
		return schema.GroupVersionResource{}, false
	}
	return schema.GroupVersionResource{Group: group, Resource: partial.Resource}, true
}

func virtualGroups() map[string]string {
	return map[string]string{"users": "", "groups": "", "userextras": "authentication.k8s.io", "uids": "authentication.k8s.io",
		"signers": "certificates.k8s.io"}
}

func virtualResources() []string { return slices.Sorted(maps.Keys(virtualGroups())) }
