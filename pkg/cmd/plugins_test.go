package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// k9sPlugin is one entry of a k9s plugins file, with the fields plugins.yaml uses.
type k9sPlugin struct {
	ShortCut    string   `json:"shortCut"`
	Description string   `json:"description"`
	Scopes      []string `json:"scopes"`
	Command     string   `json:"command"`
	Background  bool     `json:"background"`
	Confirm     bool     `json:"confirm"`
	Args        []string `json:"args"`
}

// k9sBuiltinKeys are shortcuts k9s binds itself on the views plugins.yaml is scoped to (from
// k9s's internal/view: the table, the browser, and each view with its extenders), "*" on every
// view. k9s refuses a plugin that reuses one ("duplicate plugin key").
func k9sBuiltinKeys() map[string][]string {
	return map[string][]string{
		"*":            {"Shift-A", "Shift-N", "Ctrl-D", "Ctrl-W", "Ctrl-Z", "Ctrl-S", "Ctrl-R"},
		"pods":         {"Shift-C", "Shift-F", "Shift-I", "Shift-J", "Shift-M", "Shift-O", "Shift-R", "Shift-S", "Shift-T", "Shift-V", "Shift-X", "Shift-Z", "Ctrl-K", "Ctrl-Q", "Ctrl-X"},
		"deployments":  {"Shift-F", "Shift-L", "Shift-R", "Shift-U", "Shift-V"},
		"daemonsets":   {"Shift-C", "Shift-D", "Shift-F", "Shift-L", "Shift-R", "Shift-U"},
		"statefulsets": {"Shift-F", "Shift-R"},
		"nodes":        {"Shift-C", "Shift-M", "Shift-X", "Shift-Z"},
	}
}

func readPluginsSnippet(t *testing.T) map[string]k9sPlugin {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testcluster.RepoRoot(), "plugins.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Plugins map[string]k9sPlugin `json:"plugins"`
	}
	// Strict: a misspelt key (shortcut for shortCut) is silently ignored by k9s.
	if err := yaml.UnmarshalStrict(data, &file); err != nil {
		t.Fatalf("plugins.yaml: %v", err)
	}
	if len(file.Plugins) == 0 {
		t.Fatal("plugins.yaml has no plugins")
	}
	return file.Plugins
}

func TestPluginsShortcutsAreFree(t *testing.T) {
	builtin := k9sBuiltinKeys()
	owner := map[string]string{} // scope + key -> plugin
	for name, p := range readPluginsSnippet(t) {
		if p.ShortCut == "" || len(p.Scopes) == 0 {
			t.Errorf("%s: needs a shortCut and scopes", name)
		}
		key := strings.ToLower(p.ShortCut)
		for _, scope := range p.Scopes {
			if other, taken := owner[scope+" "+key]; taken {
				t.Errorf("%s and %s both use %s on %s", name, other, p.ShortCut, scope)
			}
			owner[scope+" "+key] = name
			for _, key := range append(builtin["*"], builtin[scope]...) {
				if strings.EqualFold(key, p.ShortCut) {
					t.Errorf("%s: k9s binds %s on %s itself and would refuse the plugin", name, p.ShortCut, scope)
				}
			}
		}
	}
}

// Every `kubectl alertmend` command line in the snippet names subcommands and flags that the
// command tree has, with values the flags accept where they take a fixed set.
func TestPluginsCommandsExist(t *testing.T) {
	root := NewRootCommand(genericiooptions.NewTestIOStreamsDiscard(), OSEnvironment())
	for name, p := range readPluginsSnippet(t) {
		if p.Command != "bash" || len(p.Args) != 2 || p.Args[0] != "-c" {
			t.Errorf("%s: want command bash with args [-c, LINE], got %s %q", name, p.Command, p.Args)
			continue
		}
		words, err := shellWords(p.Args[1])
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		invocations := 0
		for _, simple := range splitPipeline(words) {
			if len(simple) < 2 || simple[0] != "kubectl" || simple[1] != "alertmend" {
				continue
			}
			invocations++
			for _, problem := range checkInvocation(root, simple[2:]) {
				t.Errorf("%s: %s", name, problem)
			}
		}
		if invocations == 0 {
			t.Errorf("%s: runs no `kubectl alertmend` command: %s", name, p.Args[1])
		}
	}
}

