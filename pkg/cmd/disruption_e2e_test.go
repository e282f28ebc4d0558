//go:build e2e

package cmd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

// disruptionScenario is a cordoned node whose only pod of cart a budget allowing no disruption
// holds, cart's autoscaler at its maximum with cpu above target, an autoscaler blind to its
// metrics because metrics.k8s.io's APIService names a Service that does not exist, and one
// whose Deployment is gone. Statuses are what the disruption and autoscaler controllers would
// write; the test control plane runs neither.
func disruptionScenario(now time.Time) string {
	stamp := func(d time.Duration) string { return `"` + now.Add(d).UTC().Format(time.RFC3339) + `"` }
	return `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
spec:
  unschedulable: true
  taints: [{key: node.kubernetes.io/unschedulable, effect: NoSchedule, timeAdded: ` + stamp(-2*time.Hour) + `}]
status: {conditions: [{type: Ready, status: "True", lastHeartbeatTime: ` + stamp(0) + `, lastTransitionTime: ` + stamp(-24*time.Hour) + `}]}
---
apiVersion: v1
kind: Node
metadata: {name: node-b}
status: {conditions: [{type: Ready, status: "True", lastHeartbeatTime: ` + stamp(0) + `, lastTransitionTime: ` + stamp(-24*time.Hour) + `}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: cart}}
  template: {metadata: {labels: {app: cart}}, spec: {containers: [{name: cart, image: registry.example/cart:1.0.0, resources: {requests: {cpu: 100m}}}]}}
status: {replicas: 2, readyReplicas: 2, availableReplicas: 2, updatedReplicas: 2}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: cart-7d9f, namespace: shop, ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: cart, controller: true}]}
spec:
  replicas: 2
  selector: {matchLabels: {app: cart, pod-template-hash: 7d9f}}
  template: {metadata: {labels: {app: cart, pod-template-hash: 7d9f}}, spec: {containers: [{name: cart, image: registry.example/cart:1.0.0, resources: {requests: {cpu: 100m}}}]}}
status: {replicas: 2, readyReplicas: 2, availableReplicas: 2}
---
apiVersion: v1
kind: Pod
metadata: {name: cart-7d9f-a, namespace: shop, labels: {app: cart, pod-template-hash: 7d9f}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: cart-7d9f, controller: true}]}
spec: {nodeName: node-a, containers: [{name: cart, image: registry.example/cart:1.0.0, resources: {requests: {cpu: 100m}}}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}], containerStatuses: [{name: cart, ready: true, restartCount: 0, image: registry.example/cart:1.0.0, imageID: "", state: {running: {startedAt: ` + stamp(-time.Hour) + `}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cart-7d9f-b, namespace: shop, labels: {app: cart, pod-template-hash: 7d9f}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: cart-7d9f, controller: true}]}
spec: {nodeName: node-b, containers: [{name: cart, image: registry.example/cart:1.0.0, resources: {requests: {cpu: 100m}}}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}], containerStatuses: [{name: cart, ready: true, restartCount: 0, image: registry.example/cart:1.0.0, imageID: "", state: {running: {startedAt: ` + stamp(-time.Hour) + `}}}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: cart, namespace: shop}
spec: {minAvailable: 2, selector: {matchLabels: {app: cart}}}
status: {observedGeneration: 1, disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2, expectedPods: 2}
---
apiVersion: v1
kind: Event
metadata: {name: node-a.drain, namespace: default}
involvedObject: {kind: Node, name: node-a}
type: Normal
reason: DrainFailed
message: 'cannot evict shop/cart-7d9f-a: Cannot evict pod as it would violate the pod''s disruption budget.'
source: {component: node-drainer}
firstTimestamp: ` + stamp(-90*time.Minute) + `
lastTimestamp: ` + stamp(-time.Minute) + `
count: 300
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: cart, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: cart}
  minReplicas: 2
  maxReplicas: 2
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
status:
  currentReplicas: 2
  desiredReplicas: 2
  currentMetrics:
  - type: Resource
    resource: {name: cpu, current: {averageUtilization: 140, averageValue: 140m}}
  conditions:
  - {type: AbleToScale, status: "True", reason: ReadyForNewScale, message: recommended size matches current size, lastTransitionTime: ` + stamp(-time.Hour) + `}
  - {type: ScalingActive, status: "True", reason: ValidMetricFound, message: the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request), lastTransitionTime: ` + stamp(-time.Hour) + `}
  - {type: ScalingLimited, status: "True", reason: TooManyReplicas, message: the desired replica count is more than the maximum replica count, lastTransitionTime: ` + stamp(-30*time.Minute) + `}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: orders}}
  template: {metadata: {labels: {app: orders}}, spec: {containers: [{name: orders, image: registry.example/orders:1.0.0, resources: {requests: {cpu: 100m}}}]}}
status: {replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: orders, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: orders}
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
status:
  currentReplicas: 1
  desiredReplicas: 1
  conditions:
  - {type: AbleToScale, status: "True", reason: SucceededGetScale, message: the HPA controller was able to get the target's current scale, lastTransitionTime: ` + stamp(-time.Hour) + `}
  - type: ScalingActive
    status: "False"
    reason: FailedGetResourceMetric
    message: 'the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)'
    lastTransitionTime: ` + stamp(-40*time.Minute) + `
---
apiVersion: v1
kind: Event
metadata: {name: orders.metrics, namespace: shop}
involvedObject: {kind: HorizontalPodAutoscaler, namespace: shop, name: orders, apiVersion: autoscaling/v2}
type: Warning
reason: FailedComputeMetricsReplicas
message: 'invalid metrics (1 invalid out of 1), first error is: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)'
source: {component: horizontal-pod-autoscaler}
firstTimestamp: ` + stamp(-40*time.Minute) + `
lastTimestamp: ` + stamp(-20*time.Second) + `
count: 160
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: gone, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: gone}
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
status:
  currentReplicas: 0
  desiredReplicas: 0
  conditions:
  - type: AbleToScale
    status: "False"
    reason: FailedGetScale
    message: 'the HPA controller was unable to get the target''s current scale: deployments/scale.apps "gone" not found'
    lastTransitionTime: ` + stamp(-10*time.Minute) + `
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: {namespace: kube-system, name: metrics-server}
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
`
}

