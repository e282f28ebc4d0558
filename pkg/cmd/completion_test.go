package cmd

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// completion is what `__complete` answered: each candidate's value and description, and the
// directive to the shell.
type completion struct {
	values       []string
	descriptions map[string]string
	directive    cobra.ShellCompDirective
}

// complete asks the command tree, in process, for the completions of the last word of args,
// as the shell scripts and kubectl do.
func complete(t *testing.T, args ...string) completion {
	t.Helper()
	r := run(t, testEnv{}, append([]string{cobra.ShellCompRequestCmd}, args...)...)
	if r.code != 0 {
		t.Fatalf("__complete %q: exit %d\n%s", args, r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	directive, err := strconv.Atoi(strings.TrimPrefix(lines[len(lines)-1], ":"))
	if err != nil {
		t.Fatalf("__complete %q: no directive as the last line:\n%s", args, r.stdout)
	}
	c := completion{descriptions: map[string]string{}, directive: cobra.ShellCompDirective(directive)}
	for _, line := range lines[:len(lines)-1] {
		value, description, _ := strings.Cut(line, "\t")
		c.values = append(c.values, value)
		c.descriptions[value] = description
	}
	return c
}

func (c completion) wantValues(t *testing.T, args []string, want []string) {
	t.Helper()
	if !slices.Equal(c.values, want) {
		t.Errorf("__complete %q = %q, want %q", args, c.values, want)
	}
}

func (c completion) wantDirective(t *testing.T, args []string, want cobra.ShellCompDirective) {
	t.Helper()
	if c.directive != want {
		t.Errorf("__complete %q: directive %d, want %d", args, c.directive, want)
	}
}

func catalogMeta() []check.Meta {
	var metas []check.Meta
	for _, c := range checks.All(checks.DefaultOptions()) {
		metas = append(metas, c.Meta())
	}
	return metas
}

func TestCompletionCheckIDs(t *testing.T) {
	var ids []string
	for _, m := range catalogMeta() {
		ids = append(ids, m.ID)
	}
	for _, flag := range []string{"--checks", "--skip"} {
		args := []string{"diagnose", flag, ""}
		got := complete(t, args...)
		got.wantValues(t, args, ids)
		got.wantDirective(t, args, cobra.ShellCompDirectiveNoFileComp)
		for _, m := range catalogMeta() {
			if got.descriptions[m.ID] != m.Title {
				t.Errorf("__complete %q: %s is described as %q, want its title %q", args, m.ID, got.descriptions[m.ID], m.Title)
			}
		}
	}
}

func TestCompletionCheckIDsCommaList(t *testing.T) {
	ids := catalogMeta()
	first, second := ids[0].ID, ids[1].ID

	// After a comma, every other ID, behind what is already typed.
	args := []string{"diagnose", "--checks", first + ","}
	got := complete(t, args...)
	var want []string
	for _, m := range ids[1:] {
		want = append(want, first+","+m.ID)
	}
	got.wantValues(t, args, want)
	got.wantDirective(t, args, cobra.ShellCompDirectiveNoFileComp)
	if got.descriptions[first+","+second] != ids[1].Title {
		t.Errorf("__complete %q: %s lost its description", args, second)
	}

	// Only the part after the last comma is matched, and IDs already listed are not offered again.
	partial := second[:strings.Index(second, "-")+1]
	args = []string{"diagnose", "--skip", second + "," + first + "," + partial}
	got = complete(t, args...)
	want = nil
	for _, m := range ids {
		if strings.HasPrefix(m.ID, partial) && m.ID != first && m.ID != second {
			want = append(want, second+","+first+","+m.ID)
		}
	}
	if len(want) == 0 {
		t.Fatalf("no check ID besides %s and %s starts with %q; pick another prefix", first, second, partial)
	}
	got.wantValues(t, args, want)
}

// rbac-audit runs a narrower catalog than diagnose: completion offers exactly the IDs it accepts.
func TestCompletionRBACAuditChecksMatchCommand(t *testing.T) {
	manifest := filepath.Join(t.TempDir(), "role.yaml")
	role := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: [{apiGroups: [\"\"], resources: [pods], verbs: [get]}]\n"
	if err := os.WriteFile(manifest, []byte(role), 0o644); err != nil {
		t.Fatal(err)
	}
	offered := complete(t, "rbac-audit", "--checks", "").values
	if len(offered) == 0 {
		t.Fatal("rbac-audit --checks completes nothing")
	}
	for _, m := range catalogMeta() {
		r := run(t, testEnv{}, "rbac-audit", "-f", manifest, "--checks", m.ID, "-o", "json", "--fail-on", "none")
		accepted, completed := r.code != report.ExitError, slices.Contains(offered, m.ID)
		if accepted != completed {
			t.Errorf("%s: rbac-audit accepts it: %v (exit %d %s), completion offers it: %v", m.ID, accepted, r.code, strings.TrimSpace(r.stderr), completed)
		}
	}
}

func TestCompletionCategories(t *testing.T) {
	var categories []string
	for _, c := range check.Categories() {
		categories = append(categories, string(c))
	}
	for _, command := range []string{"diagnose", "checks"} {
		args := []string{command, "--category", ""}
		got := complete(t, args...)
		got.wantValues(t, args, categories)
		got.wantDirective(t, args, cobra.ShellCompDirectiveNoFileComp)
	}
	args := []string{"diagnose", "--category", "rbac,"}
	var want []string
	for _, c := range categories {
		if c != "rbac" {
			want = append(want, "rbac,"+c)
		}
	}
	complete(t, args...).wantValues(t, args, want)
}

func TestCompletionOutputFormats(t *testing.T) {
	var reportFormats []string
	for _, f := range render.Formats() {
		reportFormats = append(reportFormats, string(f))
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"diagnose", "-o", ""}, reportFormats},
		{[]string{"rbac-audit", "--output", ""}, reportFormats},
		{[]string{"checks", "-o", ""}, []string{"table", "wide", "json", "yaml"}},
		{[]string{"version", "-o", ""}, []string{"json", "yaml"}},
		{[]string{"diagnose", "-o", "y"}, []string{"yaml"}},
		// The formats of the document the flags typed so far choose.
		{[]string{"rbac-audit", "--who-can", "get", "pods", "-o", ""}, []string{"pretty", "table", "wide", "json", "yaml"}},
		{[]string{"rbac-audit", "--subject", "user:jane", "-o", ""}, []string{"pretty", "table", "wide", "json", "yaml"}},
		{[]string{"diagnose", "--explain-permissions", "-o", ""}, []string{"pretty", "table", "wide", "json", "yaml"}},
		{[]string{"diagnose", "--contexts", "a,b", "-o", ""}, []string{"pretty", "table", "wide", "json", "yaml", "markdown", "prometheus"}},
	} {
		got := complete(t, tc.args...)
		got.wantValues(t, tc.args, tc.want)
		got.wantDirective(t, tc.args, cobra.ShellCompDirectiveNoFileComp)
	}
}

func TestCompletionFailOnAndColor(t *testing.T) {
	var severities []string
	for _, s := range check.Severities() {
		severities = append(severities, string(s))
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"diagnose", "--fail-on", ""}, append(severities, "none")},
		{[]string{"rbac-audit", "--fail-on", "n"}, []string{"none"}},
		{[]string{"diagnose", "--color", ""}, []string{"auto", "always", "never"}},
		{[]string{"rbac-audit", "--color", "a"}, []string{"auto", "always"}},
	} {
		got := complete(t, tc.args...)
		got.wantValues(t, tc.args, tc.want)
		got.wantDirective(t, tc.args, cobra.ShellCompDirectiveNoFileComp)
	}
}

func TestCompletionExplain(t *testing.T) {
	var ids, rbacIDs []string
	for _, m := range catalogMeta() {
		ids = append(ids, m.ID)
		if strings.HasPrefix(m.ID, "rbac-") {
			rbacIDs = append(rbacIDs, m.ID)
		}
	}
	args := []string{"explain", ""}
	got := complete(t, args...)
	got.wantValues(t, args, ids)
	got.wantDirective(t, args, cobra.ShellCompDirectiveNoFileComp)
	if m := catalogMeta()[0]; got.descriptions[m.ID] != m.Title {
		t.Errorf("explain completion describes %s as %q, want %q", m.ID, got.descriptions[m.ID], m.Title)
	}

	args = []string{"explain", "rbac-"}
	complete(t, args...).wantValues(t, args, rbacIDs)

	// explain takes one ID; after it there is nothing to offer, files included.
	args = []string{"explain", ids[0], ""}
	got = complete(t, args...)
	got.wantValues(t, args, nil)
	got.wantDirective(t, args, cobra.ShellCompDirectiveNoFileComp)
}

func TestCompletionSubjectAndFilename(t *testing.T) {
	args := []string{"rbac-audit", "--subject", ""}
	got := complete(t, args...)
	got.wantValues(t, args, []string{"sa:", "user:", "group:"})
	// The name follows the colon: no space after the kind.
	got.wantDirective(t, args, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace)

	args = []string{"diagnose", "-f", ""}
	got = complete(t, args...)
	got.wantValues(t, args, []string{"yaml", "yml", "json"})
	got.wantDirective(t, args, cobra.ShellCompDirectiveFilterFileExt)
}

// kubectl completes `kubectl alertmend ...` by running kubectl_complete-alertmend from PATH with
// the words after the plugin's name; the script must hand them, unchanged and empty ones
// included, to the plugin's __complete.
func TestCompletionScriptForwardsToPlugin(t *testing.T) {
	script := filepath.Join(testcluster.RepoRoot(), "cmd", "kubectl_complete-alertmend", "kubectl_complete-alertmend")
	info, err := os.Stat(script)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable (mode %v): kubectl only runs executables", script, info.Mode())
	}

	bin := t.TempDir()
	fakePlugin := "#!/bin/sh\nfor word in \"$@\"; do printf '[%s]\\n' \"$word\"; done\n"
	if err := os.WriteFile(filepath.Join(bin, "kubectl-alertmend"), []byte(fakePlugin), 0o755); err != nil {
		t.Fatal(err)
	}
	words := []string{"diagnose", "--checks", "pod-crashloop,pod-", "--context", "two words", ""}
	cmd := exec.Command("sh", append([]string{script}, words...)...)
	cmd.Env = []string{"PATH=" + bin}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	want := "[__complete]\n"
	for _, w := range words {
		want += "[" + w + "]\n"
	}
	if string(out) != want {
		t.Errorf("the plugin was run with\n%s\nwant\n%s", out, want)
	}
}

