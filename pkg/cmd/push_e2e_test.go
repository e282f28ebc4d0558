//go:build e2e

package cmd

import (
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

func TestPushGateway(t *testing.T) {
	gateway := testcluster.RunPushgateway(t)

	r := admin(t, "diagnose", "-o", "json", "--push-gateway", gateway.URL)
	rep := r.report(t)
	if r.code != rep.ExitCode(check.High) {
		t.Fatalf("exit %d with a push, the report implies %d\nstderr: %s", r.code, rep.ExitCode(check.High), r.stderr)
	}
	families, err := gateway.Metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The group is the cluster's: job and cluster on every sample, the report's counts as values.
	for _, name := range []string{"alertmend_checks_run", "alertmend_findings_by_severity", "alertmend_check_not_evaluated", "alertmend_run_info"} {
		samples := families[name].GetMetric()
		if len(samples) == 0 {
			t.Errorf("%s was not pushed", name)
		}
		for _, m := range samples {
			if label(m, "job") != "kubectl-alertmend" || label(m, "cluster") != testcluster.ContextName {
				t.Errorf("%s: labels %v, want job kubectl-alertmend and cluster %s", name, m.GetLabel(), testcluster.ContextName)
			}
		}
	}
	if got := families["alertmend_checks_run"].GetMetric(); len(got) != 1 || got[0].GetGauge().GetValue() != float64(rep.Summary.ChecksRun) {
		t.Errorf("alertmend_checks_run %v, the report ran %d checks", got, rep.Summary.ChecksRun)
	}
	bySeverity := map[string]float64{}
	for _, m := range families["alertmend_findings_by_severity"].GetMetric() {
		bySeverity[label(m, "severity")] = m.GetGauge().GetValue()
	}
	if bySeverity["critical"] != float64(rep.Summary.Critical) || bySeverity["high"] != float64(rep.Summary.High) {
		t.Errorf("findings by severity %v, the report says %+v", bySeverity, rep.Summary)
	}
	if got := len(families["alertmend_check_not_evaluated"].GetMetric()); got != rep.Summary.NotEvaluated-rep.Summary.NotApplicable {
		t.Errorf("%d checks not evaluated on the gateway, %d in the report", got, rep.Summary.NotEvaluated-rep.Summary.NotApplicable)
	}
	if got := len(families["alertmend_check_not_applicable"].GetMetric()); got != rep.Summary.NotApplicable {
		t.Errorf("%d checks not applicable on the gateway, %d in the report", got, rep.Summary.NotApplicable)
	}

	t.Run("--push-grouping names the cluster and adds labels", func(t *testing.T) {
		r := admin(t, "rbac-audit", "-o", "json", "--push-gateway", gateway.URL, "--push-grouping", "cluster=prod-eu,env=prod")
		audit := r.report(t)
		families, err := gateway.Metrics(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, m := range families["alertmend_checks_run"].GetMetric() {
			if label(m, "cluster") == "prod-eu" {
				found = true
				if label(m, "env") != "prod" || m.GetGauge().GetValue() != float64(audit.Summary.ChecksRun) {
					t.Errorf("the prod-eu group: labels %v, value %v; rbac-audit ran %d checks", m.GetLabel(), m.GetGauge().GetValue(), audit.Summary.ChecksRun)
				}
			}
		}
		if !found {
			t.Errorf("no group cluster=prod-eu on the gateway")
		}
	})

	t.Run("invalid push flags are refused before the cluster is read", func(t *testing.T) {
		assertCleanFailure(t, admin(t, "diagnose", "--push-gateway", "ftp://ci:hunter22@gateway:9091"), `--push-gateway: invalid Pushgateway URL "ftp://ci:xxxxx@gateway:9091"`)
		assertCleanFailure(t, admin(t, "diagnose", "--push-grouping", "env=prod"), "--push-grouping names the group --push-gateway pushes to")
		assertCleanFailure(t, admin(t, "diagnose", "--push-gateway", gateway.URL, "--explain-permissions"), "--explain-permissions writes no report")
		assertCleanFailure(t, admin(t, "diagnose", "--push-gateway", gateway.URL, "--snapshot", "x.gz"), "--push-gateway does not combine with --snapshot")
		assertCleanFailure(t, admin(t, "diagnose", "--push-gateway", gateway.URL, "-f", "x.yaml"), "with -f there is no cluster to group the pushed metrics by")
		assertCleanFailure(t, admin(t, "rbac-audit", "--push-gateway", gateway.URL, "--subject", "user:jane"), "leave out --push-gateway")
		assertCleanFailure(t, admin(t, "diagnose", "--push-gateway", gateway.URL, "--push-grouping", "job=x"), "--push-grouping: the Pushgateway grouping cannot set job")
		assertCleanFailure(t, admin(t, "diagnose", "--push-gateway", gateway.URL, "--push-grouping", "env-name=x"), `--push-grouping: invalid Pushgateway grouping label "env-name"`)
		assertCleanFailure(t, admin(t, "diagnose", "--push-gateway", gateway.URL, "--push-grouping", "cluster=x", "--contexts", testcluster.ContextName),
			"--push-grouping cluster=... would push every cluster of the fleet to one group")
	})

	t.Run("a gateway that cannot be reached: the report is written, then exit 2", func(t *testing.T) {
		down := closedLoopbackURL(t)
		r := admin(t, "diagnose", "-o", "json", "--push-gateway", down)
		if r.report(t) == nil || r.code != report.ExitError || !strings.Contains(r.stderr, "pushing metrics to the Pushgateway at "+down) {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}
