package check

import (
	"fmt"
	"strings"

	"github.com/alertmend/kubectl-alertmend/pkg/suggest"
)

// MaxEvidence bounds the evidence lines of one finding; LimitEvidence states how many were cut.
const MaxEvidence = 10

// LimitEvidence keeps the first MaxEvidence lines and says how many were left out.
func LimitEvidence(lines []string) []string {
	if len(lines) <= MaxEvidence {
		return lines
	}
	return append(lines[:MaxEvidence:MaxEvidence], fmt.Sprintf("... and %d more", len(lines)-MaxEvidence))
}

// EvidenceOf is LimitEvidence of n lines, of which it makes only the ones kept: where a check
// reports ten thousand objects, formatting a line for each was most of its time.
func EvidenceOf(n int, line func(i int) string) []string {
	lines := make([]string, 0, min(n, MaxEvidence)+1)
	for i := range min(n, MaxEvidence) {
		lines = append(lines, line(i))
	}
	if n > MaxEvidence {
		lines = append(lines, fmt.Sprintf("... and %d more", n-MaxEvidence))
	}
	return lines
}

// Plural reads "1 pod" or "3 pods".
func Plural(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, PluralForm(n, one, many))
}

// PluralForm is one for a count of 1, else many: the verb or pronoun that goes with a count.
func PluralForm(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// UnknownIDHint ends the message about an ID that is not among ids: the close ones, or where
// the list is.
func UnknownIDHint(id string, ids []string) string {
	if hint := suggest.DidYouMean(id, ids); hint != "" {
		return hint
	}
	return " (run `kubectl alertmend checks` for the list)"
}

// UnknownCategoryHint ends the message about a category that does not exist: the close ones,
// else all of them.
func UnknownCategoryHint(name string) string {
	var names []string
	for _, c := range Categories() {
		names = append(names, string(c))
	}
	if hint := suggest.DidYouMean(name, names); hint != "" {
		return hint
	}
	return " (want one of " + strings.Join(names, ", ") + ")"
}
