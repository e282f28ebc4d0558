//go:build e2e

package push

import (
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// gatewaySeries is the gateway's samples of alertmend's metrics and of its own push_time_seconds,
// as "name{label=value,...}" (labels sorted, empty ones left out, as Prometheus reads them) → value.
func gatewaySeries(t *testing.T, gateway *testcluster.Pushgateway) map[string]float64 {
	t.Helper()
	got, err := gateway.Metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, mf := range got {
		if !strings.HasPrefix(name, "alertmend_") && name != "push_time_seconds" {
			continue
		}
		if mf.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s is a %v, want a gauge", name, mf.GetType())
		}
		for _, m := range mf.Metric {
			var labels []string
			for _, l := range m.Label {
				if l.GetValue() != "" {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
			}
			slices.Sort(labels)
			out[name+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

func assertSeries(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for key, value := range want {
		if v, ok := got[key]; !ok || v != value {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, value)
		}
	}
}

func assertAbsent(t *testing.T, got map[string]float64, keys ...string) {
	t.Helper()
	for _, key := range keys {
		if v, ok := got[key]; ok {
			t.Errorf("%s = %v, want no such series", key, v)
		}
	}
}

func TestPushToGateway(t *testing.T) {
	gateway := testcluster.RunPushgateway(t)
	err := Push(t.Context(), gateway.URL, map[string]string{"cluster": "prod"}, families("prod-admin", crashloop, noLimit))
	if err != nil {
		t.Fatal(err)
	}
	got := gatewaySeries(t, gateway)
	assertSeries(t, got, map[string]float64{
		"alertmend_check_findings{category=workloads,check=pod-crashloop,cluster=prod,job=kubectl-alertmend}":             1,
		"alertmend_check_findings{category=resources,check=no-memory-limit,cluster=prod,job=kubectl-alertmend}":           1,
		"alertmend_check_findings{category=rbac,check=rbac-wildcard,cluster=prod,job=kubectl-alertmend}":                  0,
		"alertmend_findings{category=workloads,check=pod-crashloop,cluster=prod,job=kubectl-alertmend,severity=critical}": 1,
		"alertmend_findings{category=resources,check=no-memory-limit,cluster=prod,job=kubectl-alertmend,severity=low}":    1,
		"alertmend_findings_by_severity{cluster=prod,job=kubectl-alertmend,severity=critical}":                            1,
		"alertmend_findings_by_severity{cluster=prod,job=kubectl-alertmend,severity=high}":                                0,
		"alertmend_checks_run{cluster=prod,job=kubectl-alertmend}":                                                        3,
		"alertmend_run_duration_seconds{cluster=prod,job=kubectl-alertmend}":                                              2,
		"alertmend_run_timestamp_seconds{cluster=prod,job=kubectl-alertmend}":                                             float64(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC).Unix()),
		"alertmend_run_info{cluster=prod,context=prod-admin,job=kubectl-alertmend,source=cluster,version=v0.9.0}":         1,
	})
	if _, ok := got["push_time_seconds{cluster=prod,job=kubectl-alertmend}"]; !ok {
		t.Errorf("the gateway has no group {cluster=prod,job=kubectl-alertmend}: %v", got)
	}
}

// A second push for the same cluster replaces the first: what the run no longer finds is gone
// or at zero, never left at its old value, even when a whole family is gone (alertmend_findings
// of a run without findings), which a POST would leave in place.
func TestPushReplacesTheGroup(t *testing.T) {
	gateway := testcluster.RunPushgateway(t)
	grouping := map[string]string{"cluster": "prod"}
	if err := Push(t.Context(), gateway.URL, grouping, families("prod-admin", crashloop, noLimit)); err != nil {
		t.Fatal(err)
	}
	if err := Push(t.Context(), gateway.URL, grouping, families("prod-admin", noLimit)); err != nil {
		t.Fatal(err)
	}
	got := gatewaySeries(t, gateway)
	assertSeries(t, got, map[string]float64{
		"alertmend_check_findings{category=workloads,check=pod-crashloop,cluster=prod,job=kubectl-alertmend}":          0,
		"alertmend_check_findings{category=resources,check=no-memory-limit,cluster=prod,job=kubectl-alertmend}":        1,
		"alertmend_findings{category=resources,check=no-memory-limit,cluster=prod,job=kubectl-alertmend,severity=low}": 1,
		"alertmend_findings_by_severity{cluster=prod,job=kubectl-alertmend,severity=critical}":                         0,
	})
	assertAbsent(t, got, "alertmend_findings{category=workloads,check=pod-crashloop,cluster=prod,job=kubectl-alertmend,severity=critical}")

	if err := Push(t.Context(), gateway.URL, grouping, families("prod-admin")); err != nil {
		t.Fatal(err)
	}
	got = gatewaySeries(t, gateway)
	assertSeries(t, got, map[string]float64{
		"alertmend_check_findings{category=resources,check=no-memory-limit,cluster=prod,job=kubectl-alertmend}": 0,
		"alertmend_findings_by_severity{cluster=prod,job=kubectl-alertmend,severity=low}":                       0,
	})
	assertAbsent(t, got, "alertmend_findings{category=resources,check=no-memory-limit,cluster=prod,job=kubectl-alertmend,severity=low}")
}

func TestPushKeepsClustersApart(t *testing.T) {
	gateway := testcluster.RunPushgateway(t)
	if err := Push(t.Context(), gateway.URL, map[string]string{"cluster": "prod"}, families("prod-admin", crashloop)); err != nil {
		t.Fatal(err)
	}
	if err := Push(t.Context(), gateway.URL, map[string]string{"cluster": "staging"}, families("staging-admin", noLimit)); err != nil {
		t.Fatal(err)
	}
	got := gatewaySeries(t, gateway)
	assertSeries(t, got, map[string]float64{
		"alertmend_check_findings{category=workloads,check=pod-crashloop,cluster=prod,job=kubectl-alertmend}":           1,
		"alertmend_check_findings{category=resources,check=no-memory-limit,cluster=prod,job=kubectl-alertmend}":         0,
		"alertmend_check_findings{category=workloads,check=pod-crashloop,cluster=staging,job=kubectl-alertmend}":        0,
		"alertmend_check_findings{category=resources,check=no-memory-limit,cluster=staging,job=kubectl-alertmend}":      1,
		"alertmend_run_info{cluster=prod,context=prod-admin,job=kubectl-alertmend,source=cluster,version=v0.9.0}":       1,
		"alertmend_run_info{cluster=staging,context=staging-admin,job=kubectl-alertmend,source=cluster,version=v0.9.0}": 1,
	})
}

// Grouping by a label the samples carry too would be refused by the gateway; the group's value
// replaces the sample's, and the caller's families are left as they were.
func TestPushGroupingLabelReplacesSampleLabel(t *testing.T) {
	gateway := testcluster.RunPushgateway(t)
	pushed := families("kind-dev", crashloop)
	if err := Push(t.Context(), gateway.URL, map[string]string{"context": "prod"}, pushed); err != nil {
		t.Fatal(err)
	}
	got := gatewaySeries(t, gateway)
	assertSeries(t, got, map[string]float64{
		"alertmend_run_info{context=prod,job=kubectl-alertmend,source=cluster,version=v0.9.0}": 1,
	})
	assertAbsent(t, got, "alertmend_run_info{context=kind-dev,job=kubectl-alertmend,source=cluster,version=v0.9.0}")
	for _, mf := range pushed {
		if mf.GetName() != "alertmend_run_info" {
			continue
		}
		if labels := mf.Metric[0].GetLabel(); labels[0].GetName() != "context" || labels[0].GetValue() != "kind-dev" {
			t.Errorf("Push changed the caller's run info labels: %v", labels)
		}
	}
}

// pushgatewayTestPassword's bcrypt hash (cost 4), for the gateway's web configuration, which
// holds hashes only; made with golang.org/x/crypto/bcrypt.GenerateFromPassword.
const (
	pushgatewayTestPassword = "pushgateway-test-password"
	pushgatewayTestHash     = "$2a$04$Uxr2nbJ6m4gj1N8lwdPNje.YR70Y6y.g7q3MlRYFgS2y/mvdRyaG2"
)

func TestPushBasicAuth(t *testing.T) {
	gateway := testcluster.RunPushgateway(t, testcluster.BasicAuthUser{Name: "ci", Password: pushgatewayTestPassword, BcryptHash: pushgatewayTestHash})
	withUser := func(userinfo string) string {
		return strings.Replace(gateway.URL, "http://", "http://"+userinfo+"@", 1)
	}
	grouping := map[string]string{"cluster": "prod"}

	if err := Push(t.Context(), withUser("ci:"+pushgatewayTestPassword), grouping, families("prod-admin", crashloop)); err != nil {
		t.Fatalf("with the right password: %v", err)
	}
	assertSeries(t, gatewaySeries(t, gateway), map[string]float64{
		"alertmend_check_findings{category=workloads,check=pod-crashloop,cluster=prod,job=kubectl-alertmend}": 1,
	})

	const wrong = "wrong-horse-battery"
	err := Push(t.Context(), withUser("ci:"+wrong), grouping, families("prod-admin"))
	if err == nil {
		t.Fatal("the gateway accepted a wrong password")
	}
	if msg := err.Error(); !strings.Contains(msg, "401") || !strings.Contains(msg, withUser("ci:xxxxx")) || strings.Contains(msg, wrong) {
		t.Errorf("error %q: want the status 401 and the gateway %s, without the password", msg, withUser("ci:xxxxx"))
	}
	if err := Push(t.Context(), gateway.URL, grouping, families("prod-admin")); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("without credentials: %v, want status 401", err)
	}
	// The refused pushes changed nothing.
	assertSeries(t, gatewaySeries(t, gateway), map[string]float64{
		"alertmend_check_findings{category=workloads,check=pod-crashloop,cluster=prod,job=kubectl-alertmend}": 1,
	})
}