// `completion SHELL` prints a script each shell accepts and that registers completion for the
// plugin's command name.
func TestCompletionScriptsForEachShell(t *testing.T) {
	registers := map[string]string{
		"bash":       "complete -o default -F __start_kubectl-alertmend kubectl-alertmend",
		"zsh":        "#compdef kubectl-alertmend",
		"fish":       "complete -c kubectl-alertmend",
		"powershell": "Register-ArgumentCompleter -CommandName 'kubectl-alertmend'",
	}
	for _, shell := range slices.Sorted(maps.Keys(registers)) {
		r := run(t, testEnv{}, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, registers[shell]) {
			t.Errorf("completion %s: exit %d, %q not in the script (stderr %s)", shell, r.code, registers[shell], r.stderr)
		}
	}
	// bash is on every machine that runs this suite: source the script and ask it what it registered.
	script := filepath.Join(t.TempDir(), "alertmend.bash")
	if err := os.WriteFile(script, []byte(run(t, testEnv{}, "completion", "bash").stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", "-c", "source "+script+" && complete -p kubectl-alertmend").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "__start_kubectl-alertmend") {
		t.Errorf("bash could not load the script: %v\n%s", err, out)
	}
	if r := run(t, testEnv{}, "completion", "tcsh"); r.code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", r.code)
	}
}
