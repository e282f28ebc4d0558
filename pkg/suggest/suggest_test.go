package suggest

import (
	"slices"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"pods", "pods", 0},
		{"", "pods", 4},
		{"pods", "", 4},
		{"pdos", "pods", 1}, // a swap is one edit
		{"prdo", "prod", 1},
		{"pod", "pods", 1},
		{"pods", "nodes", 2},
		{"Pods", "pods", 0}, // case is no edit
		{"kitten", "sitting", 3},
		{"rbac-cluster-admn", "rbac-cluster-admin", 1},
		{"ab", "ba", 1},
		{"abc", "ca", 3}, // a swap does not combine with an edit inside it
		{"ünï", "uni", 2},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Distance(tc.b, tc.a); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestClosest(t *testing.T) {
	resources := []string{"pods", "nodes", "services", "deployments", "daemonsets", "namespaces", "secrets"}
	for _, tc := range []struct {
		word       string
		candidates []string
		want       []string
	}{
		{"pdos", resources, []string{"pods"}},
		{"deploymnts", resources, []string{"deployments"}},
		{"pods", resources, nil},                       // already right
		{"Pods", resources, []string{"pods"}},          // right but for case
		{"xyz", resources, nil},                        // nothing close
		{"pos", resources, []string{"pods"}},           // one edit in a short word
		{"nods", resources, []string{"pods", "nodes"}}, // ties, in the given order
		{"zzzz", []string{"aaaa", "bbbb"}, nil},
		{"secret", []string{"secrets", "secrets"}, []string{"secrets"}},
		{"ab", []string{"ac", "ad", "ae", "af"}, []string{"ac", "ad", "ae"}}, // at most three
		{"prdo", []string{"prod", "staging", "dev"}, []string{"prod"}},
		{"dev", []string{"prod", "staging"}, nil},
	} {
		if got := Closest(tc.word, tc.candidates); !slices.Equal(got, tc.want) {
			t.Errorf("Closest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		word       string
		candidates []string
		want       string
	}{
		{"pdos", []string{"pods", "nodes"}, ` (did you mean "pods"?)`},
		{"nods", []string{"pods", "nodes"}, ` (did you mean "pods" or "nodes"?)`},
		{"ab", []string{"ac", "ad", "ae"}, ` (did you mean "ac", "ad" or "ae"?)`},
		{"xyz", []string{"pods"}, ""},
		{"pods", []string{"pods"}, ""},
		{"x", nil, ""},
	} {
		if got := DidYouMean(tc.word, tc.candidates); got != tc.want {
			t.Errorf("DidYouMean(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}
