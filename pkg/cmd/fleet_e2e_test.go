//go:build e2e

package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// fleetKubeconfig writes one kubeconfig with three contexts: alpha, the package's scenario
// cluster; beta, a second control plane of its own with nothing deployed; and gamma-down, a
// third one, stopped before any run, so its server refuses connections.
func fleetKubeconfig(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	beta, err := testcluster.Start(ctx, testcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(beta.Stop)
	gamma, err := testcluster.Start(ctx, testcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	merged := clientcmdapi.NewConfig()
	for _, c := range []struct {
		name       string
		kubeconfig string
	}{{"alpha", cluster.Kubeconfig}, {"beta", beta.Kubeconfig}, {"gamma-down", gamma.Kubeconfig}} {
		loaded, err := clientcmd.LoadFromFile(c.kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		// The certificates are inline, so gamma's kubeconfig stays whole when its directory goes.
		current := loaded.Contexts[loaded.CurrentContext]
		merged.Clusters[c.name] = loaded.Clusters[current.Cluster]
		merged.AuthInfos[c.name] = loaded.AuthInfos[current.AuthInfo]
		merged.Contexts[c.name] = &clientcmdapi.Context{Cluster: c.name, AuthInfo: c.name}
	}
	merged.CurrentContext = "alpha"
	gamma.Stop()
	path := filepath.Join(t.TempDir(), "fleet.kubeconfig")
	if err := clientcmd.WriteToFile(*merged, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// worstExit is the fleet's exit code by the rule the issue sets: 2 if any cluster could not be
// diagnosed, else the worst of 1, 3 and 0, in that order.
func worstExit(codes ...int) int {
	for _, code := range []int{report.ExitError, report.ExitGateFailed, report.ExitIncomplete} {
		if slices.Contains(codes, code) {
			return code
		}
	}
	return report.ExitOK
}

func fleetReport(t *testing.T, r result) *report.FleetReport {
	t.Helper()
	var fleet report.FleetReport
	if err := json.Unmarshal([]byte(r.stdout), &fleet); err != nil {
		t.Fatalf("stdout is not a JSON fleet report: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return &fleet
}

func TestFleet(t *testing.T) {
	kubeconfig := fleetKubeconfig(t)
	fleet := func(args ...string) result {
		t.Helper()
		return run(t, testEnv{}, append(args, "--kubeconfig", kubeconfig)...)
	}
	// What each cluster's own run says, to hold the fleet's entries to.
	alone := map[string]result{}
	for _, name := range []string{"alpha", "beta"} {
		alone[name] = fleet("diagnose", "-o", "json", "--context", name)
		if alone[name].code == report.ExitError {
			t.Fatalf("diagnose --context %s: exit 2: %s", name, alone[name].stderr)
		}
	}
	if down := fleet("diagnose", "--context", "gamma-down"); down.code != report.ExitError {
		t.Fatalf("the stopped cluster answered: exit %d", down.code)
	}

	t.Run("one report per cluster, the unreachable one with its error, exit 2", func(t *testing.T) {
		r := fleet("diagnose", "--contexts", "gamma-down,alpha,beta", "-o", "json")
		got := fleetReport(t, r)
		if r.code != report.ExitError {
			t.Errorf("exit %d, want 2 while gamma-down is unreachable", r.code)
		}
		if got.APIVersion != report.APIVersion || got.Kind != "FleetReport" {
			t.Errorf("apiVersion %q kind %q", got.APIVersion, got.Kind)
		}
		var contexts []string
		for _, c := range got.Clusters {
			contexts = append(contexts, c.Context)
		}
		if !slices.Equal(contexts, []string{"gamma-down", "alpha", "beta"}) {
			t.Fatalf("clusters %q, want the order --contexts gave", contexts)
		}
		if !strings.Contains(r.stderr, "[gamma-down] error: cannot reach the Kubernetes API server") {
			t.Errorf("stderr does not say which cluster failed:\n%s", r.stderr)
		}
		down := got.Clusters[0]
		if down.Report != nil || down.ExitCode != report.ExitError || !strings.Contains(down.Error, "cannot reach the Kubernetes API server") ||
			!strings.Contains(down.Error, "gamma-down") {
			t.Errorf("gamma-down: exit %d, error %q, report %v", down.ExitCode, down.Error, down.Report != nil)
		}
		var want report.FleetSummary
		want.Clusters, want.Failed = 3, 1
		for _, c := range got.Clusters[1:] {
			own := alone[c.Context].report(t)
			if c.Report == nil || c.Error != "" {
				t.Fatalf("%s: not diagnosed: %s", c.Context, c.Error)
			}
			if c.Report.Metadata.Context != c.Context || c.ExitCode != alone[c.Context].code {
				t.Errorf("%s: report of context %q, exit %d; alone it exits %d", c.Context, c.Report.Metadata.Context, c.ExitCode, alone[c.Context].code)
			}
			if !slices.Equal(findingKeys(c.Report), findingKeys(own)) || c.Report.Summary != own.Summary {
				t.Errorf("%s: findings %q %+v\nalone %q %+v", c.Context, findingKeys(c.Report), c.Report.Summary, findingKeys(own), own.Summary)
			}
			s := own.Summary
			want.Critical += s.Critical
			want.High += s.High
			want.Medium += s.Medium
			want.Low += s.Low
			want.Info += s.Info
			want.NotEvaluated += s.NotEvaluated
			want.NotApplicable += s.NotApplicable
			want.Suppressed += s.Suppressed
		}
		if got.Summary != want {
			t.Errorf("summary %+v, want %+v", got.Summary, want)
		}
		if len(findingKeys(got.Clusters[1].Report)) == len(findingKeys(got.Clusters[2].Report)) {
			t.Errorf("alpha and beta report alike; the test needs clusters that differ")
		}
	})

	t.Run("the summary table and the worst cluster's exit code", func(t *testing.T) {
		r := fleet("diagnose", "--contexts", "alpha,beta")
		if want := worstExit(alone["alpha"].code, alone["beta"].code); r.code != want {
			t.Errorf("exit %d, want %d (alpha alone %d, beta alone %d)", r.code, want, alone["alpha"].code, alone["beta"].code)
		}
		for _, name := range []string{"alpha", "beta"} {
			if !strings.Contains(r.stdout, "══ "+name+" ") {
				t.Errorf("no header for %s:\n%s", name, r.stdout)
			}
		}
		rows := summaryRows(t, r.stdout)
		for _, name := range []string{"alpha", "beta"} {
			s := alone[name].report(t).Summary
			want := []string{name, fmt.Sprint(s.Critical), fmt.Sprint(s.High), fmt.Sprint(s.Medium), fmt.Sprint(s.Low), fmt.Sprint(s.Info), fmt.Sprint(s.NotEvaluated - s.NotApplicable)}
			if !slices.Equal(rows[name], want) {
				t.Errorf("summary row %q, want %q", rows[name], want)
			}
		}

		down := fleet("diagnose", "--contexts", "alpha,gamma-down", "--color", "never")
		if down.code != report.ExitError || !strings.Contains(down.stdout, "✖ not diagnosed: cannot reach the Kubernetes API server") {
			t.Errorf("exit %d, stdout:\n%s", down.code, down.stdout)
		}
		row := summaryRows(t, down.stdout)["gamma-down"]
		if len(row) < 8 || !slices.Equal(row[1:7], []string{"-", "-", "-", "-", "-", "-"}) || !strings.HasPrefix(strings.Join(row[7:], " "), "cannot reach") {
			t.Errorf("gamma-down's row %q", row)
		}
	})

	t.Run("--all-contexts, with a glob", func(t *testing.T) {
		contextsOf := func(r result) []string {
			t.Helper()
			var names []string
			for _, c := range fleetReport(t, r).Clusters {
				names = append(names, c.Context)
			}
			return names
		}
		if got := contextsOf(fleet("diagnose", "--all-contexts", "-o", "json")); !slices.Equal(got, []string{"alpha", "beta", "gamma-down"}) {
			t.Errorf("--all-contexts ran %q", got)
		}
		if got := contextsOf(fleet("diagnose", "--all-contexts=[ab]*", "-o", "json")); !slices.Equal(got, []string{"alpha", "beta"}) {
			t.Errorf("--all-contexts=[ab]* ran %q", got)
		}
		serial := fleet("diagnose", "--all-contexts=[ab]*", "-o", "json", "--parallel", "1")
		parallel := fleet("diagnose", "--all-contexts=[ab]*", "-o", "json")
		if serial.stdout != parallel.stdout || serial.code != parallel.code {
			t.Errorf("--parallel 1 and the default disagree:\n%s\n%s", serial.stdout, parallel.stdout)
		}
	})

	t.Run("rbac-audit over the fleet", func(t *testing.T) {
		r := fleet("rbac-audit", "--contexts", "alpha,beta", "-o", "yaml")
		var got report.FleetReport
		if err := sigsyaml.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		ownAlpha := fleet("rbac-audit", "--context", "alpha", "-o", "json")
		ownBeta := fleet("rbac-audit", "--context", "beta", "-o", "json")
		if got.Kind != "FleetReport" || len(got.Clusters) != 2 || got.Clusters[0].Report == nil || got.Clusters[1].Report == nil {
			t.Fatalf("%+v", got)
		}
		if !slices.Equal(findingKeys(got.Clusters[0].Report), findingKeys(ownAlpha.report(t))) ||
			!slices.Equal(findingKeys(got.Clusters[1].Report), findingKeys(ownBeta.report(t))) {
			t.Errorf("rbac-audit findings differ from each cluster's own run")
		}
		if want := worstExit(ownAlpha.code, ownBeta.code); r.code != want {
			t.Errorf("exit %d, want %d", r.code, want)
		}
	})

	t.Run("-o prometheus: every cluster's series, labelled, and which could not be diagnosed", func(t *testing.T) {
		r := fleet("diagnose", "--contexts", "alpha,beta,gamma-down", "-o", "prometheus")
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(r.stdout))
		if err != nil || r.code != report.ExitError {
			t.Fatalf("exit %d, %v\n%s", r.code, err, r.stdout)
		}
		clusterError := map[string]float64{}
		for _, m := range families["alertmend_cluster_error"].GetMetric() {
			clusterError[label(m, "cluster")] = m.GetGauge().GetValue()
		}
		if fmt.Sprint(clusterError) != "map[alpha:0 beta:0 gamma-down:1]" {
			t.Errorf("alertmend_cluster_error %v", clusterError)
		}
		critical := map[string]float64{}
		for _, m := range families["alertmend_findings_by_severity"].GetMetric() {
			if label(m, "severity") == "critical" {
				critical[label(m, "cluster")] = m.GetGauge().GetValue()
			}
		}
		for _, name := range []string{"alpha", "beta"} {
			if want := float64(alone[name].report(t).Summary.Critical); critical[name] != want {
				t.Errorf("%s: %v critical findings in the metrics, %v in its report", name, critical[name], want)
			}
		}
		if _, ok := critical["gamma-down"]; ok {
			t.Errorf("findings counted for the cluster that was not diagnosed")
		}
	})

	t.Run("each cluster's notes on stderr, prefixed with its context", func(t *testing.T) {
		config := filepath.Join(t.TempDir(), "alertmend.yaml")
		rule := "ignore:\n  - check: pod-crashloop\n    reason: old\n    expires: 2026-01-01\n"
		if err := os.WriteFile(config, []byte(rule), 0o600); err != nil {
			t.Fatal(err)
		}
		r := fleet("diagnose", "--contexts", "alpha,beta", "--config", config, "-o", "json")
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		var prefixes []string
		for _, line := range lines {
			prefix, rest, _ := strings.Cut(line, " ")
			if !strings.HasPrefix(rest, "warning: ") || !strings.Contains(rest, "expired on 2026-01-01") {
				t.Errorf("stderr line %q", line)
			}
			prefixes = append(prefixes, prefix)
		}
		slices.Sort(prefixes)
		if !slices.Equal(prefixes, []string{"[alpha]", "[beta]"}) {
			t.Errorf("stderr:\n%s", r.stderr)
		}
	})

	t.Run("a push per cluster diagnosed", func(t *testing.T) {
		gateway := testcluster.RunPushgateway(t)
		r := fleet("diagnose", "--contexts", "alpha,beta,gamma-down", "-o", "json", "--push-gateway", gateway.URL)
		if r.code != report.ExitError || len(fleetReport(t, r).Clusters) != 3 {
			t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
		}
		families, err := gateway.Metrics(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		checksRun := map[string]float64{}
		for _, m := range families["alertmend_checks_run"].GetMetric() {
			if label(m, "job") != "kubectl-alertmend" {
				t.Errorf("job %q", label(m, "job"))
			}
			checksRun[label(m, "cluster")] = m.GetGauge().GetValue()
		}
		want := fmt.Sprintf("map[alpha:%d beta:%d]", alone["alpha"].report(t).Summary.ChecksRun, alone["beta"].report(t).Summary.ChecksRun)
		if fmt.Sprint(checksRun) != want {
			t.Errorf("alertmend_checks_run on the gateway %v, want %s", checksRun, want)
		}
	})

	t.Run("one baseline for every cluster", func(t *testing.T) {
		baseline := filepath.Join(t.TempDir(), "baseline.yaml")
		if r := fleet("diagnose", "--context", "alpha", "--write-baseline", baseline, "-o", "json"); r.code == report.ExitError {
			t.Fatalf("--write-baseline: %s", r.stderr)
		}
		r := fleet("diagnose", "--contexts", "alpha,beta", "--baseline", baseline, "-o", "json")
		got := fleetReport(t, r)
		alpha := got.Clusters[0].Report
		if alpha == nil || alpha.Summary.Baselined != len(alpha.Findings) || len(alpha.Findings) == 0 {
			t.Fatalf("alpha: %+v", got.Clusters[0])
		}
		// alpha's findings are known now; beta's dns-not-found is not in alpha's baseline.
		if got.Clusters[0].ExitCode == report.ExitGateFailed || got.Clusters[1].ExitCode != alone["beta"].code {
			t.Errorf("exit codes %d and %d; beta alone exits %d", got.Clusters[0].ExitCode, got.Clusters[1].ExitCode, alone["beta"].code)
		}
	})

	t.Run("--contexts completes the kubeconfig's contexts", func(t *testing.T) {
		args := []string{"diagnose", "--kubeconfig", kubeconfig, "--contexts", "alpha,"}
		complete(t, args...).wantValues(t, args, []string{"alpha,beta", "alpha,gamma-down"})
		args = []string{"rbac-audit", "--kubeconfig", kubeconfig, "--contexts", "g"}
		complete(t, args...).wantValues(t, args, []string{"gamma-down"})
	})

	t.Run("usage errors", func(t *testing.T) {
		for _, c := range []struct {
			args    []string
			message string
		}{
			{[]string{"diagnose", "--contexts", "alpha,nope"}, `no context "nope" in the kubeconfig; there are alpha, beta, gamma-down`},
			{[]string{"diagnose", "--contexts", "alpha,bta"}, `no context "bta" in the kubeconfig (did you mean "beta"?); there are alpha, beta, gamma-down`},
			{[]string{"diagnose", "--contexts", "alpha", "--all-contexts"}, "--contexts and --all-contexts both choose the clusters"},
			{[]string{"diagnose", "--all-contexts", "prod-*"}, "give --all-contexts its glob after =, as in --all-contexts='prod-*'"},
			{[]string{"rbac-audit", "--all-contexts", "prod-*"}, "give --all-contexts its glob after ="},
			{[]string{"diagnose", "--all-contexts=prod-*"}, `no kubeconfig context matches --all-contexts="prod-*"; there are alpha, beta, gamma-down`},
			{[]string{"diagnose", "--all-contexts=[a"}, `invalid --all-contexts glob "[a"`},
			{[]string{"diagnose", "--contexts", "alpha", "--context", "beta"}, "--context does not combine with --contexts or --all-contexts"},
			{[]string{"diagnose", "--contexts", "alpha", "-o", "sarif"}, "-o sarif describes one cluster"},
			{[]string{"diagnose", "--contexts", "alpha", "-o", "junit"}, "-o junit describes one cluster"},
			{[]string{"diagnose", "--contexts", "alpha", "-f", "deploy/"}, "--filename does not combine"},
			{[]string{"diagnose", "--contexts", "alpha", "--object", "pod/x"}, "--object does not combine"},
			{[]string{"diagnose", "--contexts", "alpha", "--write-baseline", "b.yaml"}, "--write-baseline does not combine"},
			{[]string{"diagnose", "--contexts", "alpha", "--prometheus-url", "http://127.0.0.1:1"}, "--prometheus-url does not combine"},
			{[]string{"rbac-audit", "--contexts", "alpha", "--subject", "user:jane"}, "--subject does not combine"},
			{[]string{"diagnose", "--contexts", "alpha", "--parallel", "0"}, "invalid --parallel 0"},
			{[]string{"diagnose", "--parallel", "2"}, "--parallel applies to fleet runs"},
			{[]string{"diagnose", "--contexts", "alpha", "--push-gateway", "pushgateway:9091"}, "--push-gateway: invalid Pushgateway URL"},
			{[]string{"diagnose", "--contexts="}, "--contexts is empty"},
			{[]string{"diagnose", "--contexts", "alpha,beta", "--token", "secret"}, "--token does not combine with --contexts or --all-contexts: each context has its own credentials"},
			{[]string{"diagnose", "--all-contexts", "--certificate-authority", "ca.pem"}, "--certificate-authority does not combine"},
			{[]string{"diagnose", "--all-contexts", "--insecure-skip-tls-verify"}, "--insecure-skip-tls-verify does not combine"},
			{[]string{"rbac-audit", "--all-contexts", "--who-can", "get", "secrets"}, "--who-can does not combine"},
		} {
			r := fleet(c.args...)
			if r.stdout != "" {
				t.Errorf("%q: wrote %q", c.args, r.stdout)
			}
			if r.code != report.ExitError || !strings.Contains(r.stderr, c.message) || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("%q: exit %d, stderr %q, want it to say %q", c.args, r.code, r.stderr, c.message)
			}
		}
	})
}

func TestMatchContexts(t *testing.T) {
	known := []string{"alpha", "arn:aws:eks:eu-west-1:123456789012:cluster/prod", "shop/api-c1:6443/admin", "staging"}
	for glob, want := range map[string][]string{
		"*":                known,
		"arn:aws:eks:*":    {"arn:aws:eks:eu-west-1:123456789012:cluster/prod"},
		"*/prod":           {"arn:aws:eks:eu-west-1:123456789012:cluster/prod"},
		"shop/*":           {"shop/api-c1:6443/admin"},
		"[as]*":            {"alpha", "arn:aws:eks:eu-west-1:123456789012:cluster/prod", "shop/api-c1:6443/admin", "staging"},
		"?taging":          {"staging"},
		"nothing-matches*": nil,
	} {
		got, err := matchContexts(known, glob)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: %q, %v; want %q", glob, got, err, want)
		}
	}
	if _, err := matchContexts(known, "[a"); err == nil {
		t.Errorf("an unterminated class is accepted")
	}
}

// summaryRows reads the fleet summary table at the end of a people's report, by context.
func summaryRows(t *testing.T, stdout string) map[string][]string {
	t.Helper()
	_, table, found := strings.Cut(stdout, "\nFLEET  ")
	if !found {
		t.Fatalf("no fleet summary:\n%s", stdout)
	}
	lines := strings.Split(table, "\n")
	if len(lines) < 2 || !slices.Equal(strings.Fields(lines[1]), []string{"CONTEXT", "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO", "NOT", "EVALUATED", "ERROR"}) {
		t.Fatalf("summary table header %q", lines[1:])
	}
	rows := map[string][]string{}
	for _, line := range lines[2:] {
		if fields := strings.Fields(line); len(fields) > 0 && !strings.Contains(line, "clusters:") {
			rows[fields[0]] = fields
		}
	}
	return rows
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// closedLoopbackURL is an http URL on loopback where nothing listens.
func closedLoopbackURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}
