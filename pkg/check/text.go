package check

import "fmt"

// MaxEvidence bounds the evidence lines of one finding; LimitEvidence states how many were cut.
const MaxEvidence = 10

// LimitEvidence keeps the first MaxEvidence lines and says how many were left out.
func LimitEvidence(lines []string) []string {
	if len(lines) <= MaxEvidence {
		return lines
	}
	return append(lines[:MaxEvidence:MaxEvidence], fmt.Sprintf("... and %d more", len(lines)-MaxEvidence))
}

// Plural reads "1 pod" or "3 pods".
func Plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
