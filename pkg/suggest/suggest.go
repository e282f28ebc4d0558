// Package suggest finds the names a mistyped one was probably meant to be, for the "did you
// mean" of error messages: check IDs, resources, contexts.
package suggest

import (
	"fmt"
	"slices"
	"strings"
)

// Distance is the number of single-character edits (insertions, deletions, substitutions and
// swaps of two neighbours) that turn a into b, compared without case. Swaps count once, since
// "prdo" for "prod" is one slip of the fingers, not two.
func Distance(a, b string) int {
	s, t := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	// rows[i%3] holds the distances from s[:i] to each prefix of t; three rows for the swap.
	rows := [3][]int{make([]int, len(t)+1), make([]int, len(t)+1), make([]int, len(t)+1)}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur, prev, prev2 := rows[i%3], rows[(i-1)%3], rows[(i+1)%3]
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
	}
	return rows[len(s)%3][len(t)]
}

// maxDistance is how far a name may be from what was typed to be suggested: one edit in a short
// word, where two would reach unrelated words, up to three in a long one.
func maxDistance(word string) int {
	switch n := len([]rune(word)); {
	case n <= 4:
		return 1
	case n <= 10:
		return 2
	}
	return 3
}

// maxSuggestions bounds a suggestion: more than a few names is a list, not a correction.
const maxSuggestions = 3

// Closest is the candidates nearest to word, at most three at the same smallest distance, in
// the order given; none when word is itself a candidate or nothing is close.
func Closest(word string, candidates []string) []string {
	best, limit := -1, maxDistance(word)
	var closest []string
	for _, c := range candidates {
		d := Distance(word, c)
		switch {
		case d == 0 && c == word:
			return nil
		case d > limit || (best >= 0 && d > best) || slices.Contains(closest, c):
		case d == best:
			closest = append(closest, c)
		default:
			best, closest = d, []string{c}
		}
	}
	return closest[:min(len(closest), maxSuggestions)]
}

// DidYouMean is " (did you mean "x"?)" with the closest candidates, quoted, or "" when none
// is close: it is appended to an error message as it stands.
func DidYouMean(word string, candidates []string) string {
	closest := Closest(word, candidates)
	if len(closest) == 0 {
		return ""
	}
	quoted := make([]string, len(closest))
	for i, c := range closest {
		quoted[i] = fmt.Sprintf("%q", c)
	}
	if len(quoted) > 1 {
		return " (did you mean " + strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1] + "?)"
	}
	return " (did you mean " + quoted[0] + "?)"
}
