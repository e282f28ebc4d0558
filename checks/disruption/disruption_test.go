package disruption

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestChecksOnFixtures(t *testing.T) {
	fixture.RunCases(t, check.CategoryCapacity, Checks(), []fixture.Case{
		{Check: DrainBlocked{}, Fixture: "drain-blocked-by-pdb.yaml", Want: []string{
			"high drain-blocked-by-pdb shop/deployment/cart,shop/poddisruptionbudget/cart,node/node-a",
			"high drain-blocked-by-pdb shop/deployment/web,shop/poddisruptionbudget/web,node/node-a",
			"high drain-blocked-by-pdb shop/deployment/api,shop/poddisruptionbudget/api-1,shop/poddisruptionbudget/api-2,node/node-c",
			"high drain-blocked-by-pdb shop/pod/batch-runner,shop/poddisruptionbudget/runner,node/node-a",
		}},
		{Check: HPAAtMax{}, Fixture: "hpa-at-max.yaml", Want: []string{
			"high hpa-at-max shop/deployment/cart,shop/horizontalpodautoscaler/cart",
			"high hpa-at-max shop/deployment/worker,shop/horizontalpodautoscaler/worker",
		}},
		{Check: HPAMetricsUnavailable{}, Fixture: "hpa-metrics-unavailable.yaml", Want: []string{
			"high hpa-metrics-unavailable shop/deployment/cart,shop/horizontalpodautoscaler/cart",
			"high hpa-metrics-unavailable shop/deployment/orders,shop/horizontalpodautoscaler/orders",
			"high hpa-metrics-unavailable shop/deployment/queue,shop/horizontalpodautoscaler/queue",
			"high hpa-metrics-unavailable shop/deployment/search,shop/horizontalpodautoscaler/search",
			"high hpa-metrics-unavailable shop/deployment/gone,shop/horizontalpodautoscaler/gone",
			"high hpa-metrics-unavailable shop/deployment/report,shop/horizontalpodautoscaler/report",
		}},
		// A cluster where nothing is cordoned: no budget holds up anything.
		{Check: DrainBlocked{}, Fixture: "hpa-at-max.yaml"},
	})
}

