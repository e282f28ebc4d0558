package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/changes"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sampleReport() *report.Report {
	notReadySince := time.Date(2026, 11, 24, 9, 41, 0, 0, time.UTC)
	return &report.Report{
		APIVersion: report.APIVersion,
		Kind:       report.Kind,
		Metadata: report.Metadata{Source: "cluster", Context: "prod-eu", Server: "https://127.0.0.1:6443",
			GeneratedAt: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)},
		Summary: report.Summary{Critical: 1, High: 1, Low: 1, ChecksRun: 7, NotEvaluated: 2, NotApplicable: 1},
		Findings: []check.Finding{
			{ID: "node-not-ready-4a5b6c7d", Check: "node-not-ready", Category: check.CategoryWorkloads, Severity: check.High, Title: "Nodes are not Ready",
				Message: "2 of 5 nodes are not Ready", Remediation: "Look at the kubelet.", Fix: []string{"kubectl describe node n2", "# on the node: journalctl -u kubelet"},
				Objects:  []snapshot.Ref{snapshot.RefTo(snapshot.KindNodes, "", "n2"), snapshot.RefTo(snapshot.KindNodes, "", "n3")},
				Incident: true, Scope: check.ScopeCluster, Since: &notReadySince},
			{ID: "pod-crashloop-0c1d2e3f", Check: "pod-crashloop", Category: check.CategoryWorkloads, Severity: check.Critical, Title: "Containers are crash looping",
				Message: "2 pods of deployment shop/cart are crash looping (container app): no replica is running", Remediation: "Read the previous run's logs.",
				Fix:      []string{"kubectl logs -n shop cart-1 -c app --previous"},
				Objects:  []snapshot.Ref{snapshot.RefTo(snapshot.KindDeployments, "shop", "cart")},
				Evidence: []string{"pod cart-1 container app: restarted 14 times, last exit code 137 (OOMKilled)"}, Incident: true, Scope: check.ScopeObject},
			{Check: "example-risk", Category: check.CategoryResources, Severity: check.Low, Title: "A latent risk",
				Message: "something could break", Remediation: "Prevent it.", Fix: []string{"# in the pod spec:\nresources:\n  limits:\n    memory: 256Mi"},
				Objects: []snapshot.Ref{snapshot.RefTo(snapshot.KindPods, "tools", "debug")}, Scope: check.ScopeObject},
		},
		// The crash loop is on the NotReady nodes: one incident, the nodes first.
		Incidents: []report.Incident{{Title: "Nodes are not Ready", Root: "node-not-ready-4a5b6c7d", Symptoms: []string{"pod-crashloop-0c1d2e3f"},
			Started: &notReadySince, Changes: []changes.Change{{Time: time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC),
				Object: snapshot.RefTo(snapshot.KindDeployments, "shop", "cart"), Kind: "rollout", Summary: "image cart:1.4 -> cart:1.5",
				Manager: "kubectl", Undo: "kubectl rollout undo -n shop deployment/cart --to-revision=3"}}}},
		NotEvaluated: []report.NotEvaluated{
			{Check: "node-pressure", Reason: `cannot read nodes: forbidden: User "bob" cannot list resource "nodes"`, Code: report.CouldNotSee},
			{Check: "usage-near-limit", Reason: "cannot read podmetrics: the metrics API (metrics.k8s.io) is not available", Code: report.NotApplicable},
		},
	}
}

func TestGolden(t *testing.T) {
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, sampleReport(), f, Options{Color: false}); err != nil {
				t.Fatal(err)
			}
			assertGolden(t, "report."+string(f)+".golden", buf.Bytes())
			if strings.Contains(buf.String(), "\x1b[") {
				t.Errorf("%s output has colour codes with colour off", f)
			}
		})
	}
}

func TestColourOnlyWhenAsked(t *testing.T) {
	var coloured bytes.Buffer
	if err := Write(&coloured, sampleReport(), Pretty, Options{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(coloured.String(), "\x1b[") {
		t.Error("pretty output with colour on has no colour codes")
	}
	for _, f := range []Format{JSON, YAML, Table, Wide} {
		var buf bytes.Buffer
		if err := Write(&buf, sampleReport(), f, Options{Color: true}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), "\x1b[") {
			t.Errorf("%s output carries colour codes", f)
		}
	}
}

// The JSON field names are a contract with machines; this fails if one is renamed.
func TestJSONContract(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleReport(), JSON, Options{}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"apiVersion", "kind", "metadata", "summary", "findings", "incidents", "notEvaluated"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("report has no %q", key)
		}
	}
	meta := doc["metadata"].(map[string]any)
	for _, key := range []string{"source", "context", "server", "generatedAt"} {
		if _, ok := meta[key]; !ok {
			t.Errorf("metadata has no %q", key)
		}
	}
	summary := doc["summary"].(map[string]any)
	for _, key := range []string{"critical", "high", "medium", "low", "info", "checksRun", "notEvaluated"} {
		if _, ok := summary[key]; !ok {
			t.Errorf("summary has no %q", key)
		}
	}
	f := doc["findings"].([]any)[1].(map[string]any) // the crash loop, whose object is namespaced
	for _, key := range []string{"id", "check", "category", "severity", "title", "message", "remediation", "fix", "objects"} {
		if _, ok := f[key]; !ok {
			t.Errorf("finding has no %q", key)
		}
	}
	obj := f["objects"].([]any)[0].(map[string]any)
	for _, key := range []string{"apiVersion", "kind", "namespace", "name"} {
		if _, ok := obj[key]; !ok {
			t.Errorf("object has no %q", key)
		}
	}
	incident := doc["incidents"].([]any)[0].(map[string]any)
	for _, key := range []string{"title", "root", "symptoms", "started", "changes"} {
		if _, ok := incident[key]; !ok {
			t.Errorf("incident has no %q", key)
		}
	}
	if incident["root"] != doc["findings"].([]any)[0].(map[string]any)["id"] {
		t.Errorf("the first incident's root %v is not findings[0]", incident["root"])
	}
	ne := doc["notEvaluated"].([]any)[0].(map[string]any)
	if ne["check"] != "node-pressure" || ne["reason"] == "" {
		t.Errorf("notEvaluated entry %v", ne)
	}
}

func TestParseFormat(t *testing.T) {
	if _, err := DocumentReport.ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), `unknown output format "xml" (want one of pretty, table, wide, json, yaml, sarif`) {
		t.Errorf("err = %v", err)
	}
	if _, err := DocumentWhoCan.ParseFormat("sarif"); err == nil || err.Error() != "a WhoCan cannot be written as sarif (want one of pretty, table, wide, json, yaml)" {
		t.Errorf("err = %v", err)
	}
	if f, err := DocumentFleetReport.ParseFormat("prometheus"); err != nil || f != Prometheus {
		t.Errorf("fleet prometheus: %v %v", f, err)
	}
}

// Every document declares at least one format, every format some document is written in is
// known, and no document claims a format twice.
func TestDocumentFormats(t *testing.T) {
	for _, d := range []Document{DocumentReport, DocumentFleetReport, DocumentSubjectAccess, DocumentWhoCan,
		DocumentPermissionReport, DocumentCatalog, DocumentVersion} {
		formats := d.Formats()
		if len(formats) == 0 {
			t.Errorf("%s declares no format", d)
		}
		for i, f := range formats {
			if !slices.Contains(Formats(), f) {
				t.Errorf("%s declares %s, which is no known format", d, f)
			}
			if slices.Contains(formats[:i], f) {
				t.Errorf("%s declares %s twice", d, f)
			}
		}
	}
}
