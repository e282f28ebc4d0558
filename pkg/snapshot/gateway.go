package snapshot

// HTTPRoute is the part of a Gateway API HTTPRoute (gateway.networking.k8s.io/v1) that the
// traffic checks follow: where its rules send requests. The collector reads it as JSON into
// this shape rather than through the Gateway API's Go types, which would bring in a module for
// a handful of fields; where the API server does not serve the Gateway API, it is absent.
type HTTPRoute struct {
	Namespace string           `json:"namespace"`
	Name      string           `json:"name"`
	Rules     []HTTPRouteRules `json:"rules,omitempty"`
}

// HTTPRouteRules are the backends of one rule of a route.
type HTTPRouteRules struct {
	BackendRefs []HTTPBackendRef `json:"backendRefs,omitempty"`
}

// HTTPBackendRef names one backend: a Service unless Group or Kind say otherwise, in the
// route's namespace unless Namespace says otherwise.
type HTTPBackendRef struct {
	Group     *string `json:"group,omitempty"`
	Kind      *string `json:"kind,omitempty"`
	Name      string  `json:"name"`
	Namespace *string `json:"namespace,omitempty"`
	Port      *int32  `json:"port,omitempty"`
}

// GatewayGroupVersion is the Gateway API version whose HTTPRoutes are read.
const GatewayGroupVersion = "gateway.networking.k8s.io/v1"