func TestDrainBlockedSaysWhyAndHow(t *testing.T) {
	findings := DrainBlocked{}.Run(fixture.Load(t, "drain-blocked-by-pdb.yaml"))

	cart := fixture.Find(t, findings, "shop/deployment/cart")
	for _, want := range []string{"allows no disruption while all the pods it needs are healthy",
		"disruptionsAllowed 0, 2 healthy of 2 desired, 2 expected", "the drain of node node-a cannot evict 1 pod of deployment shop/cart"} {
		if !strings.Contains(cart.Message, want) {
			t.Errorf("cart message lacks %q: %s", want, cart.Message)
		}
	}
	if !slices.Contains(cart.Evidence, "node node-a: cordoned (spec.unschedulable) for 120m; 1 pod on it already being deleted") ||
		!slices.Contains(cart.Evidence, "pod shop/cart-7d9f-a on node node-a: Ready") {
		t.Errorf("cart evidence: %q", cart.Evidence)
	}
	if cart.Since == nil || cart.Since.Format("15:04") != "08:00" || !cart.Incident {
		t.Errorf("cart since %v incident %v, want the taint's timeAdded", cart.Since, cart.Incident)
	}
	wantFix := []string{
		"kubectl scale -n shop deployment/cart --replicas=3  # one more than the budget needs healthy: it then allows one eviction",
		`kubectl patch -n shop poddisruptionbudget/cart --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}'  # knowingly: one pod of deployment shop/cart may then be down while the node drains`,
	}
	if !slices.Equal(cart.Fix[:2], wantFix) || !strings.HasPrefix(cart.Fix[2], "# never simply delete the budget") ||
		!strings.HasPrefix(cart.Fix[3], "kubectl drain node-a --ignore-daemonsets") {
		t.Errorf("cart fix:\n%s", strings.Join(cart.Fix, "\n"))
	}

	web := fixture.Find(t, findings, "shop/deployment/web")
	if !strings.Contains(web.Message, "because 1 of its pods is unhealthy (disruptionsAllowed 0, 2 healthy of 3 desired, 3 expected)") {
		t.Errorf("web message: %s", web.Message)
	}
	// Its pod on the node is Ready: letting unhealthy pods be evicted would not move it.
	if !strings.HasPrefix(web.Fix[0], "kubectl get pods -n shop -l app=web -o wide") ||
		slices.ContainsFunc(web.Fix, func(f string) bool { return strings.Contains(f, "AlwaysAllow") }) {
		t.Errorf("web fix:\n%s", strings.Join(web.Fix, "\n"))
	}

	api := fixture.Find(t, findings, "shop/deployment/api")
	if !strings.Contains(api.Message, "2 PodDisruptionBudgets (api-1, api-2) select the same pods") ||
		!strings.Contains(api.Message, "node node-c") {
		t.Errorf("api message: %s", api.Message)
	}
	evidence := strings.Join(api.Evidence, "\n")
	for _, want := range []string{"being removed by the cluster autoscaler (taint ToBeDeletedByClusterAutoscaler)",
		"pod api-6f7a-x: MultiplePodDisruptionBudgets, last: 10m ago, x4", "node node-c: ScaleDown, last: 5m ago: failed to drain the node"} {
		if !strings.Contains(evidence, want) {
			t.Errorf("api evidence lacks %q: %q", want, api.Evidence)
		}
	}

	runner := fixture.Find(t, findings, "shop/pod/batch-runner")
	if !strings.Contains(runner.Message, `cannot be computed (SyncFailed: found no controllers for pod "batch-runner"), so it allows no disruption: the drain of node node-a cannot evict pod shop/batch-runner there`) ||
		!strings.Contains(strings.Join(runner.Evidence, "\n"), "poddisruptionbudget runner: CalculateExpectedPodCountFailed, last: 60s ago, x120") {
		t.Errorf("runner: %s %q", runner.Message, runner.Evidence)
	}
	// kubectl drain refuses a pod no controller owns unless told --force.
	if !slices.ContainsFunc(runner.Fix, func(line string) bool {
		return strings.HasPrefix(line, "kubectl drain node-a --ignore-daemonsets --force ") && strings.Contains(line, "it is not recreated")
	}) {
		t.Errorf("runner's drain lacks --force: %q", runner.Fix)
	}
	for _, f := range findings {
		if f.Objects[0].Name != "batch-runner" && slices.ContainsFunc(f.Fix, func(line string) bool { return strings.Contains(line, "--force") }) {
			t.Errorf("%s: --force where every pod has a controller: %q", f.Objects[0], f.Fix)
		}
	}
}

// A pod that is not Ready on the node is moved by unhealthyPodEvictionPolicy AlwaysAllow, and
// an autoscaler that owns the replicas is the one to raise.
func TestDrainBlockedFixesThroughTheAutoscaler(t *testing.T) {
	s := fixture.Load(t, "drain-blocked-by-pdb.yaml")
	s.Pods[slices.IndexFunc(s.Pods, func(p corePod) bool { return p.Name == "web-5c4b-a" })].Status.Conditions[0].Status = "False"
	s.HorizontalPodAutoscalers = fixture.Load(t, "hpa-at-max.yaml").HorizontalPodAutoscalers[:1] // cart's, minReplicas 2
	findings := DrainBlocked{}.Run(s)
	web := fixture.Find(t, findings, "shop/deployment/web")
	if !slices.Contains(web.Fix, `kubectl patch -n shop poddisruptionbudget/web --type=merge -p '{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}'  # lets drains evict pods that are not Ready; Ready ones stay protected`) {
		t.Errorf("web fix:\n%s", strings.Join(web.Fix, "\n"))
	}
	cart := fixture.Find(t, findings, "shop/deployment/cart")
	if !strings.HasPrefix(cart.Fix[0], `kubectl patch -n shop horizontalpodautoscaler/cart --type=merge -p '{"spec":{"minReplicas":3}}'`) {
		t.Errorf("cart fix:\n%s", strings.Join(cart.Fix, "\n"))
	}
	// An autoscaler capped at the replicas there are: minReplicas alone above maxReplicas is
	// refused by validation, so the patch raises both.
	s.HorizontalPodAutoscalers[0].Spec.MaxReplicas = 2
	cart = fixture.Find(t, DrainBlocked{}.Run(s), "shop/deployment/cart")
	if !strings.HasPrefix(cart.Fix[0], `kubectl patch -n shop horizontalpodautoscaler/cart --type=merge -p '{"spec":{"minReplicas":3,"maxReplicas":3}}'`) {
		t.Errorf("cart fix with maxReplicas 2:\n%s", strings.Join(cart.Fix, "\n"))
	}
}

