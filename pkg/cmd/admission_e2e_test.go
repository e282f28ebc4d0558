//go:build e2e

package cmd

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"k8s.io/utils/ptr"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// A control plane of its own: its fail-closed webhooks would refuse the other tests' pods.
//
// Nothing here makes the API server dial: the webhooks' Services are missing or have no
// endpoint, no object they intercept is created (no pod at all, no namespace labelled for the
// injector), and the APIServices' Services are missing or have no ready endpoint, which the
// aggregator checks before it would call them.
func TestAdmissionAndAggregationOutagesOnARealServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := testcluster.Start(ctx, testcluster.Options{Log: os.Stderr, Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	setUpAdmissionOutage(ctx, t, c)

	r := run(t, testEnv{}, "diagnose", "-o", "json", "--kubeconfig", c.Kubeconfig, "--checks",
		"webhook-backend-unavailable,webhook-fail-closed-unscoped,webhook-matches-own-backend,webhook-timeout-budget,apiservice-unavailable,namespace-terminating-stuck")
	rep := r.report(t)
	if r.code != 1 {
		t.Errorf("exit %d, want 1: %s", r.code, r.stderr)
	}
	byObject := map[string]check.Finding{}
	for _, f := range rep.Findings {
		byObject[f.Check+" "+f.Objects[0].String()] = f
	}
	var keys []string
	for k := range byObject {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{
		"apiservice-unavailable apiservice/v1beta1.empty.example.com",
		"apiservice-unavailable apiservice/v1beta1.missing.example.com",
		"namespace-terminating-stuck namespace/old-team",
		"webhook-backend-unavailable validatingwebhookconfiguration/missing-backend",
		"webhook-backend-unavailable validatingwebhookconfiguration/no-endpoints",
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("findings %q\nwant %q", keys, want)
	}

	missing := byObject["webhook-backend-unavailable validatingwebhookconfiguration/missing-backend"]
	if missing.Severity != check.Critical || !strings.Contains(missing.Message, "Service policy/policy-webhook does not exist") ||
		!strings.Contains(missing.Message, "refuses CREATE of pods in every namespace") {
		t.Errorf("missing backend: %s %s", missing.Severity, missing.Message)
	}
	// Its risky shape (it would refuse kube-system's pods too) is part of the same finding.
	if !slices.ContainsFunc(missing.Evidence, func(e string) bool { return strings.Contains(e, "intercepts CREATE pods in kube-system and policy") }) {
		t.Errorf("missing backend evidence: %q", missing.Evidence)
	}
	noEndpoints := byObject["webhook-backend-unavailable validatingwebhookconfiguration/no-endpoints"]
	if noEndpoints.Severity != check.High || !strings.Contains(noEndpoints.Message, "Service mesh/injector has no EndpointSlices") ||
		!strings.Contains(noEndpoints.Message, "in 1 namespace (shop) matching inject=enabled") {
		t.Errorf("no endpoints: %s %s", noEndpoints.Severity, noEndpoints.Message)
	}

	// The API server's own availability controller judged these, not the test.
	notFound := byObject["apiservice-unavailable apiservice/v1beta1.missing.example.com"]
	if !strings.Contains(notFound.Message, "Available=False (ServiceNotFound)") || !slices.Contains(notFound.Evidence, "Service aggr/absent does not exist") {
		t.Errorf("service not found: %s %q", notFound.Message, notFound.Evidence)
	}
	empty := byObject["apiservice-unavailable apiservice/v1beta1.empty.example.com"]
	if !strings.Contains(empty.Message, "Available=False (MissingEndpoints)") ||
		!slices.Contains(empty.Evidence, "Service aggr/empty has no endpoints (1 EndpointSlice, empty)") {
		t.Errorf("missing endpoints: %s %q", empty.Message, empty.Evidence)
	}
	// The namespace stuck on its discovery is the APIService's symptom, in its incident.
	stuck := byObject["namespace-terminating-stuck namespace/old-team"]
	if !slices.Contains(empty.Objects, snapshot.RefTo(snapshot.KindNamespaces, "", "old-team")) ||
		!slices.ContainsFunc(rep.Incidents, func(inc report.Incident) bool { return inc.Root == empty.ID && slices.Contains(inc.Symptoms, stuck.ID) }) {
		t.Errorf("the stuck namespace is not a symptom of the APIService's finding: %v %+v", empty.Objects, rep.Incidents)
	}

	t.Run("quotes the failed calls", func(t *testing.T) {
		if !slices.ContainsFunc(missing.Evidence, func(e string) bool {
			return strings.HasPrefix(e, "event FailedCreate on replicaset shop/cart-7d9") && strings.Contains(e, `failed calling webhook "pods.policy.example.com"`)
		}) {
			t.Errorf("the failed call is not quoted: %q", missing.Evidence)
		}
		if !slices.Contains(missing.Objects, snapshot.RefTo(snapshot.KindDeployments, "shop", "cart")) {
			t.Errorf("the blocked Deployment is not named: %v", missing.Objects)
		}
	})

	events, err := c.AuditEvents("kubectl-alertmend/")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 5 {
		t.Fatalf("only %d audited requests from kubectl-alertmend", len(events))
	}
	for _, e := range events {
		if e.Verb != "get" && e.Verb != "list" && e.Verb != "watch" {
			t.Errorf("%s %s: not a read", e.Verb, e.RequestURI)
		}
	}
}

// setUpAdmissionOutage creates two fail-closed webhooks without a backend, two APIServices
// without one, a namespace stuck deleting on one of them, and the events a ReplicaSet records
// when a webhook refuses its pods.
func setUpAdmissionOutage(ctx context.Context, t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	kube := c.Client
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "policy"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "mesh"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "aggr"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"inject": "enabled"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "old-team"}},
	} {
		must(kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}))
	}
	pods := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
	}}
	webhook := func(name, namespace, service string, selector *metav1.LabelSelector) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name:                    name,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: namespace, Name: service}},
			Rules:                   pods,
			NamespaceSelector:       selector,
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			// failurePolicy left out: v1 defaults it to Fail.
		}
	}
	webhooks := kube.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	must(webhooks.Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "missing-backend"},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{webhook("pods.policy.example.com", "policy", "policy-webhook", nil)},
	}, metav1.CreateOptions{}))
	must(kube.CoreV1().Services("mesh").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "injector"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "injector"}, Ports: []corev1.ServicePort{{Name: "https", Port: 443}}},
	}, metav1.CreateOptions{}))
	must(webhooks.Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "no-endpoints"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{webhook("inject.mesh.example.com", "mesh", "injector",
			&metav1.LabelSelector{MatchLabels: map[string]string{"inject": "enabled"}})},
	}, metav1.CreateOptions{}))

	// What a ReplicaSet records when the webhook refuses its pods; no controller runs here to
	// record it, so the test does.
	must(kube.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "cart"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "cart"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "cart:1"}}}}},
	}, metav1.CreateOptions{}))
	deployment, err := kube.AppsV1().Deployments("shop").Get(ctx, "cart", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	must(kube.AppsV1().ReplicaSets("shop").Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "cart-7d9", Labels: map[string]string{"app": "cart"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(deployment, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
		Spec: appsv1.ReplicaSetSpec{Selector: deployment.Spec.Selector, Template: deployment.Spec.Template},
	}, metav1.CreateOptions{}))
	now := metav1.Now()
	must(kube.CoreV1().Events("shop").Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "cart-7d9.failed"},
		InvolvedObject: corev1.ObjectReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Namespace: "shop", Name: "cart-7d9"},
		Type:           corev1.EventTypeWarning, Reason: "FailedCreate", Count: 7, FirstTimestamp: now, LastTimestamp: now,
		Source: corev1.EventSource{Component: "replicaset-controller"},
		Message: `Error creating: Internal error occurred: failed calling webhook "pods.policy.example.com": failed to call webhook: ` +
			`Post "https://policy-webhook.policy.svc:443/?timeout=10s": service "policy-webhook" not found`,
	}, metav1.CreateOptions{}))

	// APIServices: one whose Service is missing, one whose Service's EndpointSlice is empty (an
	// endpoint's address may not be loopback, and none other may be written here).
	aggregator, err := aggregatorclient.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	must(kube.CoreV1().Services("aggr").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "empty"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "empty"}, Ports: []corev1.ServicePort{{Name: "https", Port: 443}}},
	}, metav1.CreateOptions{}))
	must(kube.DiscoveryV1().EndpointSlices("aggr").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "empty-1", Labels: map[string]string{discoveryv1.LabelServiceName: "empty"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To[int32](443)}},
	}, metav1.CreateOptions{}))
	for _, a := range []struct{ group, service string }{{"missing.example.com", "absent"}, {"empty.example.com", "empty"}} {
		must(aggregator.ApiregistrationV1().APIServices().Create(ctx, &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: "v1beta1." + a.group},
			Spec: apiregistrationv1.APIServiceSpec{Group: a.group, Version: "v1beta1", InsecureSkipTLSVerify: true,
				Service:              &apiregistrationv1.ServiceReference{Namespace: "aggr", Name: a.service, Port: ptr.To[int32](443)},
				GroupPriorityMinimum: 100, VersionPriority: 100},
		}, metav1.CreateOptions{}))
	}
	// The aggregator's availability controller, running in the API server, judges them.
	reasons := map[string]string{"v1beta1.missing.example.com": "ServiceNotFound", "v1beta1.empty.example.com": "MissingEndpoints"}
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for name, reason := range reasons {
			a, err := aggregator.ApiregistrationV1().APIServices().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if !slices.ContainsFunc(a.Status.Conditions, func(c apiregistrationv1.APIServiceCondition) bool {
				return c.Type == apiregistrationv1.Available && c.Status == apiregistrationv1.ConditionFalse && c.Reason == reason
			}) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the API server did not mark the APIServices unavailable: %v", err)
	}

	// A namespace whose deletion waits on the empty API's discovery. No namespace controller
	// runs here: its finalizer keeps the namespace terminating, and the test writes the
	// condition the controller would.
	if err := kube.CoreV1().Namespaces().Delete(ctx, "old-team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := kube.CoreV1().Namespaces().Get(ctx, "old-team", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Status.Conditions = append(ns.Status.Conditions, corev1.NamespaceCondition{
		Type: corev1.NamespaceDeletionDiscoveryFailure, Status: corev1.ConditionTrue, Reason: "DiscoveryFailed", LastTransitionTime: now,
		Message: "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: " +
			"empty.example.com/v1beta1: stale GroupVersion discovery: empty.example.com/v1beta1",
	})
	must(kube.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{}))
}