// A control plane of its own: a cordoned node and an unavailable metrics.k8s.io would change
// what the other tests' whole-cluster runs report. Nothing here makes the API server dial: the
// APIService's Service does not exist, which the aggregator checks before it would call it.
func TestDisruptionAndAutoscalingOnARealServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := testcluster.Start(ctx, testcluster.Options{Log: os.Stderr, Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if err := testcluster.Apply(ctx, c.Config, []byte(disruptionScenario(time.Now()))); err != nil {
		t.Fatal(err)
	}
	// The aggregator's availability controller, running in the API server, judges the APIService.
	aggregator, err := aggregatorclient.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		a, err := aggregator.ApiregistrationV1().APIServices().Get(ctx, "v1beta1.metrics.k8s.io", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(a.Status.Conditions, func(c apiregistrationv1.APIServiceCondition) bool {
			return c.Type == apiregistrationv1.Available && c.Status == apiregistrationv1.ConditionFalse && c.Reason == "ServiceNotFound"
		}), nil
	})
	if err != nil {
		t.Fatalf("the API server did not mark metrics.k8s.io unavailable: %v", err)
	}
	findings := func(rep []check.Finding) map[string]check.Finding {
		out := map[string]check.Finding{}
		for _, f := range rep {
			out[f.Check+" "+f.Objects[0].String()] = f
		}
		return out
	}
	keys := func(m map[string]check.Finding) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}

	// The family alone: each problem is one finding on the workload a person manages.
	r := run(t, testEnv{now: time.Now}, "diagnose", "--category", "capacity", "-o", "json", "--kubeconfig", c.Kubeconfig)
	rep := r.report(t)
	if r.code != 1 || len(rep.NotEvaluated) != 0 {
		t.Errorf("exit %d, not evaluated %+v: %s", r.code, rep.NotEvaluated, r.stderr)
	}
	got := findings(rep.Findings)
	want := []string{
		"drain-blocked-by-pdb shop/deployment/cart",
		"hpa-at-max shop/deployment/cart",
		"hpa-metrics-unavailable shop/deployment/gone",
		"hpa-metrics-unavailable shop/deployment/orders",
	}
	if !slices.Equal(keys(got), want) {
		t.Fatalf("findings %q\nwant %q", keys(got), want)
	}
	drain := got["drain-blocked-by-pdb shop/deployment/cart"]
	evidence := strings.Join(drain.Evidence, "\n")
	// Ages are the clock's: the test asserts what is around them.
	for _, part := range []string{"node node-a: cordoned (spec.unschedulable) for ", "disruptionsAllowed 0, currentHealthy 2, desiredHealthy 2",
		"pod shop/cart-7d9f-a on node node-a: Ready", "node node-a: DrainFailed, last: ", " ago, x300: cannot evict shop/cart-7d9f-a"} {
		if !strings.Contains(evidence, part) {
			t.Errorf("drain evidence lacks %q:\n%s", part, evidence)
		}
	}
	// cart has an autoscaler: one more replica is its minReplicas to raise, and its
	// maxReplicas with it, which the API server would not let fall below the minimum.
	if !strings.HasPrefix(drain.Fix[0], `kubectl patch -n shop horizontalpodautoscaler/cart --type=merge -p '{"spec":{"minReplicas":3,"maxReplicas":3}}'`) {
		t.Errorf("drain fix %q", drain.Fix)
	}
	atMax := got["hpa-at-max shop/deployment/cart"]
	if !strings.Contains(atMax.Message, "resource cpu is 140% of requests, target 70% of requests") ||
		!strings.HasPrefix(atMax.Fix[0], `kubectl patch -n shop horizontalpodautoscaler/cart --type=merge -p '{"spec":{"maxReplicas":4}}'`) {
		t.Errorf("at max: %s %q", atMax.Message, atMax.Fix)
	}
	orders := got["hpa-metrics-unavailable shop/deployment/orders"]
	for _, part := range []string{"FailedGetResourceMetric", "APIService v1beta1.metrics.k8s.io is Available=False (ServiceNotFound)"} {
		if !strings.Contains(orders.Message, part) {
			t.Errorf("orders message lacks %q: %s", part, orders.Message)
		}
	}
	if !slices.ContainsFunc(orders.Evidence, func(e string) bool { return strings.HasPrefix(e, "newest warning: FailedComputeMetricsReplicas") }) {
		t.Errorf("orders evidence %q", orders.Evidence)
	}
	if gone := got["hpa-metrics-unavailable shop/deployment/gone"]; !strings.Contains(gone.Message, "deployment shop/gone does not exist") {
		t.Errorf("gone: %s", gone.Message)
	}

	// With the checks they relate to: the blind autoscaler is a symptom of the metrics API's
	// outage, and the budget's static finding is explained by the stuck drain.
	r = run(t, testEnv{now: time.Now}, "diagnose", "-o", "json", "--kubeconfig", c.Kubeconfig,
		"--checks", "drain-blocked-by-pdb,pdb-blocks-eviction,hpa-metrics-unavailable,apiservice-unavailable")
	related := r.report(t)
	got = findings(related.Findings)
	want = []string{
		"apiservice-unavailable apiservice/v1beta1.metrics.k8s.io",
		"drain-blocked-by-pdb shop/deployment/cart",
		"hpa-metrics-unavailable shop/deployment/gone",
		"hpa-metrics-unavailable shop/deployment/orders",
	}
	if !slices.Equal(keys(got), want) {
		t.Fatalf("findings %q\nwant %q", keys(got), want)
	}
	api := got["apiservice-unavailable apiservice/v1beta1.metrics.k8s.io"]
	if !slices.Contains(api.Evidence, "1 HorizontalPodAutoscaler cannot scale without it: shop/orders") {
		t.Errorf("the metrics API's finding does not name the autoscaler: %q", api.Evidence)
	}
	if root := incidentRoot(related, "hpa-metrics-unavailable", "orders"); root == "" || root != api.ID || related.Findings[0].ID != api.ID {
		t.Errorf("orders' blind autoscaler is not a symptom of the metrics API's outage, first: root %q, want %q (findings[0] %s)", root, api.ID, related.Findings[0].ID)
	}
	if root := incidentRoot(related, "hpa-metrics-unavailable", "gone"); root != "" {
		t.Errorf("the autoscaler of a missing Deployment is linked to %s", root)
	}
	if !slices.Contains(got["drain-blocked-by-pdb shop/deployment/cart"].Evidence, "also reported by pdb-blocks-eviction; folded into this finding") {
		t.Errorf("the stuck drain does not take in the budget's static finding: %q", got["drain-blocked-by-pdb shop/deployment/cart"].Evidence)
	}

	// Someone who may read nodes, pods and budgets but not autoscalers: the drain is judged,
	// the autoscaler checks say they could not see.
	if err := testcluster.Apply(ctx, c.Config, []byte(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: no-autoscalers}
rules:
- {apiGroups: [""], resources: [nodes, pods, events, namespaces], verbs: [get, list]}
- {apiGroups: [apps], resources: [deployments, replicasets, statefulsets, daemonsets], verbs: [get, list]}
- {apiGroups: [batch], resources: [jobs, cronjobs], verbs: [get, list]}
- {apiGroups: [policy], resources: [poddisruptionbudgets], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: no-autoscalers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: no-autoscalers}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: drain-reader}]
`)); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := c.UserKubeconfig("drain-reader")
	if err != nil {
		t.Fatal(err)
	}
	r = run(t, testEnv{now: time.Now}, "diagnose", "--category", "capacity", "-o", "json", "--kubeconfig", kubeconfig)
	limited := r.report(t)
	if got := findings(limited.Findings); !slices.Equal(keys(got), []string{"drain-blocked-by-pdb shop/deployment/cart"}) {
		t.Errorf("without autoscalers: findings %q", keys(got))
	}
	for _, id := range []string{"hpa-at-max", "hpa-metrics-unavailable"} {
		if ne := notEvaluated(limited, id); ne == nil || !strings.Contains(ne.Reason, "horizontalpodautoscalers") {
			t.Errorf("%s without autoscalers: %+v", id, ne)
		}
	}

	events, err := c.AuditEvents("kubectl-alertmend/")
	if err != nil {
		t.Fatal(err)
	}
	listedHPAs := false
	for _, e := range events {
		if e.Verb != "get" && e.Verb != "list" && e.Verb != "watch" {
			t.Errorf("%s %s: not a read", e.Verb, e.RequestURI)
		}
		listedHPAs = listedHPAs || e.ObjectRef != nil && e.ObjectRef.Resource == "horizontalpodautoscalers" && e.ObjectRef.APIGroup == "autoscaling"
	}
	if !listedHPAs {
		t.Error("no request for horizontalpodautoscalers in the audit log")
	}
}

// With -f, what the manifests show: an autoscaler on cpu utilization whose target requests no cpu.
func TestAutoscalerWithoutRequestInManifests(t *testing.T) {
	file := filepath.Join(t.TempDir(), "app.yaml")
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata: {name: report, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: report}}
  template: {metadata: {labels: {app: report}}, spec: {containers: [{name: report, image: registry.example/report:1.0.0, resources: {limits: {memory: 1Gi}}}]}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: report, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: report}
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
`
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := run(t, testEnv{}, "diagnose", "-f", file, "--category", "capacity", "-o", "json").report(t)
	if len(rep.Findings) != 1 || rep.Findings[0].Check != "hpa-metrics-unavailable" ||
		!strings.Contains(rep.Findings[0].Message, "container report requests no cpu") {
		t.Errorf("findings %+v", rep.Findings)
	}
}
