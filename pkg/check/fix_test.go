package check

import (
	"fmt"
	"slices"
	"testing"

	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestQuoteLeavesNamesAndQuotesTheRest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"web-5f7c9.shop", "web-5f7c9.shop"},
		{"system:anonymous", "system:anonymous"},
		{"deployment/cart", "deployment/cart"},
		{"app=web,tier!=db", "'app=web,tier!=db'"},
		{"", "''"},
		{"web$(touch x)", "'web$(touch x)'"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"line\nbreak", "'line\nbreak'"},
		{"~root", "'~root'"},
	} {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestTargetAndInNamespace(t *testing.T) {
	ref := snapshot.Ref{Kind: "Deployment", Namespace: "shop;x", Name: "cart"}
	if got, want := InNamespace(ref), "-n 'shop;x' deployment/cart"; got != want {
		t.Errorf("InNamespace = %s, want %s", got, want)
	}
}

func TestFixEachCapsAndCounts(t *testing.T) {
	for _, n := range []int{0, 1, MaxFixes, MaxFixes + 3} {
		made := 0
		got := FixEach(n, "nodes", func(i int) string { made++; return fmt.Sprintf("kubectl describe node n%d", i) })
		var want []string
		for i := range min(n, MaxFixes) {
			want = append(want, fmt.Sprintf("kubectl describe node n%d", i))
		}
		if n > MaxFixes {
			want = append(want, "# ... and 3 more nodes (see the objects)")
		}
		if !slices.Equal(got, want) || made != min(n, MaxFixes) {
			t.Errorf("%d objects: %q (%d made), want %q", n, got, made, want)
		}
	}
}

func TestFixNamesQuotesEachName(t *testing.T) {
	names := []string{"a", "b c", "d", "e", "f", "g"}
	got := FixNames(names, "pods", func(names string) string { return "kubectl describe pod -n ns " + names })
	want := []string{"kubectl describe pod -n ns a 'b c' d e f", "# ... and 1 more pods (see the objects)"}
	if !slices.Equal(got, want) {
		t.Errorf("FixNames = %q, want %q", got, want)
	}
}

func TestCommentKeepsOneLine(t *testing.T) {
	if got, want := Comment("pod shop/a\ntouch x\r\n"), "# pod shop/a touch x "; got != want {
		t.Errorf("Comment = %q, want %q", got, want)
	}
}

// kubectl top answers only where the metrics API did when the snapshot was read.
func TestMetricsServed(t *testing.T) {
	measured := []metricsv1beta1.PodMetrics{{}}
	for _, tc := range []struct {
		name    string
		metrics []metricsv1beta1.PodMetrics
		mark    func(*snapshot.Snapshot)
		want    bool
	}{
		{"answered", measured, nil, true},
		{"not asked", nil, nil, false},
		{"absent", nil, func(s *snapshot.Snapshot) { s.MarkAbsent(snapshot.KindPodMetrics, "not served") }, false},
		{"forbidden", nil, func(s *snapshot.Snapshot) { s.MarkUnavailable(snapshot.KindPodMetrics, "forbidden") }, false},
	} {
		s := snapshot.New(snapshot.SourceCluster)
		s.PodMetrics = tc.metrics
		if tc.mark != nil {
			tc.mark(s)
		}
		if got := MetricsServed(s); got != tc.want {
			t.Errorf("%s: MetricsServed = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A trailing comment starts at a word outside quotes that begins with #; a # inside quotes or
// inside a word is part of the command.
func TestSplitComment(t *testing.T) {
	for fix, want := range map[string][2]string{
		"kubectl rollout undo -n shop deployment/cart # if a rollout caused it": {"kubectl rollout undo -n shop deployment/cart", "# if a rollout caused it"},
		`kubectl annotate pod x "note=# not a comment"`:                         {`kubectl annotate pod x "note=# not a comment"`, ""},
		"kubectl get pods -l app=a#b":                                           {"kubectl get pods -l app=a#b", ""},
	} {
		if command, comment := SplitComment(fix); command != want[0] || comment != want[1] {
			t.Errorf("SplitComment(%q) = %q, %q; want %q, %q", fix, command, comment, want[0], want[1])
		}
	}
}
