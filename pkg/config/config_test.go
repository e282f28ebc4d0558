package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

var testChecks = []string{"container-no-limits", "pod-crashloop", "rbac-cluster-admin", "rbac-secrets-read"}

func TestParseTheDocumentedFormat(t *testing.T) {
	text := `apiVersion: alertmend.io/v1alpha1
kind: Config
failOn: medium
severity:
  container-no-limits: low
ignore:
  - check: "rbac-*"
    kind: Deployment
    namespace: "legacy-*"
    name: "batch-*"
    selector: "team=data"
    reason: sized by the VPA
    expires: 2027-01-31
  - check: pod-crashloop
    reason: a known flake
`
	cfg, err := Parse(".alertmend.yaml", []byte(text), testChecks)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.FailOnSet || cfg.FailOn != check.Medium || cfg.Severity["container-no-limits"] != check.Low {
		t.Errorf("failOn %q set %v, severity %v", cfg.FailOn, cfg.FailOnSet, cfg.Severity)
	}
	if len(cfg.Ignore) != 2 {
		t.Fatalf("rules %+v", cfg.Ignore)
	}
	first := cfg.Ignore[0]
	if first.Line != 7 || first.Check != "rbac-*" || first.Kind != "Deployment" || first.Namespace != "legacy-*" ||
		first.Name != "batch-*" || first.Reason != "sized by the VPA" || first.Expires != "2027-01-31" || cfg.Ignore[1].Line != 14 {
		t.Errorf("first rule %+v", first)
	}
	if !first.Selector.Matches(labels.Set{"team": "data"}) || first.Selector.Matches(labels.Set{"team": "web"}) {
		t.Errorf("selector %v", first.Selector)
	}
	if got := first.Where(cfg.File); got != ".alertmend.yaml:7" {
		t.Errorf("Where = %q", got)
	}
}

