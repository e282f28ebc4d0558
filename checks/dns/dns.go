// Package dns checks the cluster DNS server (CoreDNS, or kube-dns where it still runs) end to
// end: that it is found, serving, resilient, sanely configured and sized for the cluster.
package dns

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const reference = "https://kubernetes.io/docs/tasks/administer-cluster/dns-debugging-resolution/"

// server is the cluster DNS as found in a snapshot: its controller, pods, Service and Corefile.
type server struct {
	ref      snapshot.Ref
	template *corev1.PodTemplateSpec
	selector *metav1.LabelSelector
	// desired and available are the controller's replica counts (for a DaemonSet, the nodes it
	// should run on and those where it is available).
	desired, available int32
	// statusKnown is false for a manifest, which carries no status.
	statusKnown bool
	pods        []*corev1.Pod
	// service is nil when no Service selects the DNS pods.
	service *corev1.Service
	// unavailableSince is when a Deployment's Available condition last turned from True; zero
	// when it is available or nothing records it.
	unavailableSince time.Time
}

// knownDNSNames are the controller names distributions give the cluster DNS server.
func knownDNSNames() []string {
	return []string{"coredns", "kube-dns", "rke2-coredns-rke2-coredns", "dns-default"}
}

func isDNSController(meta metav1.ObjectMeta) bool {
	if !slices.Contains(snapshot.ClusterDNSNamespaces(), meta.Namespace) {
		return false
	}
	switch meta.Labels["k8s-app"] {
	case "kube-dns", "coredns":
		return true
	}
	return slices.Contains(knownDNSNames(), meta.Name)
}

// findServers finds the cluster DNS servers (normally one) in snapshot order; the family's
// checks share the answer, and must not modify it.
func findServers(s *snapshot.Snapshot) []server {
	return snapshot.Derived(s, serversKey{}, func() []server { return lookUpServers(s) })
}

type serversKey struct{}

func lookUpServers(s *snapshot.Snapshot) []server {
	var found []server
	for i := range s.Deployments {
		d := &s.Deployments[i]
		if !isDNSController(d.ObjectMeta) {
			continue
		}
		desired := int32(1)
		if d.Spec.Replicas != nil {
			desired = *d.Spec.Replicas
		}
		srv := server{
			ref:      snapshot.RefTo(snapshot.KindDeployments, d.Namespace, d.Name),
			template: &d.Spec.Template, selector: d.Spec.Selector,
			desired: desired, available: d.Status.AvailableReplicas, statusKnown: hasStatus(d),
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable && cond.Status != corev1.ConditionTrue {
				srv.unavailableSince = cond.LastTransitionTime.Time
			}
		}
		found = append(found, srv)
	}
	for i := range s.DaemonSets {
		ds := &s.DaemonSets[i]
		if !isDNSController(ds.ObjectMeta) {
			continue
		}
		found = append(found, server{
			ref:      snapshot.RefTo(snapshot.KindDaemonSets, ds.Namespace, ds.Name),
			template: &ds.Spec.Template, selector: ds.Spec.Selector,
			desired: ds.Status.DesiredNumberScheduled, available: ds.Status.NumberAvailable,
			statusKnown: ds.Status.ObservedGeneration > 0 || ds.Status.DesiredNumberScheduled > 0,
		})
	}
	// A Deployment scaled to zero beside one that runs is a leftover of a migration (kube-dns
	// kept at zero after CoreDNS took over), not the cluster's DNS.
	if slices.ContainsFunc(found, func(srv server) bool { return srv.desired > 0 }) {
		found = slices.DeleteFunc(found, func(srv server) bool { return srv.desired == 0 && srv.ref.Kind == "Deployment" })
	}
	for i := range found {
		found[i].pods = s.PodsOf(found[i].ref)
		found[i].service = serviceFor(s, &found[i])
	}
	return found
}

// down is a server with no replica serving: none available, or scaled to zero.
func (srv *server) down() bool {
	return (srv.ref.Kind == "Deployment" && srv.desired == 0) || (srv.statusKnown && srv.available == 0 && srv.desired > 0)
}

func hasStatus(d *appsv1.Deployment) bool {
	return d.Status.ObservedGeneration > 0 || d.Status.Replicas > 0 || len(d.Status.Conditions) > 0
}

// serviceFor is the Service in front of the DNS pods: one whose selector matches their labels,
// preferring the conventional name kube-dns.
func serviceFor(s *snapshot.Snapshot, srv *server) *corev1.Service {
	var match *corev1.Service
	for i := range s.Services {
		svc := &s.Services[i]
		if svc.Namespace != srv.ref.Namespace || len(svc.Spec.Selector) == 0 {
			continue
		}
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(srv.template.Labels)) {
			continue
		}
		if svc.Name == "kube-dns" {
			return svc
		}
		if match == nil {
			match = svc
		}
	}
	return match
}

// notEvaluable says why DNS checks cannot look at a live cluster: no DNS server was found
// (dns-not-found reports that). Manifests without a DNS server simply have nothing to judge. A
// run limited to another namespace than the DNS server's never gets here: the checks name the
// DNS namespaces in their ComponentNamespaces, and do not apply to it.
func notEvaluable(s *snapshot.Snapshot) string {
	if s.Source == snapshot.SourceManifests {
		return ""
	}
	if len(findServers(s)) == 0 {
		return "no cluster DNS server was found (see dns-not-found)"
	}
	return ""
}

