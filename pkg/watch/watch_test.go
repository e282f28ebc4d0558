package watch

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

type recorder struct{ seen []Evaluation }

func (r *recorder) Observe(e Evaluation) { r.seen = append(r.seen, e) }

// Every evaluation is written, then told to every observer with the whole report: what
// --min-severity leaves out of the lines is still there for alerts and metrics.
func TestEvaluationsReachObserversWhole(t *testing.T) {
	at := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	findings := [][]check.Finding{
		{finding("a", check.Low, "a"), finding("b", check.High, "b")},
		{finding("b", check.Critical, "b")},
	}
	evaluation := 0
	var out bytes.Buffer
	first, second := &recorder{}, &recorder{}
	w := &watcher{Config: Config{
		Now: func() time.Time { return at },
		Evaluate: func(*snapshot.Snapshot, bool) (*report.Report, error) {
			rep := &report.Report{Findings: findings[evaluation]}
			evaluation++
			return rep, nil
		},
		Shown: func(r *report.Report) *report.Report { return r.AtOrAbove(check.High) },
		First: func(r *report.Report) error {
			out.WriteString("report of " + r.Findings[0].Check + "\n")
			return nil
		},
		Output:    Output{W: &out},
		Observers: []Observer{first, second},
	}}
	ctx := context.Background()
	if err := w.evaluate(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := w.evaluate(ctx, false); err != nil {
		t.Fatal(err)
	}
	want := "report of b\n09:00:00 ~ CHANGED  critical  b  the cluster: severity high -> critical\n"
	if out.String() != want {
		t.Errorf("written:\n%s\nwant:\n%s", out.String(), want)
	}
	for _, r := range []*recorder{first, second} {
		if len(r.seen) != 2 || len(r.seen[0].Report.Findings) != 2 || !r.seen[1].At.Equal(at) {
			t.Fatalf("observed %+v, want both evaluations, the first with its low finding", r.seen)
		}
	}
	if strings.Contains(out.String(), " a ") {
		t.Errorf("--min-severity high listed a low finding: %s", out.String())
	}
}
