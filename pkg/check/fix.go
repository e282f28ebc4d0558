package check

import (
	"fmt"
	"strings"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// A fix is pasted into a shell by someone in a hurry. Each line is one command, or a comment
// (starting with #) for what cannot be a command; every name in it is quoted if it needs to be,
// placeholders are words in capitals (NEW_IMAGE), never <...>, which a shell reads as a redirect.

// MaxFixes bounds the commands a fix repeats for each of a finding's objects; FixEach says how
// many it left out, so the report stays short when a finding spans a hundred objects.
const MaxFixes = 5

// FixEach makes the command for each of n objects, the first MaxFixes of them, and states in a
// comment how many more there are, of what.
func FixEach(n int, what string, command func(i int) string) []string {
	lines := make([]string, 0, min(n, MaxFixes)+1)
	for i := range min(n, MaxFixes) {
		lines = append(lines, command(i))
	}
	if n > MaxFixes {
		lines = append(lines, fmt.Sprintf("# ... and %d more %s (see the objects)", n-MaxFixes, what))
	}
	return lines
}

// FixNames is FixEach for commands that take several names at once (kubectl describe node a b):
// one command naming the first MaxFixes names, and a comment on how many more there are.
func FixNames(names []string, what string, command func(names string) string) []string {
	if len(names) == 0 {
		return nil
	}
	quoted := make([]string, 0, min(len(names), MaxFixes))
	for _, n := range names[:min(len(names), MaxFixes)] {
		quoted = append(quoted, Quote(n))
	}
	lines := []string{command(strings.Join(quoted, " "))}
	if len(names) > MaxFixes {
		lines = append(lines, fmt.Sprintf("# ... and %d more %s (see the objects)", len(names)-MaxFixes, what))
	}
	return lines
}

// Quote returns s as one shell word. Names from manifests are not validated the way the API
// server validates them, so a name may hold what a shell would run ($(...), ;, a newline): such
// a word is single-quoted. Names as Kubernetes allows them pass unchanged.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/:=@%+,-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Target is the quoted TYPE/NAME kubectl takes for ref, e.g. deployment/cart.
func Target(ref snapshot.Ref) string { return Quote(ref.KubectlTarget()) }

// InNamespace is "-n NAMESPACE TYPE/NAME" for ref, quoted: the part of most kubectl commands that
// names a namespaced object.
func InNamespace(ref snapshot.Ref) string {
	return "-n " + Quote(ref.Namespace) + " " + Target(ref)
}

// MetricsServed reports whether the metrics API answered when the snapshot was read, so that
// kubectl top can answer too: not when it is not installed, could not be read, or was not
// asked (manifests, or a check that does not declare the kind).
func MetricsServed(s *snapshot.Snapshot) bool {
	_, unread := s.Unavailable[snapshot.KindPodMetrics]
	return !unread && len(s.PodMetrics) > 0
}

// Comment makes text a comment line of a fix: advice to follow by hand. Names in it come from the
// cluster, so a line break in one is made a space: it must not start a line the shell would run.
func Comment(text string) string {
	return "# " + strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(text)
}

// ShellWords splits a command at the spaces outside single and double quotes, keeping each
// word as written (quotes included), so joining them with spaces gives the command back.
func ShellWords(command string) []string {
	var words []string
	var word strings.Builder
	var quote rune
	escaped := false
	for _, r := range command {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == ' ':
			if word.Len() > 0 {
				words = append(words, word.String())
				word.Reset()
			}
			continue
		}
		word.WriteRune(r)
	}
	if word.Len() > 0 {
		words = append(words, word.String())
	}
	return words
}

// SplitComment separates a command from its trailing shell comment (from the first word
// outside quotes that begins with #); comment is empty when there is none.
func SplitComment(command string) (string, string) {
	words := ShellWords(command)
	for i, word := range words {
		if strings.HasPrefix(word, "#") {
			return strings.Join(words[:i], " "), strings.Join(words[i:], " ")
		}
	}
	return command, ""
}
