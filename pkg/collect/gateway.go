package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// httpRoutesPath is where the HTTPRoutes of namespace ("" for all) are listed.
func httpRoutesPath(namespace string) string {
	path := "/apis/" + snapshot.GatewayGroupVersion
	if namespace != "" {
		path += "/namespaces/" + url.PathEscape(namespace)
	}
	return path + "/httproutes"
}

// listHTTPRoutes reads the Gateway API's HTTPRoutes page by page, as JSON (a custom resource has
// no protobuf form), keeping of each only its backends. Where the API server does not serve the
// Gateway API, the answer is NotFound, and the kind is absent.
func listHTTPRoutes(ctx context.Context, client rest.Interface, namespace string, chunkSize int64) ([]snapshot.HTTPRoute, error) {
	var routes []snapshot.HTTPRoute
	next := ""
	for {
		req := client.Get().AbsPath(httpRoutesPath(namespace))
		if chunkSize > 0 {
			req = req.Param("limit", strconv.FormatInt(chunkSize, 10))
		}
		if next != "" {
			req = req.Param("continue", next)
		}
		body, err := req.DoRaw(ctx)
		if err != nil {
			return nil, err
		}
		var page struct {
			Metadata struct {
				Continue string `json:"continue"`
			} `json:"metadata"`
			Items []struct {
				Metadata struct {
					Namespace string `json:"namespace"`
					Name      string `json:"name"`
				} `json:"metadata"`
				Spec struct {
					Rules []snapshot.HTTPRouteRules `json:"rules"`
				} `json:"spec"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("reading HTTPRoutes: %w", err)
		}
		for _, item := range page.Items {
			routes = append(routes, snapshot.HTTPRoute{Namespace: item.Metadata.Namespace, Name: item.Metadata.Name, Rules: item.Spec.Rules})
		}
		if next = page.Metadata.Continue; next == "" {
			return routes, nil
		}
	}
}