// A budget whose sync failed keeps a stale status (expectedPods 0 when never computed): the
// integer minAvailable suggested counts the pods it selects, one less than them.
func TestDrainBlockedSyncFailedCountsTheSelectedPods(t *testing.T) {
	s := fixture.Load(t, "drain-blocked-by-pdb.yaml")
	i := slices.IndexFunc(s.Pods, func(p corePod) bool { return p.Name == "batch-runner" })
	for _, name := range []string{"batch-runner-2", "batch-runner-3"} {
		extra := *s.Pods[i].DeepCopy()
		extra.Name = name
		s.Pods = append(s.Pods, extra)
	}
	s.Finish()
	s.ForgetDerived()
	runner := fixture.Find(t, DrainBlocked{}.Run(s), "shop/pod/batch-runner")
	if !strings.Contains(strings.Join(runner.Fix, "\n"), `'{"spec":{"maxUnavailable":null,"minAvailable":2}}'`) {
		t.Errorf("runner fix:\n%s", strings.Join(runner.Fix, "\n"))
	}
}

func TestHPAAtMaxNamesTheMetric(t *testing.T) {
	findings := HPAAtMax{}.Run(fixture.Load(t, "hpa-at-max.yaml"))
	cart := fixture.Find(t, findings, "shop/deployment/cart")
	if want := "HorizontalPodAutoscaler shop/cart runs deployment shop/cart at its maxReplicas 10 and wants more: resource cpu is 145% of requests, target 70% of requests"; cart.Message != want {
		t.Errorf("cart message:\n got %s\nwant %s", cart.Message, want)
	}
	if !strings.HasPrefix(cart.Fix[0], `kubectl patch -n shop horizontalpodautoscaler/cart --type=merge -p '{"spec":{"maxReplicas":21}}'`) {
		t.Errorf("cart fix %q", cart.Fix)
	}
	if cart.Since == nil || cart.Since.Format("15:04") != "09:00" || !slices.Contains(cart.Evidence, "replicas: current 10, desired 10, minReplicas 2, maxReplicas 10") {
		t.Errorf("cart since %v evidence %q", cart.Since, cart.Evidence)
	}
	worker := fixture.Find(t, findings, "shop/deployment/worker")
	if !strings.Contains(worker.Message, "external metric queue_depth is 120 per pod, target 30 per pod") ||
		!strings.Contains(worker.Fix[0], `{"spec":{"maxReplicas":20}}`) {
		t.Errorf("worker: %s %q", worker.Message, worker.Fix)
	}
}