// dnsContainer is the container that serves DNS: CoreDNS or kube-dns, else the first.
func dnsContainer(template *corev1.PodTemplateSpec) *corev1.Container {
	containers := template.Spec.Containers
	for i := range containers {
		if isCoreDNSContainer(&containers[i]) || strings.Contains(containers[i].Image, "kube-dns") {
			return &containers[i]
		}
	}
	if len(containers) == 0 {
		return nil
	}
	return &containers[0]
}

func isCoreDNSImage(image string) bool { return strings.Contains(image, "coredns") }

// isCoreDNSContainer tells CoreDNS by its image or, where a distribution builds its own image
// under another name (OpenShift), by its command or its -conf argument.
func isCoreDNSContainer(c *corev1.Container) bool {
	if isCoreDNSImage(c.Image) || slices.Contains(c.Args, "-conf") {
		return true
	}
	return len(c.Command) > 0 && path.Base(c.Command[0]) == "coredns"
}

// isCoreDNS tells CoreDNS from the older kube-dns (dnsmasq), which has no Corefile.
func (srv *server) isCoreDNS() bool {
	c := dnsContainer(srv.template)
	return c != nil && isCoreDNSContainer(c)
}

// coreDNSVersion is the version in the CoreDNS image tag ("1.11.1" from ".../coredns:v1.11.1"),
// or "" when the tag does not say.
func (srv *server) coreDNSVersion() string {
	c := dnsContainer(srv.template)
	if c == nil || !isCoreDNSImage(c.Image) {
		return ""
	}
	image := c.Image
	if at := strings.Index(image, "@"); at >= 0 {
		image = image[:at]
	}
	colon := strings.LastIndex(image, ":")
	if colon < 0 || strings.Contains(image[colon:], "/") {
		return ""
	}
	tag := strings.TrimPrefix(image[colon+1:], "v")
	if i := strings.IndexAny(tag, "-_+"); i >= 0 {
		tag = tag[:i] // vendor suffixes such as "-eksbuild.1"
	}
	parts := strings.Split(tag, ".")
	if len(parts) != 3 {
		return ""
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return ""
		}
	}
	return tag
}

// kubectl is the command that applies verb to the server's controller.
func (srv *server) kubectl(verb string) string {
	return fmt.Sprintf("kubectl %s %s", verb, check.InNamespace(srv.ref))
}

// podLabels are the labels that select the server's pods, for the selectors of fixes (kubectl -l,
// a PodDisruptionBudget, a spread constraint): the controller's own matchLabels where it has them,
// else the template's k8s-app label.
func (srv *server) podLabels() map[string]string {
	if srv.selector != nil && len(srv.selector.MatchLabels) > 0 && len(srv.selector.MatchExpressions) == 0 {
		return srv.selector.MatchLabels
	}
	if v := srv.template.Labels["k8s-app"]; v != "" {
		return map[string]string{"k8s-app": v}
	}
	return srv.template.Labels
}

// podSelector is podLabels as kubectl -l takes it, quoted.
func (srv *server) podSelector() string {
	return check.Quote(labels.SelectorFromSet(srv.podLabels()).String())
}

// logs is the command that shows why the DNS container fails: the previous run of the first pod
// where it ended, else the current run of the first pod not ready. kubectl logs of the controller
// would pick a ready pod, which may have no previous run to show.
func (srv *server) logs() string {
	var container *corev1.Container
	flag := ""
	if container = dnsContainer(srv.template); container != nil {
		flag = " -c " + check.Quote(container.Name)
	}
	var notReady *corev1.Pod
	for _, pod := range srv.pods {
		if !snapshot.IsLive(pod) {
			continue
		}
		for _, cs := range snapshot.ContainerStatuses(pod) {
			if cs.LastTerminationState.Terminated != nil && (container == nil || cs.Name == container.Name) {
				return fmt.Sprintf("kubectl logs -n %s %s%s --previous", check.Quote(pod.Namespace), check.Quote(pod.Name), flag)
			}
		}
		if notReady == nil && !snapshot.PodReady(pod) {
			notReady = pod
		}
	}
	if notReady != nil {
		return fmt.Sprintf("kubectl logs -n %s %s%s", check.Quote(notReady.Namespace), check.Quote(notReady.Name), flag)
	}
	return "kubectl logs " + check.InNamespace(srv.ref) + flag
}

// Checks is every check of the family, as the catalog lists it.
func Checks() []check.Check {
	return []check.Check{NotFound{}, Unavailable{}, PodsUnhealthy{}, ServiceNoEndpoints{}, SingleReplica{}, Colocated{},
		NoDisruptionBudget{}, PriorityClass{}, MemoryLimitLow{}, CorefileInvalid{}, NoCache{}, NoLoop{},
		ProbePluginMissing{}, ForwardLoopback{}, ForwardLoopRisk{}, RemovedPlugin{}, NodeLocalMissing{}, NdotsHigh{},
		NdotsDefaultAtScale{}, ServfailRatio{}, ForwardUnhealthy{}}
}
