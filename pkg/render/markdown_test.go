package render

import (
	"regexp"
	"strings"
	"testing"
)

// markdownBlocks splits a document into the lines outside fenced code blocks and the blocks
// themselves, failing on a fence that is never closed. A block closes only on a line of the same
// indentation holding a fence at least as long as the opening one, as CommonMark has it.
func markdownBlocks(t *testing.T, doc string) (prose []string, blocks []string) {
	t.Helper()
	opening := regexp.MustCompile("^( *)(```+)([a-z]*)$")
	var fence, indent string
	var block []string
	for i, line := range strings.Split(doc, "\n") {
		if fence == "" {
			if m := opening.FindStringSubmatch(line); m != nil {
				indent, fence, block = m[1], m[2], nil
				continue
			}
			prose = append(prose, line)
			continue
		}
		if m := opening.FindStringSubmatch(line); m != nil && m[1] == indent && m[3] == "" && len(m[2]) >= len(fence) {
			blocks = append(blocks, strings.Join(block, "\n"))
			fence = ""
			continue
		}
		if line != "" && !strings.HasPrefix(line, indent) {
			t.Errorf("line %d of a code block is not indented under its item: %q", i+1, line)
		}
		block = append(block, strings.TrimPrefix(line, indent))
	}
	if fence != "" {
		t.Errorf("a %s fence is never closed", fence)
	}
	return prose, blocks
}

func TestMarkdownChecklist(t *testing.T) {
	r := triageReport()
	doc := string(renderBytes(t, r, Markdown, triageOptions()))
	prose, blocks := markdownBlocks(t, doc)

	var items []string
	for _, line := range prose {
		if strings.HasPrefix(line, "- [ ] ") {
			items = append(items, line)
		}
	}
	if len(items) != len(r.Findings) {
		t.Fatalf("%d checklist items for %d findings:\n%s", len(items), len(r.Findings), doc)
	}
	for i, f := range r.Findings {
		want := "- [ ] **" + strings.ToUpper(string(f.Severity)) + "** "
		if !strings.HasPrefix(items[i], want) || !strings.Contains(items[i], "`"+f.Check+"`") {
			t.Errorf("item %d is %q, want %s… for %s", i, items[i], want, f.Check)
		}
	}
	if !strings.Contains(items[3], "baseline") {
		t.Errorf("the baselined finding is not marked: %q", items[3])
	}

	// Per finding, a code block of its evidence, then one of its fixes, each holding them exactly
	// (the evidence with terminal controls escaped).
	var want []string
	for _, f := range r.Findings {
		if len(f.Evidence) > 0 {
			evidence := make([]string, len(f.Evidence))
			for i, e := range f.Evidence {
				evidence[i] = TerminalSafe(e)
			}
			want = append(want, strings.Join(evidence, "\n"))
		}
		if len(f.Fix) > 0 {
			want = append(want, strings.Join(f.Fix, "\n"))
		}
	}
	if len(blocks) != len(want) {
		t.Fatalf("%d code blocks for %d evidence lists and fixes", len(blocks), len(want))
	}
	for i := range blocks {
		if blocks[i] != want[i] {
			t.Errorf("code block %d is\n%s\nwant\n%s", i, blocks[i], want[i])
		}
	}
	// A fix holding ``` needs a longer fence.
	if !strings.Contains(doc, "  ````sh\n  kubectl describe configmap") {
		t.Errorf("the fix with a fence in it is not in a longer fence:\n%s", doc)
	}

	for _, section := range []string{"## Checklist", "## Not evaluated", "## Suppressed", "## Ignore rules needing attention"} {
		if !strings.Contains(doc, "\n"+section+"\n") {
			t.Errorf("no %q section", section)
		}
	}
	if !strings.Contains(doc, "- `node-pressure`: cannot read nodes") || !strings.Contains(doc, "suppressed by annotation on clusterrolebinding ops-admin") ||
		!strings.Contains(doc, "- `.alertmend.yaml:12` (expired): expired on 2026-10-01") {
		t.Errorf("sections lack their entries:\n%s", doc)
	}
	if !strings.HasPrefix(doc, "# kubectl alertmend: manifests · namespace shop") {
		t.Errorf("heading: %q", strings.SplitN(doc, "\n", 2)[0])
	}
}

// Outside code blocks, no character from the cluster may act as Markdown, HTML or a terminal
// control.
func TestMarkdownEscapesClusterText(t *testing.T) {
	doc := string(renderBytes(t, triageReport(), Markdown, triageOptions()))
	if strings.ContainsRune(doc, 0x1b) || strings.ContainsRune(doc, 0x07) {
		t.Fatal("output carries a control character")
	}
	prose, _ := markdownBlocks(t, doc)
	text := strings.Join(prose, "\n")
	for _, raw := range []string{"<script>", "</script>", "*bold*", "_em_", "[link]", "| `tick`", "evil`name", "<b>"} {
		if strings.Contains(text, raw) {
			t.Errorf("%q is not escaped", raw)
		}
	}
	for _, escaped := range []string{`\<script\>`, `\*bold\*`, `\_em\_`, `\[link\]`, "\\| \\`tick\\`", `\\x1b\[31m`} {
		if !strings.Contains(text, escaped) {
			t.Errorf("%q is missing", escaped)
		}
	}
	// Every special character outside code spans is escaped: strip the escapes and code spans,
	// and none may be left.
	stripped := regexp.MustCompile(`\\.`).ReplaceAllString(text, "")
	stripped = regexp.MustCompile("`[^`]*`").ReplaceAllString(stripped, "")
	stripped = regexp.MustCompile(`\*\*[A-Z]+\*\*|\*\*\d+ critical[^*\n]*\*\*|- \[ \] |_\(already in the baseline\)_|_Generated [^\n]*_|^#+ |\n#+ `).ReplaceAllString(stripped, "")
	if i := strings.IndexAny(stripped, "<>|[]`*_"); i >= 0 {
		t.Errorf("unescaped %q in %q", stripped[i], stripped[max(0, i-40):min(len(stripped), i+40)])
	}
}

func TestMarkdownText(t *testing.T) {
	cases := map[string]string{
		"plain words":       "plain words",
		"  padded  ":        "padded",
		"a|b":               `a\|b`,
		"- not a list":      `\- not a list`,
		"1. not a list":     `1\. not a list`,
		"# not a heading":   `\# not a heading`,
		"> not a quote":     `\> not a quote`,
		"@team and #123":    `\@team and \#123`,
		`back\slash`:        `back\\slash`,
		"&lt; is an entity": `\&lt; is an entity`,
	}
	for in, want := range cases {
		if got := markdownText(in); got != want {
			t.Errorf("markdownText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := markdownCode("a`b"); got != "``a`b``" {
		t.Errorf("code span %q", got)
	}
	if got := markdownCode("`x`"); got != "`` `x` ``" {
		t.Errorf("code span %q", got)
	}
}

func TestMarkdownWithoutFindings(t *testing.T) {
	r := triageReport()
	r.Findings, r.Suppressed, r.RuleNotices, r.NotEvaluated = nil, nil, nil, nil
	doc := string(renderBytes(t, r, Markdown, Options{}))
	if !strings.Contains(doc, "## Checklist\n\nNo problems found.\n") || strings.Contains(doc, "- [ ]") || strings.Contains(doc, "## Not evaluated") {
		t.Errorf("empty report:\n%s", doc)
	}
}
