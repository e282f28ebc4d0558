package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// A run that kept only some of the cluster's Warning events says so in the report's metadata.
func TestReportNotesEventsLeftOut(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	if r := Run(s, Plan{}, time.Unix(0, 0)); len(r.Metadata.Notes) != 0 {
		t.Errorf("notes with nothing left out: %q", r.Metadata.Notes)
	}
	s.EventsLeftOut = 16000
	r := Run(s, Plan{}, time.Unix(0, 0))
	if len(r.Metadata.Notes) != 1 || !strings.Contains(r.Metadata.Notes[0], "16000 older ones were left out") {
		t.Errorf("notes %q", r.Metadata.Notes)
	}
}
