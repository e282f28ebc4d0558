package report

import (
	"testing"
	"time"
)

func TestFleetExitCodeIsTheWorstCluster(t *testing.T) {
	for _, c := range []struct {
		codes []int
		want  int
	}{
		{[]int{ExitOK, ExitOK}, ExitOK},
		{[]int{ExitOK, ExitIncomplete}, ExitIncomplete},
		{[]int{ExitIncomplete, ExitGateFailed, ExitOK}, ExitGateFailed},
		{[]int{ExitGateFailed, ExitError, ExitIncomplete}, ExitError},
		{[]int{ExitError}, ExitError},
	} {
		var runs []ClusterRun
		for _, code := range c.codes {
			runs = append(runs, ClusterRun{ExitCode: code})
		}
		if got := NewFleetReport(time.Time{}, "", runs).ExitCode(); got != c.want {
			t.Errorf("clusters exiting %v: fleet exits %d, want %d", c.codes, got, c.want)
		}
	}
}

func TestFleetSummaryAddsUp(t *testing.T) {
	f := NewFleetReport(time.Time{}, "shop", []ClusterRun{
		{Context: "a", Report: &Report{Summary: Summary{Critical: 1, High: 2, Medium: 3, Low: 4, Info: 5, NotEvaluated: 6, Suppressed: 7}}},
		{Context: "b", Error: "unreachable", ExitCode: ExitError},
		{Context: "c", Report: &Report{Summary: Summary{Critical: 10, NotEvaluated: 1}}},
	})
	want := FleetSummary{Clusters: 3, Failed: 1, Critical: 11, High: 2, Medium: 3, Low: 4, Info: 5, NotEvaluated: 7, Suppressed: 7}
	if f.Summary != want || f.Kind != KindFleetReport || f.APIVersion != APIVersion || f.Metadata.Namespace != "shop" {
		t.Errorf("%+v, want summary %+v", f, want)
	}
}