func TestHPAMetricsUnavailableSaysWhichAPI(t *testing.T) {
	findings := HPAMetricsUnavailable{}.Run(fixture.Load(t, "hpa-metrics-unavailable.yaml"))
	for object, want := range map[string][]string{
		"shop/deployment/cart": {"ScalingActive=False (FailedGetResourceMetric)",
			"the metrics API metrics.k8s.io is unavailable: APIService v1beta1.metrics.k8s.io is Available=False (MissingEndpoints)"},
		"shop/deployment/orders": {"no APIService serves the metrics API custom.metrics.k8s.io"},
		"shop/deployment/queue":  {"the metrics API external.metrics.k8s.io is available (APIService v1beta1.external.metrics.k8s.io): it answers, but not for this metric"},
		"shop/deployment/search": {"container search requests no cpu, and utilization is a percentage of requests"},
		"shop/deployment/gone":   {"AbleToScale=False (FailedGetScale)", "deployment shop/gone does not exist"},
		"shop/deployment/report": {"but container report requests no cpu: the controller cannot compute it", "will not scale"},
	} {
		f := fixture.Find(t, findings, object)
		for _, w := range want {
			if !strings.Contains(f.Message, w) {
				t.Errorf("%s message lacks %q: %s", object, w, f.Message)
			}
		}
	}
	cart := fixture.Find(t, findings, "shop/deployment/cart")
	if !strings.Contains(strings.Join(cart.Evidence, "\n"), "newest warning: FailedComputeMetricsReplicas, last: 30s ago, x230: invalid metrics") ||
		cart.Since == nil || !cart.Incident || cart.Fix[0] != "kubectl get apiservice v1beta1.metrics.k8s.io -o yaml" {
		t.Errorf("cart: %q %v %q", cart.Evidence, cart.Since, cart.Fix)
	}
	// The sidecar requests cpu; the init container that runs to completion is not counted.
	report := fixture.Find(t, findings, "shop/deployment/report")
	if report.Incident || strings.Contains(report.Message, "proxy") || strings.Contains(report.Message, "migrate") ||
		report.Fix[0] != "kubectl set resources -n shop deployment/report -c report --requests=cpu=CPU_REQUEST  # the utilization target is a percentage of it" {
		t.Errorf("report: %s %q", report.Message, report.Fix)
	}
	orders := fixture.Find(t, findings, "shop/deployment/orders")
	if !slices.Contains(orders.Fix, `# what the autoscaler asks the API: kubectl get --raw '/apis/custom.metrics.k8s.io/v1beta1/namespaces/shop/pods/*/http_requests'`) {
		t.Errorf("orders fix %q", orders.Fix)
	}
	gone := fixture.Find(t, findings, "shop/deployment/gone")
	if !strings.Contains(gone.Fix[1], `{"spec":{"scaleTargetRef":{"name":"WORKLOAD_NAME"}}}`) {
		t.Errorf("gone fix %q", gone.Fix)
	}

	// Without the APIServices, which API is down is not judged, and said so.
	s := fixture.Load(t, "hpa-metrics-unavailable.yaml")
	s.MarkUnavailable(snapshot.KindAPIServices, "forbidden")
	cart = fixture.Find(t, HPAMetricsUnavailable{}.Run(s), "shop/deployment/cart")
	if !strings.Contains(cart.Message, "its APIServices could not be read (forbidden), so which is down is not judged") {
		t.Errorf("unread apiservices: %s", cart.Message)
	}
}

// With -f, only what the manifests show: the template without a request.
func TestHPAMetricsUnavailableOnManifests(t *testing.T) {
	s := fixture.Load(t, "hpa-metrics-unavailable.yaml")
	s.Source = snapshot.SourceManifests
	for i := range s.HorizontalPodAutoscalers {
		s.HorizontalPodAutoscalers[i].Status = autoscalingStatus{}
	}
	got := fixture.Summaries(HPAMetricsUnavailable{}.Run(s))
	want := []string{
		"high hpa-metrics-unavailable shop/deployment/report,shop/horizontalpodautoscaler/report",
		"high hpa-metrics-unavailable shop/deployment/search,shop/horizontalpodautoscaler/search",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

type (
	corePod           = corev1.Pod
	autoscalingStatus = autoscalingv2.HorizontalPodAutoscalerStatus
)

// A budget over a whole namespace (an empty selector) on many cordoned nodes is one finding
// whose message and evidence stay short.
func TestDrainBlockedStaysShort(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	s.CollectedAt = fixture.Now()
	for i := range 8 {
		node := fmt.Sprintf("node-%d", i)
		s.Nodes = append(s.Nodes, corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}, Spec: corev1.NodeSpec{Unschedulable: true}})
		s.Pods = append(s.Pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("job-%d", i), Namespace: "batch"},
			Spec:   corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}})
	}
	s.PodDisruptionBudgets = []policyv1.PodDisruptionBudget{{ObjectMeta: metav1.ObjectMeta{Name: "everything", Namespace: "batch"},
		Spec:   policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromString("100%")), Selector: &metav1.LabelSelector{}},
		Status: policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 8, DesiredHealthy: 8, ExpectedPods: 8}}}
	s.Finish()
	findings := DrainBlocked{}.Run(s)
	if len(findings) != 1 {
		t.Fatalf("findings %q", fixture.Summaries(findings))
	}
	f := findings[0]
	if len(f.Objects) != 8+1+8 || !strings.Contains(f.Message, "node-4 and 3 more cannot evict 8 pods of pod batch/job-0") ||
		!strings.Contains(f.Message, "pod batch/job-4 and 3 more workloads there") || len(f.Evidence) > check.MaxEvidence+1 {
		t.Errorf("%d objects, message %s, %d evidence lines", len(f.Objects), f.Message, len(f.Evidence))
	}
	// minAvailable 100%: no replica count helps, so no scale is offered.
	if strings.HasPrefix(f.Fix[0], "kubectl scale") {
		t.Errorf("fix %q", f.Fix)
	}
}
