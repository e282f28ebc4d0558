package traffic

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// backend is one place a route (an Ingress, an HTTPRoute) sends requests: a Service's port.
type backend struct {
	// where names the place in the route: "shop.example/api", "default backend", "rule 2".
	where     string
	namespace string
	service   string
	port      networkingv1.ServiceBackendPort
	// portFix is the command that points the backend at the Service's port when the one it
	// names does not exist.
	portFix func(svc *corev1.Service) string
}

// route gathers the broken backends of one route into one finding.
type route struct {
	objects  []snapshot.Ref
	seen     map[snapshot.Ref]bool
	broken   []string
	evidence []string
	fix      []string
	since    []time.Time
	traced   map[string]bool
}

func newRoute(ref snapshot.Ref) *route {
	return &route{objects: []snapshot.Ref{ref}, seen: map[snapshot.Ref]bool{ref: true}, traced: map[string]bool{}}
}

func (r *route) name(refs ...snapshot.Ref) {
	for _, ref := range refs {
		if !r.seen[ref] {
			r.seen[ref] = true
			r.objects = append(r.objects, ref)
		}
	}
}

// follow walks one backend to its pods and records the first broken hop, if any.
func (r *route) follow(s *snapshot.Snapshot, m *model, b backend) {
	target := fmt.Sprintf("%s -> service %s:%s", b.where, b.service, backendPort(b.port))
	if s.LimitedToNamespace() && b.namespace != s.Namespace {
		return // a route to another namespace's Service, which a run limited by -n did not read
	}
	svc, ok := m.services[nsName{b.namespace, b.service}]
	if !ok {
		if !m.live && !s.Complete {
			return // the Service may be in files that are not in the input
		}
		r.broken = append(r.broken, target+": the Service does not exist")
		r.fix = appendNew(r.fix, fmt.Sprintf("kubectl get services -n %s   # the backend names service %s", check.Quote(b.namespace), check.Quote(b.service)))
		return
	}
	port, ok := servicePort(svc, b.port)
	if !ok {
		r.broken = append(r.broken, fmt.Sprintf("%s: the Service has no such port (its ports: %s)", target, portLabels(svc.Spec.Ports)))
		r.fix = appendNew(r.fix, b.portFix(svc))
		r.name(serviceRef(svc))
		return
	}
	if !judged(svc) {
		return
	}
	h := m.trace(s, svc, []corev1.ServicePort{port})
	if h.kind == hopOK {
		return
	}
	r.broken = append(r.broken, fmt.Sprintf("%s: Service %s %s", target, b.service, h.reason))
	r.name(refs(svc, h)...)
	// Two paths to the same broken Service share its evidence and fixes.
	if key := fmt.Sprintf("%s/%s/%d", b.namespace, b.service, h.kind); !r.traced[key] {
		r.traced[key] = true
		r.evidence = append(r.evidence, h.evidence...)
		r.fix = appendNew(r.fix, h.fix...)
		r.since = append(r.since, h.since)
	}
}

// finding reports the route's broken backends, if it has any: critical on a cluster, where the
// route serves errors now; high in manifests, where it would once applied.
func (r *route) finding(meta check.Meta, m *model, what, servedAt string) (check.Finding, bool) {
	if len(r.broken) == 0 {
		return check.Finding{}, false
	}
	verb := "routes"
	if m.live {
		verb = "serves"
	}
	message := fmt.Sprintf("%s %s %s with no working backend: %s.", what, verb,
		check.Plural(len(r.broken), "path", "paths"), strings.Join(r.broken, "; "))
	f := check.New(meta, message, r.objects...)
	evidence := r.evidence
	if servedAt != "" {
		evidence = append([]string{what + " is served at " + servedAt}, evidence...)
	}
	f.Evidence = check.LimitEvidence(evidence)
	f.Fix = r.fix
	f.Incident = m.live
	if !m.live {
		f.Severity = check.High
	}
	f.Since = check.Earliest(r.since...)
	return f, true
}

func appendNew(list []string, lines ...string) []string {
	for _, l := range lines {
		if !slices.Contains(list, l) {
			list = append(list, l)
		}
	}
	return list
}
