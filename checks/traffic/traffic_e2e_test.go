//go:build e2e

package traffic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// One control plane, with the scenario of testdata/e2e-scenario.yaml, serves these tests.
var (
	cluster *testcluster.Cluster
	binary  string
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var err error
	cluster, err = testcluster.Start(ctx, testcluster.Options{Log: os.Stderr, Audit: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test control plane:", err)
		return 1
	}
	defer cluster.Stop()
	scenario, err := os.ReadFile(filepath.Join("testdata", "e2e-scenario.yaml"))
	if err == nil {
		err = testcluster.Apply(ctx, cluster.Config, scenario)
	}
	dir, tempErr := os.MkdirTemp("", "alertmend-traffic-")
	if err == nil {
		err = tempErr
	}
	if err == nil {
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "kubectl-alertmend")
		build := exec.Command("go", "build", "-o", binary, "./cmd/kubectl-alertmend")
		build.Dir = testcluster.RepoRoot()
		if out, buildErr := build.CombinedOutput(); buildErr != nil {
			err = fmt.Errorf("go build: %v\n%s", buildErr, out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "setting up the traffic scenario:", err)
		return 1
	}
	return m.Run()
}

func diagnose(t *testing.T, args ...string) *report.Report {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"diagnose", "-o", "json"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// Findings make diagnose exit 1; anything else is a failure of the run.
	if exit, ok := err.(*exec.ExitError); err != nil && (!ok || exit.ExitCode() != 1) {
		t.Fatalf("diagnose %q: %v\n%s", args, err, stderr.String())
	}
	var r report.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("diagnose %q: %v\n%s", args, err, out)
	}
	return &r
}

// The path as the API server serves it: the Ingress in front of the unready pods is one critical
// finding that carries the Deployment's outage; the relabelled pods break Ingress shop at its
// Service's selector; Service ok is fine.
func TestTrafficPathOnTheControlPlane(t *testing.T) {
	r := diagnose(t, "--kubeconfig", cluster.Kubeconfig, "--category", "traffic,workloads")
	var got []string
	for _, f := range r.Findings {
		if f.Incident {
			got = append(got, fixture.Summary(f))
		}
	}
	slices.Sort(got)
	want := []string{
		"critical ingress-backend-broken shop/ingress/api,shop/service/api,shop/deployment/api",
		"critical ingress-backend-broken shop/ingress/shop,shop/service/web",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("findings\n got  %q\n want %q", got, want)
	}
	// The test API server serves no Gateway API: the HTTPRoute check says so, and the run is complete.
	gateway := slices.IndexFunc(r.NotEvaluated, func(n report.NotEvaluated) bool { return n.Check == "httproute-backend-broken" })
	if gateway < 0 || r.NotEvaluated[gateway].Code != report.NotApplicable ||
		!strings.Contains(r.NotEvaluated[gateway].Reason, "the Gateway API (gateway.networking.k8s.io/v1) is not served") {
		t.Errorf("not evaluated: %+v", r.NotEvaluated)
	}
	for _, f := range r.Findings {
		evidence := strings.Join(f.Evidence, "\n")
		switch f.Objects[0].Name {
		case "api":
			for _, part := range []string{
				"EndpointSlices: 0 ready, 2 not-ready endpoints",
				"pod api-7c9b-ccccc on node node-a: Ready=False (ContainersNotReady)",
				"containers with unready status: [api]",
				"deployment shop/api has 0 of 2 replicas available",
				"also reported by deployment-unavailable, service-no-ready-endpoints",
			} {
				if !strings.Contains(evidence, part) {
					t.Errorf("api evidence lacks %q:\n%s", part, evidence)
				}
			}
		case "shop":
			if !strings.Contains(f.Message, "Service web selects no pod") ||
				!strings.Contains(evidence, "nearest: pod shop/web-0 has app=web-v2, the selector wants app=web") {
				t.Errorf("shop: %s\n%s", f.Message, evidence)
			}
		}
	}
}

// Every request the tool made is a read, as the API server's audit log records it.
func TestTrafficChecksOnlyRead(t *testing.T) {
	diagnose(t, "--kubeconfig", cluster.Kubeconfig, "--category", "traffic")
	events, err := cluster.AuditEvents("kubectl-alertmend/")
	if err != nil {
		t.Fatal(err)
	}
	resources := map[string]bool{}
	for _, e := range events {
		if e.Verb != "get" && e.Verb != "list" && e.Verb != "watch" {
			t.Errorf("%s %s: not a read", e.Verb, e.RequestURI)
		}
		if e.ObjectRef != nil {
			resources[e.ObjectRef.Resource] = true
		}
	}
	for _, kind := range []string{"ingresses", "services", "endpointslices", "pods"} {
		if !resources[kind] {
			t.Errorf("no %s were read: %v", kind, resources)
		}
	}
}
