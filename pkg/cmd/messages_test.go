package cmd

import (
	"strings"
	"testing"
)

// A mistyped name gets the close ones, in one line, with exit 2; a name close to nothing gets
// where the list is.
func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diagnose", "--chekcs", "x"}, `unknown flag: --chekcs (did you mean "--checks"?)`},
		{[]string{"diagnose", "--kubeconfg", "x"}, `unknown flag: --kubeconfg (did you mean "--kubeconfig"?)`},
		{[]string{"explain", "pod-crashlop"}, `unknown check "pod-crashlop" (did you mean "pod-crashloop"?)`},
		{[]string{"explain", "nothing-like-any"}, "unknown check \"nothing-like-any\" (run `kubectl alertmend checks` for the list)"},
		{[]string{"checks", "--category", "rabc"}, `unknown category "rabc" in --category (did you mean "rbac"?)`},
		{[]string{"diagnose", "-f", "-", "--checks", "memory-limit-mising"}, `unknown check "memory-limit-mising" in --checks (did you mean "memory-limit-missing"?)`},
		{[]string{"diagnose", "-f", "-", "--object", "statefulst/db"}, `unknown type "statefulst" (did you mean "statefulset"?)`},
		{[]string{"rbac-audit", "-f", "-", "--who-can", "get", "secrts"}, `unknown resource "secrts" (did you mean "secrets"?)`},
	} {
		r := run(t, testEnv{}, tc.args...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != 2 || !strings.Contains(first, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if r := run(t, testEnv{}, "diagnose", "--bogus"); strings.Contains(r.stderr, "did you mean") {
		t.Errorf("a suggestion for a flag close to none: %q", r.stderr)
	}
}
