package render

import (
	"strings"

	"github.com/alertmend/kubectl-alertmend/pkg/check"

	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-runewidth"
)

// DefaultWidth is the width people's formats are laid out for when the output is not a
// terminal that says its own: the classic terminal, which every wider one holds.
const DefaultWidth = 80

// minWidth keeps the layout readable on absurdly narrow terminals: below it lines overflow
// rather than collapse into a word a line.
const minWidth = 40

// layoutWidth is the width to lay out for: opts' when set, else DefaultWidth.
func layoutWidth(opts Options) int {
	switch {
	case opts.Width <= 0:
		return DefaultWidth
	case opts.Width < minWidth:
		return minWidth
	}
	return opts.Width
}

// Fill breaks text into lines of at most width display columns at spaces. A word wider than a
// line is cut, so no line is ever wider than width.
func Fill(text string, width int) []string {
	width = max(width, 1)
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		for runewidth.StringWidth(word) > width {
			if line != "" {
				lines = append(lines, line)
				line = ""
			}
			head := runewidth.Truncate(word, width, "")
			lines = append(lines, head)
			word = word[len(head):]
		}
		if line != "" && runewidth.StringWidth(line)+1+runewidth.StringWidth(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// writeFilled writes text filled to width behind a hanging indent: first leads the first line
// and rest the others, both counted by their display width (they may carry colour). style
// colours the text, line by line, so a colour never spans a line break.
func writeFilled(b *strings.Builder, first, rest, text string, width int, style func(...string) string) {
	available := width - max(lipgloss.Width(first), lipgloss.Width(rest))
	for i, line := range Fill(text, available) {
		prefix := rest
		if i == 0 {
			prefix = first
		}
		b.WriteString(prefix + style(line) + "\n")
	}
}

// commandLines breaks a shell command into lines of at most width columns that paste as the
// same command: breaks fall only between words outside quotes, each broken line ends in a
// backslash, and the lines after the first are indented by four more columns. A comment is
// filled as prose, each line again a comment.
func commandLines(command string, width int) []string {
	if runewidth.StringWidth(command) <= width {
		return []string{command}
	}
	if text, ok := strings.CutPrefix(command, "#"); ok {
		var lines []string
		for _, line := range Fill(text, width-2) {
			lines = append(lines, "# "+line)
		}
		return lines
	}
	const continuation = "    "
	var lines []string
	line := ""
	for _, word := range check.ShellWords(command) {
		limit := width - 2 // room for " \"
		if len(lines) > 0 {
			limit -= len(continuation)
		}
		if line != "" && runewidth.StringWidth(line)+1+runewidth.StringWidth(word) > limit {
			lines = append(lines, line+" \\")
			line = ""
		}
		if line == "" && len(lines) > 0 {
			line = continuation
		} else if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

// blockLines lays out a multi-line fix (YAML, a script) for width columns without changing
// what it means: a comment too long is filled into comment lines at its own indentation, and
// a trailing comment that makes a line too long moves to a line of its own above it. Other
// lines are kept as they are, whatever their width: their indentation is their meaning.
func blockLines(block string, width int) []string {
	var out []string
	for _, line := range strings.Split(block, "\n") {
		if runewidth.StringWidth(line) <= width {
			out = append(out, line)
			continue
		}
		body := strings.TrimLeft(line, " ")
		indent := line[:len(line)-len(body)]
		content, comment := check.SplitComment(body)
		if comment != "" {
			for _, c := range commandLines(comment, width-len(indent)) {
				out = append(out, indent+c)
			}
		}
		switch {
		case strings.Contains(content, "<<'EOF'") && runewidth.StringWidth(indent+content) > width:
			// The line that opens a here-document is a command: broken as one, where the shell
			// reads the lines as one (the document begins after the last of them).
			for _, c := range commandLines(content, width-len(indent)) {
				out = append(out, indent+c)
			}
		case comment != "" && content != "":
			out = append(out, indent+content)
		case comment == "":
			out = append(out, line)
		}
	}
	return out
}

// truncate cuts s to width display columns, marking the cut with an ellipsis.
func truncate(s string, width int) string {
	return runewidth.Truncate(s, max(width, 1), "…")
}

// Truncate is truncate for the commands' own lines (a watch's): s cut to width display
// columns, the cut marked with an ellipsis.
func Truncate(s string, width int) string { return truncate(s, width) }
