//go:build e2e

package cmd

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/serve"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	"github.com/alertmend/kubectl-alertmend/pkg/watch"
)

// deploy/watch.yaml, applied as written with deploy/rbac.yaml: the API server stores a locked-down
// Deployment of one watch serving on the port its probes and its Service's scrape annotations
// name, at the paths pkg/serve answers; its ServiceAccount may list and watch every kind a watch
// reads; and the tool finds no fault with any of it.
func TestDeployWatchManifestApplies(t *testing.T) {
	ctx := context.Background()
	applyDeployManifest(t, "watch.yaml")

	deployment, err := cluster.Client.AppsV1().Deployments("alertmend").Get(ctx, "alertmend-watch", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if deref(deployment.Spec.Replicas, 0) != 1 || deployment.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %v, strategy %s: want one watcher at a time", deref(deployment.Spec.Replicas, 0), deployment.Spec.Strategy.Type)
	}
	template := deployment.Spec.Template
	c := assertLockedDownPod(t, template.Spec)
	if len(c.Args) < 3 || c.Args[0] != "diagnose" || !slices.Contains(c.Args, "--watch") || !slices.Contains(c.Args, "--listen=:8080") {
		t.Fatalf("args %q: want diagnose --watch --listen=:8080", c.Args)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v: want metrics, 8080, what --listen binds", c.Ports)
	}
	metricsPort := intstr.FromString("metrics")
	live, ready := c.LivenessProbe, c.ReadinessProbe
	if live == nil || live.HTTPGet == nil || live.HTTPGet.Port != metricsPort || ready == nil || ready.HTTPGet == nil || ready.HTTPGet.Port != metricsPort {
		t.Fatalf("probes: liveness %+v, readiness %+v: want HTTP GETs on the metrics port", live, ready)
	}
	// Sized above the 637 MiB a 10,000-pod run peaked at, with room for the soft limit (three
	// quarters of the limit) to sit above it, and within twice the request (memory-overcommit).
	limit, request := c.Resources.Limits.Memory(), c.Resources.Requests.Memory()
	if limit.Value()*3/4 < 637<<20 || request.Value()*2 < limit.Value() || request.Cmp(*limit) > 0 || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources %+v", c.Resources)
	}

	// The namespace enforces the restricted Pod Security Standard: the pod the ReplicaSet would
	// create is admitted, and the same pod allowed to run as root is not (so the admission is on).
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "alertmend-watch-admitted", Labels: template.Labels}, Spec: template.Spec}
	if _, err := cluster.Client.CoreV1().Pods("alertmend").Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("the Deployment's pod is refused: %v", err)
	}
	root := pod.DeepCopy()
	root.Spec.SecurityContext.RunAsNonRoot = nil
	if _, err := cluster.Client.CoreV1().Pods("alertmend").Create(ctx, root, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil ||
		!strings.Contains(err.Error(), "restricted") {
		t.Errorf("the Deployment's pod without runAsNonRoot: %v, want it refused by the restricted level", err)
	}

	service, err := cluster.Client.CoreV1().Services("alertmend").Get(ctx, "alertmend-watch", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	selector := labels.SelectorFromSet(service.Spec.Selector)
	if !selector.Matches(labels.Set(template.Labels)) || selector.Matches(labels.Set{"app.kubernetes.io/name": "kubectl-alertmend"}) {
		t.Errorf("the Service selects %v: want the watch's pods (%v) and not the CronJob's", service.Spec.Selector, template.Labels)
	}
	annotations := service.Annotations
	if len(service.Spec.Ports) != 1 || service.Spec.Ports[0].TargetPort != metricsPort ||
		annotations["prometheus.io/scrape"] != "true" || annotations["prometheus.io/port"] != strconv.Itoa(int(c.Ports[0].ContainerPort)) {
		t.Errorf("the Service's ports %+v and annotations %v do not lead a scrape to the metrics port", service.Spec.Ports, annotations)
	}

	// The paths the manifest names are the ones the server answers, as it answers them.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	server := serve.New(listener, serve.Options{})
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		server.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get(live.HTTPGet.Path); code != http.StatusOK {
		t.Errorf("liveness %s: %d", live.HTTPGet.Path, code)
	}
	if code, _ := get(ready.HTTPGet.Path); code != http.StatusServiceUnavailable {
		t.Errorf("readiness %s before the first evaluation: %d, want 503", ready.HTTPGet.Path, code)
	}
	rep := admin(t, "diagnose", "-o", "json").report(t)
	server.Observe(watch.Evaluation{At: rep.Metadata.GeneratedAt, Report: rep})
	if code, _ := get(ready.HTTPGet.Path); code != http.StatusOK {
		t.Errorf("readiness %s after an evaluation: %d, want 200", ready.HTTPGet.Path, code)
	}
	if code, body := get(annotations["prometheus.io/path"]); code != http.StatusOK || !strings.Contains(body, "\nalertmend_checks_run "+strconv.Itoa(rep.Summary.ChecksRun)+"\n") {
		t.Errorf("prometheus.io/path %q: %d\n%s", annotations["prometheus.io/path"], code, body)
	}

	// The ServiceAccount may list and watch every object kind (the metrics API, which a watch
	// re-reads, only list), as the API server's authorizer judges it.
	account := []string{"system:serviceaccounts", "system:serviceaccounts:alertmend", "system:authenticated"}
	may := func(verb, group, resource, namespace string) (bool, string) {
		t.Helper()
		review, err := cluster.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: "system:serviceaccount:alertmend:alertmend", Groups: account,
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Namespace: namespace}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return review.Status.Allowed, review.Status.Reason
	}
	for _, denied := range [][2]string{{"watch", "secrets"}, {"list", "secrets"}, {"delete", "pods"}, {"watch", "configmaps"}} {
		if allowed, reason := may(denied[0], "", denied[1], "shop"); allowed {
			t.Errorf("the ServiceAccount may %s %s in shop: %s", denied[0], denied[1], reason)
		}
	}
	for _, k := range snapshot.AllKinds() {
		info := k.Info()
		if info.Probe {
			continue
		}
		namespace := ""
		if k == snapshot.KindConfigMaps {
			namespace = "kube-system"
		}
		verbs := []string{"list", "watch"}
		if k == snapshot.KindPodMetrics {
			verbs = verbs[:1]
		}
		for _, verb := range verbs {
			if allowed, reason := may(verb, info.Group, info.Resource, namespace); !allowed {
				t.Errorf("the ServiceAccount may not %s %s: %s", verb, k, reason)
			}
		}
	}

	// Nor does the tool find fault with how the watch is deployed. This control plane runs no
	// controller-manager, so the Deployment never has a pod: what the checks of live status, and
	// the Service's check of the pods it selects, say about that is the test's cluster, not the
	// manifest.
	liveOnly := map[string]bool{}
	for _, c := range checks.All(checks.DefaultOptions()) {
		liveOnly[c.Meta().ID] = c.Meta().LiveOnly
	}
	for _, f := range rep.Findings {
		if liveOnly[f.Check] || f.Check == "service-selector-no-match" && strings.Contains(f.Message, "but no pod of it runs") {
			continue
		}
		for _, o := range f.Objects {
			if o.Namespace == "alertmend" || strings.HasPrefix(o.Name, "alertmend") {
				t.Errorf("%s about %s: %s", f.Check, o, f.Message)
			}
		}
	}
	if ne := notEvaluatedChecks(rep); len(rep.Findings) == 0 || rep.Summary.ChecksRun == 0 {
		t.Errorf("the administrator's report has %d findings from %d checks (not evaluated %q): the scenario is missing",
			len(rep.Findings), rep.Summary.ChecksRun, ne)
	}
}
