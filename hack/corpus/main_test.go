package main

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// Every disagreement with the corpus is a deliberate choice, named here with its reason; a new
// disagreement (or a fixed one) fails this test.
func TestDisagreementsAreDeliberate(t *testing.T) {
	dir := filepath.Join(testcluster.RepoRoot(), "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no ../shared/corpus beside the repository")
	}
	verdicts, err := Measure(dir)
	if err != nil {
		t.Fatal(err)
	}
	deliberate := map[string]string{
		// A missing CPU limit is not reported: CPU limits throttle even on an idle node.
		"polaris/cpuLimitsMissing/failure.yaml":                       "no cpu limit check",
		"regolibrary/resources-cpu-limits/cronjob":                    "no cpu limit check",
		"regolibrary/resources-cpu-limits/pod":                        "no cpu limit check",
		"regolibrary/resources-cpu-limits/pod-only-limits":            "no cpu limit check",
		"regolibrary/resources-cpu-limits/workload":                   "no cpu limit check",
		"regolibrary/resources-cpu-limit-and-request/pod-only-limits": "no cpu limit check",
		// A limit without a request is not a missing request: the API server copies the limit.
		"regolibrary/resources-memory-requests/pod-only-requests":          "limit becomes the request",
		"regolibrary/resources-cpu-requests/pod-only-requests":             "limit becomes the request",
		"regolibrary/resources-memory-limit-and-request/pod-only-requests": "limit becomes the request",
		"regolibrary/resources-cpu-limit-and-request/pod-only-requests":    "limit becomes the request",
	}
	var differ []string
	for _, v := range verdicts {
		if !v.Agree {
			differ = append(differ, v.Case)
		}
	}
	var want []string
	for c := range deliberate {
		want = append(want, c)
	}
	sort.Strings(want)
	sort.Strings(differ)
	if !reflect.DeepEqual(differ, want) {
		var b strings.Builder
		Report(&b, verdicts)
		t.Errorf("disagreements:\n got  %q\n want %q\n%s", differ, want, b.String())
	}
	if len(verdicts) < 30 {
		t.Errorf("only %d cases measured; is the corpus complete?", len(verdicts))
	}
}
