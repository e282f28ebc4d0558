package check

import (
	"fmt"
	"slices"
	"testing"
)

func TestEvidenceOfIsLimitEvidenceMadeLazily(t *testing.T) {
	for _, n := range []int{0, 1, MaxEvidence - 1, MaxEvidence, MaxEvidence + 1, 1000} {
		var lines []string
		for i := range n {
			lines = append(lines, fmt.Sprintf("line %d", i))
		}
		made := 0
		got := EvidenceOf(n, func(i int) string { made++; return lines[i] })
		if want := LimitEvidence(lines); !slices.Equal(got, want) {
			t.Errorf("%d lines: %q, want %q", n, got, want)
		}
		if made != min(n, MaxEvidence) {
			t.Errorf("%d lines: made %d, want only the %d kept", n, made, min(n, MaxEvidence))
		}
	}
}