// checkInvocation looks the arguments of one `kubectl alertmend` up in the command tree.
func checkInvocation(root *cobra.Command, args []string) []string {
	sub, _, err := root.Find(args)
	if err != nil || sub == root {
		return []string{fmt.Sprintf("`kubectl alertmend %s` names no subcommand (%v)", strings.Join(args, " "), err)}
	}
	var problems []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		var flag *pflag.Flag
		if strings.HasPrefix(arg, "--") {
			flag = lookupFlag(sub, name)
		} else {
			flag = lookupShorthand(sub, name)
		}
		if flag == nil {
			problems = append(problems, fmt.Sprintf("%s has no flag %s", sub.CommandPath(), arg))
			continue
		}
		if !hasValue && flag.NoOptDefVal == "" && i+1 < len(args) {
			i++
			value = args[i]
		}
		if problem := checkFlagValue(sub, flag, value); problem != "" {
			problems = append(problems, problem)
		}
	}
	return problems
}

func lookupFlag(c *cobra.Command, name string) *pflag.Flag {
	if f := c.Flags().Lookup(name); f != nil {
		return f
	}
	return c.InheritedFlags().Lookup(name)
}

func lookupShorthand(c *cobra.Command, name string) *pflag.Flag {
	if f := c.Flags().ShorthandLookup(name); f != nil {
		return f
	}
	return c.InheritedFlags().ShorthandLookup(name)
}

// checkFlagValue checks a literal value of a flag whose values complete from a fixed set;
// values k9s fills in ($NAME) are the user's.
func checkFlagValue(c *cobra.Command, flag *pflag.Flag, value string) string {
	complete, ok := c.GetFlagCompletionFunc(flag.Name)
	if !ok || strings.Contains(value, "$") {
		return ""
	}
	candidates, _ := complete(c, nil, "")
	var allowed []string
	for _, candidate := range candidates {
		v, _, _ := strings.Cut(candidate, "\t")
		allowed = append(allowed, v)
	}
	for _, part := range strings.Split(value, ",") {
		if !slices.Contains(allowed, part) {
			return fmt.Sprintf("%s --%s %q: not one of %s", c.CommandPath(), flag.Name, part, strings.Join(allowed, ", "))
		}
	}
	return ""
}

// shellWords splits a shell command line into words, quotes removed, with the operators |, ;,
// && and || as words of their own. It knows what plugins.yaml uses: double and single quotes,
// backslash escapes; a $VAR stays as written.
func shellWords(line string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == ' ' || ch == '\t':
			flush()
		case ch == '|' || ch == ';' || ch == '&':
			flush()
			op := string(ch)
			if i+1 < len(line) && line[i+1] == ch && ch != ';' {
				op += string(ch)
				i++
			}
			words = append(words, op)
		case ch == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ' in %s", line)
			}
			word.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				word.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf("unterminated \" in %s", line)
			}
			inWord = true
		case ch == '\\' && i+1 < len(line):
			i++
			word.WriteByte(line[i])
			inWord = true
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	flush()
	return words, nil
}

// splitPipeline cuts words into simple commands at the operators.
func splitPipeline(words []string) [][]string {
	var commands [][]string
	var current []string
	for _, w := range words {
		switch w {
		case "|", "||", "&&", ";", "&":
			commands = append(commands, current)
			current = nil
		default:
			current = append(current, w)
		}
	}
	return append(commands, current)
}

func TestPluginsShellWords(t *testing.T) {
	got, err := shellWords(`kubectl alertmend diagnose --context "$CONTEXT" -n "a \"b\"" 'c d'|less -R && echo x`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kubectl", "alertmend", "diagnose", "--context", "$CONTEXT", "-n", `a "b"`, "c d", "|", "less", "-R", "&&", "echo", "x"}
	if !slices.Equal(got, want) {
		t.Errorf("shellWords = %q, want %q", got, want)
	}
}
