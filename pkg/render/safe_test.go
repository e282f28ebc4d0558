package render

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// hostile is what a crafted annotation or binding subject could carry: a window-title escape, a
// cursor move, a carriage return that overwrites the line, a C1 control and a right-to-left
// override.
const hostile = "ok\x1b]0;pwned\x07\x1b[2J\rforged\u009b\u202eevil"

func TestTerminalSafe(t *testing.T) {
	got := TerminalSafe(hostile + "\nnext")
	want := `ok\x1b]0;pwned\x07\x1b[2J\rforged\x9b\u202eevil\nnext`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if plain := "café\tnaïve — ✔ 日本"; TerminalSafe(plain) != plain {
		t.Errorf("printable text changed: %q", TerminalSafe(plain))
	}
}

// No human format prints a control character from the cluster, in colour or not; the machine
// formats keep the data as it is, encoded.
func TestReportsForPeopleEscapeClusterText(t *testing.T) {
	r := sampleReport()
	f := &r.Findings[0]
	f.Message += hostile
	f.Evidence = append(f.Evidence, "event: "+hostile)
	f.Objects = append(f.Objects, snapshot.Ref{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: hostile})
	f.Fix = append(f.Fix, "kubectl apply -f - <<'EOF'\nkind: NetworkPolicy\nEOF")
	r.NotEvaluated = append(r.NotEvaluated, report.NotEvaluated{Check: "x", Reason: hostile})
	for _, format := range []Format{Pretty, Table, Wide} {
		var out bytes.Buffer
		if err := Write(&out, r, format, Options{}); err != nil {
			t.Fatal(err)
		}
		text := out.String()
		if strings.ContainsAny(text, "\x1b\r\u009b\u202e\x07") {
			t.Errorf("%s output carries a raw control character:\n%q", format, text)
		}
		if !strings.Contains(text, `\x1b]0;pwned`) {
			t.Errorf("%s output does not show the escaped text", format)
		}
		if format == Pretty && !strings.Contains(text, "kind: NetworkPolicy\n") {
			t.Errorf("the fix's own lines were escaped:\n%s", text)
		}
	}
	if r.Findings[0].Evidence[len(r.Findings[0].Evidence)-1] != "event: "+hostile {
		t.Error("rendering changed the report")
	}
	var out bytes.Buffer
	if err := Write(&out, r, JSON, Options{}); err != nil {
		t.Fatal(err)
	}
	var back report.Report
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back.Findings[0].Message != r.Findings[0].Message {
		t.Errorf("JSON must carry the data unchanged: %v", err)
	}
}

func TestAccessTablesEscapeSubjects(t *testing.T) {
	grant := report.AccessGrant{Subject: report.Subject{Kind: "User", Name: hostile},
		Binding: snapshot.Ref{Kind: "ClusterRoleBinding", Name: "b"}, Role: snapshot.Ref{Kind: "ClusterRole", Name: "r"},
		Rule: rbacv1.PolicyRule{Verbs: []string{"get"}, Resources: []string{"pods"}}}
	var out bytes.Buffer
	if err := WriteWhoCan(&out, &report.WhoCan{Grants: []report.AccessGrant{grant}}, Table); err != nil {
		t.Fatal(err)
	}
	if err := WriteSubjectAccess(&out, &report.SubjectAccess{Subject: grant.Subject, User: hostile, Grants: []report.AccessGrant{grant}}, Wide); err != nil {
		t.Fatal(err)
	}
	if text := out.String(); strings.ContainsAny(text, "\x1b\r\u009b\u202e\x07") || !strings.Contains(text, `\x1b]0;pwned`) {
		t.Errorf("access tables carry raw control characters:\n%q", text)
	}
}
