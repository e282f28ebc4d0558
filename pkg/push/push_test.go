package push

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

var (
	crashloop = check.Finding{Check: "pod-crashloop", Category: check.CategoryWorkloads, Severity: check.Critical,
		Title: "Containers are crash looping", Message: "pod shop/cart-1 is crash looping"}
	noLimit = check.Finding{Check: "no-memory-limit", Category: check.CategoryResources, Severity: check.Low,
		Title: "Containers have no memory limit", Message: "pod tools/debug has no memory limit"}
)

// families is what a live run against kubeContext that found findings would push.
func families(kubeContext string, findings ...check.Finding) []*dto.MetricFamily {
	r := &report.Report{
		APIVersion: report.APIVersion,
		Kind:       report.Kind,
		Metadata:   report.Metadata{Source: "cluster", Context: kubeContext, GeneratedAt: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)},
		Summary:    report.Summary{ChecksRun: 3},
		Findings:   findings,
	}
	for _, f := range findings {
		switch f.Severity {
		case check.Critical:
			r.Summary.Critical++
		case check.Low:
			r.Summary.Low++
		}
	}
	catalog := []check.Meta{
		{ID: "pod-crashloop", Category: check.CategoryWorkloads, Severity: check.Critical},
		{ID: "no-memory-limit", Category: check.CategoryResources, Severity: check.Low},
		{ID: "rbac-wildcard", Category: check.CategoryRBAC, Severity: check.High},
	}
	return render.MetricFamilies(r, render.Options{Catalog: catalog, ToolVersion: "v0.9.0", Duration: 2 * time.Second})
}

// A gateway that fails: the error says what it answered and where, and the password, sent only
// as basic auth, appears nowhere, escaped or not.
func TestPushFailureHidesPassword(t *testing.T) {
	const password = "p@ss:w/rd"
	type request struct{ method, path, user, password string }
	received := make(chan request, 1)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		_, _ = io.Copy(io.Discard, r.Body)
		received <- request{r.Method, r.URL.Path, user, pass}
		http.Error(w, "storage is full", http.StatusInternalServerError)
	}))
	defer server.Close()
	gatewayURL := strings.Replace(server.URL, "http://", "http://ci:p%40ss%3Aw%2Frd@", 1)

	// The empty team label is left out of the group, so of the path.
	err := Push(t.Context(), gatewayURL, map[string]string{"cluster": "prod", "team": ""}, families("prod-admin", crashloop))
	if err == nil {
		t.Fatal("a gateway answering 500 was taken for a success")
	}
	msg := err.Error()
	for _, want := range []string{"500", "storage is full", strings.Replace(server.URL, "http://", "http://ci:xxxxx@", 1)} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.TrimSpace(msg) != msg {
		t.Errorf("error %q ends in white space", msg)
	}
	for _, secret := range []string{password, "p%40ss", "w%2Frd", "w/rd"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q shows the password (%q)", msg, secret)
		}
	}
	got := <-received
	if want := (request{http.MethodPut, "/metrics/job/kubectl-alertmend/cluster/prod", "ci", password}); got != want {
		t.Errorf("the gateway received %+v, want %+v", got, want)
	}
}

func TestPushUnreachableGateway(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://ci:hunter22@" + listener.Addr().String()
	listener.Close()

	start := time.Now()
	err = Push(t.Context(), closedURL, map[string]string{"cluster": "prod"}, families("prod-admin"))
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v to notice nothing listens", elapsed)
	}
	if err == nil {
		t.Fatal("pushing to a closed port succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "http://ci:xxxxx@"+listener.Addr().String()) || !strings.Contains(msg, "connection refused") || strings.Contains(msg, "hunter22") {
		t.Errorf("error %q: want the gateway, with its password redacted, and the refused connection", msg)
	}
	if strings.Contains(msg, "/metrics/job/") {
		t.Errorf("error %q repeats the gateway with the push path", msg)
	}
}

func TestPushStopsWhenCancelled(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		close(arrived)
		<-release // never answers while Push waits
	}))
	defer server.Close()
	defer close(release)

	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-arrived; cancel() }()
	start := time.Now()
	err := Push(ctx, server.URL, map[string]string{"cluster": "prod"}, families("prod-admin"))
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v to stop after the cancellation", elapsed)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if err != nil && !strings.Contains(err.Error(), server.URL) {
		t.Errorf("error %q does not name the gateway", err)
	}
}

func TestPushRejectsInvalidURL(t *testing.T) {
	for _, gatewayURL := range []string{
		"",
		"pushgateway:9091",
		"127.0.0.1:9091",
		"ftp://ci:hunter22@pushgateway:9091",
		"http://",
		"http://ci:hunter22@:9091",
		"http://ci:hunter22@pushgateway:9091/?tenant=a",
		"http://ci:hunter22@pushgateway:9091/#top",
		"http://ci:hunter22@[::1",
		"http://ci:hunter22%zz@pushgateway:9091",
	} {
		err := Push(t.Context(), gatewayURL, map[string]string{"cluster": "prod"}, families("prod-admin"))
		if err == nil || !strings.Contains(err.Error(), "invalid Pushgateway URL") || strings.Contains(err.Error(), "hunter22") {
			t.Errorf("%q: error %v, want an invalid Pushgateway URL without the password", gatewayURL, err)
		}
		if checked := CheckURL(gatewayURL); checked == nil || checked.Error() != err.Error() {
			t.Errorf("%q: CheckURL says %v, Push %v", gatewayURL, checked, err)
		}
	}
	for _, gatewayURL := range []string{"http://127.0.0.1:9091", "https://ci:hunter22@pushgateway.example:9091/prefix"} {
		if err := CheckURL(gatewayURL); err != nil {
			t.Errorf("%q: CheckURL refuses a valid URL: %v", gatewayURL, err)
		}
	}
}

func TestCheckGrouping(t *testing.T) {
	for grouping, want := range map[string]string{
		"job":       "cannot set job",
		"1cluster":  `invalid Pushgateway grouping label "1cluster"`,
		"env-name":  `invalid Pushgateway grouping label "env-name"`,
		"":          `invalid Pushgateway grouping label ""`,
		"cluster_1": "",
	} {
		err := CheckGrouping(map[string]string{grouping: "x"})
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", grouping, err, want)
		}
	}
}

func TestPushRefusesJobInGrouping(t *testing.T) {
	err := Push(t.Context(), "http://127.0.0.1:9", map[string]string{"job": "nightly"}, families("prod-admin"))
	if err == nil || !strings.Contains(err.Error(), "cannot set job") {
		t.Errorf("error %v, want one saying job cannot be a grouping label", err)
	}
}
