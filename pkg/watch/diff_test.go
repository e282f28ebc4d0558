package watch

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func finding(checkID string, severity check.Severity, message string, objects ...string) check.Finding {
	f := check.Finding{Check: checkID, Severity: severity, Title: checkID + " title", Message: message}
	for _, name := range objects {
		f.Objects = append(f.Objects, snapshot.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: name})
	}
	f.ID = check.FindingID(f)
	return f
}

func types(events []Event) []string {
	var out []string
	for _, e := range events {
		name := e.Finding.Check
		if e.Type == NotEvaluated {
			name = e.NotEvaluated.Check
		}
		out = append(out, string(e.Type)+" "+name+" "+strings.Join(e.Changes, ";"))
	}
	return out
}

func TestDifferTellsNewChangedResolved(t *testing.T) {
	var d Differ
	cart := finding("deployment-unavailable", check.High, "1 of 2", "cart")
	web := finding("deployment-unavailable", check.Medium, "1 of 3", "web")
	if got := types(d.Next([]check.Finding{cart, web}, nil, nil)); strings.Join(got, "|") != "new deployment-unavailable |new deployment-unavailable " {
		t.Fatalf("first evaluation: %q, want both new", got)
	}
	if got := d.Next([]check.Finding{cart, web}, nil, nil); len(got) != 0 {
		t.Fatalf("nothing changed, yet %q", types(got))
	}
	// A message that changes (counts, ages) is no change; a severity is.
	worse := finding("deployment-unavailable", check.Critical, "0 of 2", "cart")
	got := d.Next([]check.Finding{worse, finding("deployment-unavailable", check.Medium, "2 of 3", "web")}, nil, nil)
	if strings.Join(types(got), "|") != "changed deployment-unavailable severity high -> critical" {
		t.Fatalf("severity change: %q", types(got))
	}
	if got[0].Finding.Severity != check.Critical {
		t.Errorf("a change carries the finding as it is now, not %s", got[0].Finding.Severity)
	}
	got = d.Next([]check.Finding{web}, nil, nil)
	if strings.Join(types(got), "|") != "resolved deployment-unavailable " || got[0].Finding.Objects[0].Name != "cart" {
		t.Fatalf("cart gone: %q", types(got))
	}
}

// A check that cannot see any more is said once, and its findings are neither resolved nor,
// when it sees again, new.
func TestDifferKeepsWhatItCannotSee(t *testing.T) {
	var d Differ
	cart := finding("deployment-unavailable", check.High, "1 of 2", "cart")
	d.Next([]check.Finding{cart}, nil, nil)
	blind := []report.NotEvaluated{{Check: "deployment-unavailable", Reason: "no answer from the API server", Code: report.CouldNotSee}}
	got := d.Next(nil, blind, nil)
	if strings.Join(types(got), "|") != "not-evaluated deployment-unavailable " || got[0].NotEvaluated.Reason != "no answer from the API server" {
		t.Fatalf("check blinded: %q, want one not-evaluated and no resolved", types(got))
	}
	if got := d.Next(nil, blind, nil); len(got) != 0 {
		t.Fatalf("still blind: %q, want nothing (said once)", types(got))
	}
	if got := d.Next([]check.Finding{cart}, nil, nil); len(got) != 0 {
		t.Fatalf("sees again, finding still there: %q, want nothing", types(got))
	}
	d.Next(nil, blind, nil)
	if got := d.Next(nil, nil, nil); strings.Join(types(got), "|") != "resolved deployment-unavailable " {
		t.Fatalf("sees again, finding gone: %q, want it resolved", types(got))
	}
}

// The first evaluation's unevaluated checks are in its report, not events.
func TestDifferFirstEvaluationListsNoUnevaluated(t *testing.T) {
	var d Differ
	if got := d.Next(nil, []report.NotEvaluated{{Check: "x", Reason: "forbidden"}}, nil); len(got) != 0 {
		t.Errorf("first evaluation: %q", types(got))
	}
}

