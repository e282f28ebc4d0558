package render

import (
	"slices"
	"testing"
)

// A command that opens a here-document and is too long for the width is broken where the shell
// reads the lines as one command; its trailing comment goes above it; the document stays as it is.
func TestBlockLinesBreakAHeredocCommand(t *testing.T) {
	block := "kubectl patch -n default deployment/controller --patch-file=/dev/stdin <<'EOF'   # meets restricted\n" +
		"spec:\n  template: {}\nEOF"
	want := []string{
		"# meets restricted",
		"kubectl patch -n default deployment/controller --patch-file=/dev/stdin \\",
		"    <<'EOF'",
		"spec:",
		"  template: {}",
		"EOF",
	}
	if got := blockLines(block, 72); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
