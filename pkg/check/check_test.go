package check

import (
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestParseSeverity(t *testing.T) {
	for _, v := range []string{"critical", "HIGH", " medium ", "low", "info"} {
		if _, err := ParseSeverity(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Error("accepted an unknown severity")
	}
}

func TestAtLeast(t *testing.T) {
	if !Critical.AtLeast(High) || !High.AtLeast(High) || Medium.AtLeast(High) || !Info.AtLeast(Info) {
		t.Error("AtLeast ranks severities wrongly")
	}
}

func TestMetaValidate(t *testing.T) {
	good := Meta{ID: "pod-crashloop", Title: "t", Category: CategoryWorkloads, Severity: High, Requires: []snapshot.Kind{snapshot.KindPods},
		Description: "d", Why: "w", Remediation: "r"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Meta){
		"camel ID":     func(m *Meta) { m.ID = "podCrashLoop" },
		"bad category": func(m *Meta) { m.Category = "misc" },
		"no severity":  func(m *Meta) { m.Severity = "" },
		"no docs":      func(m *Meta) { m.Why = "" },
		"no kinds":     func(m *Meta) { m.Requires = nil },
	} {
		m := good
		mutate(&m)
		if m.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A run limited to a namespace leaves out the checks that need the whole cluster and those of
// components in other namespaces, each with its own reason; a whole-cluster run leaves out none.
func TestOutOfNamespace(t *testing.T) {
	plain := Meta{ID: "pod-crashloop"}
	wide := Meta{ID: "node-memory-overcommit", WholeCluster: true}
	dns := Meta{ID: "dns-unavailable", ComponentNamespaces: []string{"kube-system", "openshift-dns"}}
	cases := []struct {
		meta      Meta
		namespace string
		want      string
	}{
		{plain, "shop", ""},
		{wide, "", ""},
		{dns, "", ""},
		{wide, "shop", "needs objects beyond namespace shop, to which the run was limited (-n)"},
		{wide, "kube-system", "needs objects beyond namespace kube-system, to which the run was limited (-n)"},
		{dns, "shop", "judges what runs in kube-system or openshift-dns, beyond namespace shop, to which the run was limited (-n)"},
		{dns, "openshift-dns", ""},
		{dns, "kube-system", ""},
	}
	for _, tc := range cases {
		if got := tc.meta.OutOfNamespace(tc.namespace); got != tc.want {
			t.Errorf("%s in %q: %q, want %q", tc.meta.ID, tc.namespace, got, tc.want)
		}
	}
}