func TestOutputLines(t *testing.T) {
	at := time.Date(2026, 12, 8, 9, 41, 7, 0, time.UTC)
	cart := finding("deployment-unavailable", check.Critical, "deployment shop/cart has 0 of 3 replicas available", "cart")
	hostile := finding("deployment-unavailable", check.High, "evil \x1b[2J message", "cart")
	events := []Event{
		{Type: New, Finding: cart},
		{Type: Changed, Finding: cart, Changes: []string{"severity high -> critical"}},
		{Type: Resolved, Finding: hostile},
		{Type: NotEvaluated, NotEvaluated: report.NotEvaluated{Check: "pod-crashloop", Reason: "forbidden: pods"}},
	}
	var b bytes.Buffer
	if err := (Output{W: &b, Location: time.UTC}).Write(at, events); err != nil {
		t.Fatal(err)
	}
	want := `09:41:07 + NEW      critical  deployment-unavailable  shop/deployment/cart: deployment shop/cart has 0 of 3 replicas available
09:41:07 ~ CHANGED  critical  deployment-unavailable  shop/deployment/cart: severity high -> critical
09:41:07 - RESOLVED high      deployment-unavailable  shop/deployment/cart: evil \x1b[2J message
09:41:07 ? NOT EVAL           pod-crashloop  not evaluated any more: forbidden: pods
`
	if b.String() != want {
		t.Errorf("lines:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := (Output{W: &b, Color: true, Location: time.UTC}).Write(at, events[:1]); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), red+"+ NEW") {
		t.Errorf("a critical NEW in colour: %q", b.String())
	}
	// On an 80-column terminal a change is one line of the screen, colour codes aside.
	b.Reset()
	if err := (Output{W: &b, Color: true, Location: time.UTC, Width: 80}).Write(at, events[:1]); err != nil {
		t.Fatal(err)
	}
	plain := strings.NewReplacer(red, "", reset, "").Replace(strings.TrimSuffix(b.String(), "\n"))
	if want := "09:41:07 + NEW      critical  deployment-unavailable  shop/deployment/cart: dep…"; plain != want {
		t.Errorf("cut to 80 columns:\n%q\nwant\n%q", plain, want)
	}
}

func TestOutputJSONStream(t *testing.T) {
	at := time.Date(2026, 12, 8, 9, 41, 7, 0, time.FixedZone("CET", 3600))
	cart := finding("deployment-unavailable", check.Critical, "0 of 3", "cart")
	var b bytes.Buffer
	err := (Output{W: &b, JSON: true, Color: true}).Write(at, []Event{
		{Type: Changed, Finding: cart, Changes: []string{"severity high -> critical"}},
		{Type: NotEvaluated, NotEvaluated: report.NotEvaluated{Check: "pod-crashloop", Reason: "forbidden", Code: report.CouldNotSee}},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 || strings.Contains(b.String(), "\x1b") {
		t.Fatalf("want two uncoloured lines, got %q", b.String())
	}
	if !strings.Contains(lines[0], `"fix":[]`) {
		t.Errorf("an empty list must be [], as in -o json reports: %s", lines[0])
	}
	var changed struct {
		APIVersion, Kind, Type, Time string
		Finding                      check.Finding
		Changes                      []string
	}
	if err := json.Unmarshal([]byte(lines[0]), &changed); err != nil {
		t.Fatal(err)
	}
	if changed.APIVersion != report.APIVersion || changed.Kind != "FindingEvent" || changed.Type != "changed" ||
		changed.Time != "2026-12-08T08:41:07Z" || changed.Finding.ID != cart.ID || changed.Changes[0] != "severity high -> critical" {
		t.Errorf("changed event: %+v", changed)
	}
	var blind map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &blind); err != nil {
		t.Fatal(err)
	}
	if blind["type"] != "not-evaluated" || blind["finding"] != nil || blind["notEvaluated"].(map[string]any)["check"] != "pod-crashloop" {
		t.Errorf("not-evaluated event: %v", blind)
	}
}

// A check that runs without a kind it read before may name other objects (a pod's owner falls
// back from its Deployment to its ReplicaSet): its findings are frozen, neither resolved nor
// new, until the kind is read again; then what it finds is told as usual.
func TestDifferFreezesHeldChecks(t *testing.T) {
	var d Differ
	byDeployment := finding("pod-crashloop", check.High, "crashing", "cart")
	byReplicaSet := finding("pod-crashloop", check.High, "crashing", "cart-7d9f8")
	d.Next([]check.Finding{byDeployment}, nil, nil)
	held := map[string]bool{"pod-crashloop": true}
	if got := d.Next([]check.Finding{byReplicaSet}, nil, held); len(got) != 0 {
		t.Fatalf("while replicasets cannot be read: %q, want nothing", types(got))
	}
	if got := d.Next([]check.Finding{byDeployment}, nil, nil); len(got) != 0 {
		t.Fatalf("read again, the same finding: %q, want nothing", types(got))
	}
	d.Next(nil, nil, held)
	if got := d.Next(nil, nil, nil); strings.Join(types(got), "|") != "resolved pod-crashloop " {
		t.Fatalf("read again, the finding gone: %q, want it resolved", types(got))
	}
}

// The same objects in another order are no change; other objects are another finding.
func TestDifferObjectsOrder(t *testing.T) {
	var d Differ
	ab := finding("node-not-ready", check.High, "2 nodes", "a", "b")
	ba := ab
	ba.Objects = []snapshot.Ref{ab.Objects[1], ab.Objects[0]}
	d.Next([]check.Finding{ab}, nil, nil)
	if got := d.Next([]check.Finding{ba}, nil, nil); len(got) != 0 {
		t.Errorf("objects reordered: %q, want nothing", types(got))
	}
}
