package checks

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/checks/admission"
	"github.com/alertmend/kubectl-alertmend/checks/aggregated"
	"github.com/alertmend/kubectl-alertmend/checks/workloads"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Folding across families, and blindness, as the engine runs the admission and aggregation
// checks; their fixtures are in their families' testdata.

// The Deployments a down webhook keeps from creating pods are its symptoms: their findings
// stand in the report, in the webhook's incident, after it.
func TestWorkloadsAreSymptomsOfTheWebhook(t *testing.T) {
	s := loadFixture(t, "admission/testdata/webhook-backend-unavailable.yaml")
	plan, err := engine.Select(slices.Concat(admission.Checks(), workloads.Checks()), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		t.Fatal(err)
	}
	r := engine.Run(s, plan, fixNow)
	if got, want := rootOf(r, "deployment-unavailable", "cart"),
		"critical webhook-backend-unavailable validatingwebhookconfiguration/policy-gate,shop/deployment/cart"; got != want {
		t.Errorf("root cause of deployment shop/cart: %q, want %q", got, want)
	}
	if got := summary(r.Findings[0]); !strings.Contains(got, "webhook-backend-unavailable validatingwebhookconfiguration/policy-gate") {
		t.Errorf("findings[0] = %s, want the webhook's", got)
	}
}

// A webhook configuration that could not be read blinds every check of the family: each is
// reported not evaluated, with the reason, rather than passing.
func TestNotEvaluatedWhenWebhooksCannotBeRead(t *testing.T) {
	s := loadFixture(t, "admission/testdata/webhook-backend-unavailable.yaml")
	s.MarkUnavailable(snapshot.KindMutatingWebhookConfigurations, "forbidden: cannot list mutatingwebhookconfigurations")
	plan, err := engine.Select(admission.Checks(), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		t.Fatal(err)
	}
	r := engine.Run(s, plan, fixNow)
	if len(r.Findings) != 0 {
		t.Errorf("findings from half the webhooks: %q", summaries(r.Findings))
	}
	var blind []string
	for _, ne := range r.NotEvaluated {
		if strings.Contains(ne.Reason, "cannot read mutatingwebhookconfigurations: forbidden") {
			blind = append(blind, ne.Check)
		}
	}
	if len(blind) != len(admission.Checks()) {
		t.Errorf("not evaluated: %q, want all %d checks", blind, len(admission.Checks()))
	}
}

// A namespace whose deletion waits on the unavailable API is that API's symptom, in its
// incident; one stuck for another reason stays on its own.
func TestStuckNamespaceIsASymptomOfTheAPIService(t *testing.T) {
	s := loadFixture(t, "aggregated/testdata/apiservice-unavailable.yaml")
	plan, err := engine.Select(aggregated.Checks(), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		t.Fatal(err)
	}
	r := engine.Run(s, plan, fixNow)
	if got := summaries(r.Findings); !slices.Equal(got, []string{
		"high apiservice-unavailable apiservice/v1beta1.custom.metrics.k8s.io",
		"high apiservice-unavailable apiservice/v1beta1.metrics.k8s.io,kube-system/deployment/metrics-server,namespace/old-team",
		"medium namespace-terminating-stuck namespace/old-team",
	}) {
		t.Fatalf("findings %q", got)
	}
	if got, want := rootOf(r, "namespace-terminating-stuck", "old-team"),
		"high apiservice-unavailable apiservice/v1beta1.metrics.k8s.io,kube-system/deployment/metrics-server,namespace/old-team"; got != want {
		t.Errorf("root cause of the stuck namespace: %q, want %q", got, want)
	}

	other := loadFixture(t, "aggregated/testdata/namespace-terminating-stuck.yaml")
	r = engine.Run(other, plan, fixNow)
	if got := summaries(r.Findings); !slices.Equal(got, []string{
		"medium namespace-terminating-stuck namespace/leftovers",
		"medium namespace-terminating-stuck namespace/old-team",
	}) {
		t.Errorf("without an unavailable APIService: %q", got)
	}
}

func summary(f check.Finding) string {
	objects := make([]string, len(f.Objects))
	for i, o := range f.Objects {
		objects[i] = o.String()
	}
	return fmt.Sprintf("%s %s %s", f.Severity, f.Check, strings.Join(objects, ","))
}

func summaries(findings []check.Finding) []string {
	out := make([]string, len(findings))
	for i, f := range findings {
		out[i] = summary(f)
	}
	sort.Strings(out)
	return out
}

// A CronJob whose Jobs the down webhook refuses is a symptom of the same outage, by the
// CronJob its Job belongs to.
func TestRefusedJobIsASymptomOfTheWebhook(t *testing.T) {
	s := loadFixture(t, "admission/testdata/webhook-backend-unavailable.yaml")
	controller := true
	s.CronJobs = append(s.CronJobs, batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "shop", UID: "c1"}})
	s.Jobs = append(s.Jobs, batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-29", Namespace: "shop",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "nightly", UID: "c1", Controller: &controller}}}})
	s.Events = append(s.Events, corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "nightly-29.1", Namespace: "shop"},
		InvolvedObject: corev1.ObjectReference{APIVersion: "batch/v1", Kind: "Job", Namespace: "shop", Name: "nightly-29"},
		Type:           corev1.EventTypeWarning, Reason: "FailedCreate", LastTimestamp: metav1.NewTime(fixNow.Add(-2 * time.Minute)),
		Message: `Error creating: Internal error occurred: failed calling webhook "pods.policy.example.com": service "policy-webhook" not found`})
	s.ForgetDerived()
	plan, err := engine.Select(slices.Concat(admission.Checks(), workloads.Checks()), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		t.Fatal(err)
	}
	r := engine.Run(s, plan, fixNow)
	if got := rootOf(r, "job-cannot-create-pods", "nightly"); !strings.HasPrefix(got, "critical webhook-backend-unavailable validatingwebhookconfiguration/policy-gate,") {
		t.Errorf("root cause of the CronJob's finding: %q", got)
	}
}