func TestFailOnNoneAndEmptyFiles(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("failOn: none\n"), testChecks)
	if err != nil || !cfg.FailOnSet || cfg.FailOn != "" {
		t.Errorf("failOn none: %+v %v", cfg, err)
	}
	for _, empty := range []string{"", "# only a comment\n", "---\n"} {
		cfg, err := Parse("c.yaml", []byte(empty), testChecks)
		if err != nil || cfg.FailOnSet || len(cfg.Ignore) != 0 {
			t.Errorf("%q: %+v %v", empty, cfg, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	rule := IgnoreRule{Expires: "2027-01-31"}
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02 15:04", s); return d }
	if rule.Expired(day("2027-01-30 23:59")) || !rule.Expired(day("2027-01-31 00:00")) || !rule.Expired(day("2027-02-01 12:00")) {
		t.Error("a rule expires on the day its expires field names, not before")
	}
	if (IgnoreRule{}).Expired(day("2999-01-01 00:00")) {
		t.Error("a rule without expires never expires")
	}
}

// Every mistake names the file and the line, so a typo cannot silently widen the gate.
func TestMistakesNameTheLine(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"unknown top-level field", "failOn: high\nignores: []\n", `c.yaml:2: unknown field "ignores"`},
		{"unknown rule field", "ignore:\n  - check: pod-crashloop\n    reason: x\n    namespaces: a\n", `c.yaml:4: unknown field "namespaces"`},
		{"rule without a reason", "ignore:\n  - check: pod-crashloop\n", "c.yaml:2: ignore rule without a reason"},
		{"blank reason", "ignore:\n  - check: pod-crashloop\n    reason: '  '\n", "c.yaml:2: ignore rule without a reason"},
		{"unknown check in a rule", "ignore:\n  - check: pod-crashlop\n    reason: x\n", `c.yaml:2: check: "pod-crashlop" matches no check (did you mean "pod-crashloop"?)`},
		{"glob matching no check", "ignore:\n  - check: 'dns-*'\n    reason: x\n", `c.yaml:2: check: "dns-*" matches no check`},
		{"invalid glob", "ignore:\n  - name: '[a'\n    reason: x\n", `c.yaml:2: name: "[a" is not a valid glob`},
		{"bad selector", "ignore:\n  - selector: 'team in (a'\n    reason: x\n", "c.yaml:2: selector:"},
		{"bad date", "ignore:\n  - check: pod-crashloop\n    reason: x\n    expires: 31/01/2027\n", `c.yaml:4: expires: "31/01/2027" is not a date`},
		{"unknown check in severity", "severity:\n  pod-crashlop: low\n", `c.yaml:2: severity: unknown check "pod-crashlop" (did you mean "pod-crashloop"?)`},
		{"far from every check", "severity:\n  nothing-like-it: low\n", "c.yaml:2: severity: unknown check \"nothing-like-it\" (run `kubectl alertmend checks` for the list)"},
		{"bad severity", "severity:\n  pod-crashloop: urgent\n", "c.yaml:2: severity of pod-crashloop:"},
		{"bad failOn", "\nfailOn: severe\n", "c.yaml:2: failOn:"},
		{"wrong apiVersion", "apiVersion: alertmend.io/v2\n", `c.yaml:1: apiVersion is "alertmend.io/v2"`},
		{"wrong kind", "kind: Report\n", `c.yaml:1: kind is "Report"`},
		{"ignore not a list", "ignore:\n  check: x\n", "c.yaml:2: ignore must be a list"},
		{"repeated field", "failOn: high\nfailOn: low\n", `c.yaml:2: field "failOn" is given twice`},
		{"not a mapping", "- a\n- b\n", "c.yaml:1: the config must be a mapping"},
		{"invalid YAML", "failOn: high\nignore: [\n", "c.yaml:2: not valid YAML"},
		{"two documents", "failOn: high\n---\nfailOn: low\n", "c.yaml:3: more than one YAML document"},
		{"anchors", "ignore:\n  - &r {check: pod-crashloop, reason: x}\n  - *r\n", "c.yaml:2: YAML anchors and aliases are not supported"},
		{"tabs", "failOn: high\n\tignore: []\n", "c.yaml:2: not valid YAML"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(c.text), testChecks)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("error %v, want one starting with %q", err, c.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "absent.yaml"), testChecks); err == nil || !strings.Contains(err.Error(), "absent.yaml: cannot read the config file: no such file or directory") {
		t.Errorf("absent file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	os.WriteFile(big, []byte(strings.Repeat("# padding\n", maxFileSize/10+1)), 0o644)
	if _, err := Load(big, testChecks); err == nil || !strings.Contains(err.Error(), "a config file is a few kilobytes") {
		t.Errorf("huge file: %v", err)
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("failOn: low\n"), 0o644)
	if cfg, err := Load(good, testChecks); err != nil || cfg.FailOn != check.Low || cfg.File != good {
		t.Errorf("good file: %+v %v", cfg, err)
	}
}

func TestDescribe(t *testing.T) {
	if got := (IgnoreRule{}).Describe(); got != "every finding" {
		t.Errorf("%q", got)
	}
	if got := (IgnoreRule{Check: "rbac-*", Namespace: "ci"}).Describe(); got != "check=rbac-* namespace=ci" {
		t.Errorf("%q", got)
	}
}

// FuzzParse feeds arbitrary text to the config loader: a config or an *Error naming the file,
// never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("failOn: medium\nseverity:\n  pod-crashloop: low\nignore:\n  - check: 'rbac-*'\n    selector: a in (b)\n    reason: r\n    expires: 2027-01-31\n"))
	f.Add([]byte("ignore: [{check: pod-crashloop, reason: x}, {name: '[', reason: y}]\n"))
	f.Add([]byte("a: &x [*x, *x]\n"))
	f.Add([]byte("\xff\xfe\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("fuzz.yaml", data, testChecks)
		var cfgErr *Error
		if err != nil && (!errors.As(err, &cfgErr) || cfgErr.File != "fuzz.yaml") {
			t.Fatalf("error %T %v, want *Error naming the file", err, err)
		}
	})
}
