package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestBaselineRoundTrip(t *testing.T) {
	web := snapshot.RefTo(snapshot.KindDeployments, "shop", "web")
	cart := snapshot.RefTo(snapshot.KindDeployments, "shop", "cart")
	findings := []check.Finding{
		{Check: "pod-crashloop", Severity: check.High, Objects: []snapshot.Ref{web}},
		{Check: "netpol-ingress-unisolated", Severity: check.Low, Objects: []snapshot.Ref{web, cart}},
		{Check: "pod-crashloop", Severity: check.High, Objects: []snapshot.Ref{web}}, // a duplicate is recorded once
	}
	file := filepath.Join(t.TempDir(), "baseline.yaml")
	if err := WriteBaseline(file, NewBaseline(findings)); err != nil {
		t.Fatal(err)
	}
	written, _ := os.ReadFile(file)
	if !strings.HasPrefix(string(written), "apiVersion: alertmend.io/v1alpha1\nfindings:\n- check: netpol-ingress-unisolated\n  objects:\n  - shop/deployment/cart\n") {
		t.Errorf("baseline file:\n%s", written)
	}
	b, err := ReadBaseline(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Findings) != 2 {
		t.Errorf("entries %+v", b.Findings)
	}
	// Matching ignores object order, message, evidence, severity and API version.
	moved := snapshot.Ref{APIVersion: "apps/v1beta2", Kind: "Deployment", Namespace: "shop", Name: "web"}
	if !b.Has(check.Finding{Check: "netpol-ingress-unisolated", Severity: check.Medium, Message: "new words", Objects: []snapshot.Ref{cart, moved}}) {
		t.Error("the same finding reordered and reworded is not recognised")
	}
	if b.Has(check.Finding{Check: "netpol-ingress-unisolated", Objects: []snapshot.Ref{web}}) ||
		b.Has(check.Finding{Check: "pod-crashloop", Objects: []snapshot.Ref{cart}}) {
		t.Error("a finding about other objects counts as known")
	}
}

func TestReadBaselineErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	cases := map[string]string{
		write("report.yaml", "apiVersion: alertmend.io/v1alpha1\nkind: Report\nfindings: []\n"):                  `kind "Report"`,
		write("typo.yaml", "apiVersion: alertmend.io/v1alpha1\nkind: Baseline\nfinding: []\n"):                   `unknown field "finding"`,
		write("nocheck.yaml", "apiVersion: alertmend.io/v1alpha1\nkind: Baseline\nfindings: [{objects: []}]\n"):  "finding 1 has no check",
		write("wrongtype.yaml", "apiVersion: alertmend.io/v1alpha1\nkind: Baseline\nfindings: [{check: [a]}]\n"): "is not a baseline file: findings.check: got a list, want a string",
		write("garbage.yaml", "\x00\x01{["): "is not a baseline file",
		filepath.Join(dir, "absent.yaml"):   "no such file or directory",
	}
	for file, want := range cases {
		_, err := ReadBaseline(file)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: %v, want %q", filepath.Base(file), err, want)
		}
		if err != nil && (strings.Contains(err.Error(), "json:") || strings.Contains(err.Error(), "Go struct")) {
			t.Errorf("%s: %v speaks of the decoder", filepath.Base(file), err)
		}
	}
}
