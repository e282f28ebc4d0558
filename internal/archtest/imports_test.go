package archtest

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/alertmend/kubectl-alertmend"

// rule says what a package of this module may import of this module. Paths are below the
// module; "checks/*" stands for every package directly under checks/, in pkg and in may alike.
type rule struct {
	pkg   string
	may   []string // what its files may import
	tests []string // what its test files may import besides
}

// importRules is the architecture as the compiler sees it: data moves from the collector into a
// snapshot, through pure checks into a report, and out through renderers. Every package of the
// module has one line; a new package needs one too.
func importRules() []rule {
	return []rule{
		// The data every layer shares: it depends on nothing of ours but a leaf helper (its
		// messages suggest the types a typo was meant to be), so anything may use it.
		{pkg: "pkg/snapshot", may: []string{"pkg/suggest"}, tests: []string{"internal/memtest"}},
		// The check contract is stated in terms of the snapshot and nothing else; its messages
		// about unknown IDs suggest close ones.
		{pkg: "pkg/check", may: []string{"pkg/snapshot", "pkg/suggest"}},
		// Small shared helpers are leaves, so the checks, the collector and the commands can share them.
		{pkg: "pkg/cmdline"},
		{pkg: "pkg/suggest"},
		{pkg: "pkg/redact"},
		{pkg: "pkg/version"},
		// What changed before an incident is a pure function of the snapshot too, told in the fix
		// helpers' words; its end-to-end test reads a cluster as diagnose does.
		{pkg: "pkg/changes", may: []string{"pkg/check", "pkg/snapshot"}, tests: []string{"internal/testcluster", "pkg/connect", "pkg/source"}},
		// Checks are pure functions of the snapshot: no collector (no network), no engine, no
		// rendering. Their fixes roll a Deployment back to the revision pkg/changes finds.
		{pkg: "checks/*", may: []string{"pkg/changes", "pkg/check", "pkg/snapshot", "pkg/cmdline"}, tests: []string{"internal/fixture", "internal/memtest", "internal/testpki"}},
		// The catalog only composes the families; its tests run the whole catalog through the engine.
		// (its incident examples lay fixtures over each other and read the report's incidents).
		{pkg: "checks", may: []string{"checks/*", "pkg/check", "pkg/snapshot"}, tests: []string{"pkg/engine", "pkg/report", "internal/fixture"}},
		// Reaching a cluster: kubectl's flags or the pod's service account, for every command.
		{pkg: "pkg/connect", may: []string{"pkg/suggest", "pkg/version"}},
		// The collector fills a snapshot, knowing neither the checks that read it nor the report of
		// findings; the one document it writes is the permission report of its own request plan.
		{pkg: "pkg/collect", may: []string{"pkg/snapshot", "pkg/redact", "pkg/report"}, tests: []string{"internal/promtest", "internal/testcluster", "internal/testpki"}},
		// The first step of a run: a cluster through the collector, manifests or a snapshot file
		// into a snapshot, with the progress line render draws while a cluster is read.
		{pkg: "pkg/source", may: []string{"pkg/collect", "pkg/connect", "pkg/render", "pkg/snapshot"}},
		// Configuration names checks and severities, nothing that runs.
		{pkg: "pkg/config", may: []string{"pkg/check"}},
		// The report contract: findings of checks about objects of a snapshot, grouped into
		// incidents with what changed before them.
		{pkg: "pkg/report", may: []string{"pkg/changes", "pkg/check", "pkg/snapshot"}},
		// The engine is a plain function from a snapshot and checks to a report: it never fetches or renders.
		{pkg: "pkg/engine", may: []string{"pkg/changes", "pkg/check", "pkg/config", "pkg/report", "pkg/snapshot"}},
		// Renderers present a report: they neither collect, nor run checks, nor read flags.
		{pkg: "pkg/render", may: []string{"pkg/changes", "pkg/check", "pkg/report", "pkg/snapshot"}},
		// The pusher sends a finished report's metrics, without reaching into the collector.
		{pkg: "pkg/push", may: []string{"pkg/check", "pkg/report", "pkg/redact"}, tests: []string{"pkg/render", "internal/testcluster"}},
		// The alert sender is a watch's observer: it turns reports into alerts, the runbook link as
		// SARIF makes it, and sends them, without reaching into the collector or the engine.
		{pkg: "pkg/alert", may: []string{"pkg/check", "pkg/render", "pkg/watch"}, tests: []string{"pkg/report", "pkg/snapshot", "internal/testcluster"}},
		// The --listen server observes a watch and serves its report's metrics; it reads nothing itself.
		{pkg: "pkg/serve", may: []string{"pkg/render", "pkg/watch"}, tests: []string{"pkg/check", "pkg/report", "pkg/snapshot"}},
		// A watch keeps the collector's lists current and renders what changes; the command
		// gives it the checks and policy to judge by, so it needs neither checks nor the engine.
		{pkg: "pkg/watch", may: []string{"pkg/check", "pkg/collect", "pkg/render", "pkg/report", "pkg/snapshot"},
			tests: []string{"checks", "pkg/engine"}},
		// The commands wire everything together; with the binaries and the tools, only they know the catalog.
		{pkg: "pkg/cmd", may: []string{"pkg/*", "checks", "checks/*"}, tests: []string{"internal/fixture", "internal/promtest", "internal/testcluster", "internal/testpki"}},
		// Binaries are wiring only: the commands, and the report's exit codes.
		{pkg: "cmd/*", may: []string{"pkg/cmd", "pkg/report", "checks", "checks/*"}},
		// Developer tools (demo, bench, corpus, docs, release checks) may use anything.
		{pkg: "hack/*", may: []string{"pkg/*", "checks", "checks/*", "internal/*"}},
		// Fixtures load through the same loader users' manifests go through.
		{pkg: "internal/fixture", may: []string{"pkg/check", "pkg/snapshot"}},
		// The other test helpers stand alone, so any test may use them.
		{pkg: "internal/memtest"},
		{pkg: "internal/promtest"},
		{pkg: "internal/testcluster"},
		{pkg: "internal/testpki"},
		// This test reads source files; it imports nothing of ours.
		{pkg: "internal/archtest"},
	}
}

// importEdge is one import of a package of this module by a file of another.
type importEdge struct {
	file   string // relative to the module root
	target string // below the module
	test   bool   // from a _test.go file
}

func TestImportRules(t *testing.T) {
	root := moduleRoot(t)
	packages := modulePackages(t, root)
	rules := importRules()
	used := make([]bool, len(rules))
	for _, pkg := range slices.Sorted(maps.Keys(packages)) {
		i, err := ruleFor(rules, pkg)
		if err != nil {
			t.Error(err)
			continue
		}
		used[i] = true
		for _, edge := range packages[pkg] {
			if edge.target == pkg || allowed(rules[i], edge) {
				continue
			}
			allowedList := rules[i].may
			if edge.test {
				allowedList = append(slices.Clone(rules[i].may), rules[i].tests...)
			}
			t.Errorf("%s: %s imports %s, which its rule does not allow (it may import %s); "+
				"if the design changed, change its line in importRules in internal/archtest, saying why",
				edge.file, pkg, edge.target, orNothing(allowedList))
		}
	}
	for i, r := range rules {
		if !used[i] {
			t.Errorf("importRules has a line for %s, which matches no package of the module: remove it", r.pkg)
		}
	}
}

// ruleFor finds pkg's line: its own, or else the one pattern that matches it.
func ruleFor(rules []rule, pkg string) (int, error) {
	if i := slices.IndexFunc(rules, func(r rule) bool { return r.pkg == pkg }); i >= 0 {
		return i, nil
	}
	var matches []int
	for i, r := range rules {
		if matched, _ := path.Match(r.pkg, pkg); matched {
			matches = append(matches, i)
		}
	}
	switch len(matches) {
	case 0:
		return 0, fmt.Errorf("package %s has no import rule: add a line for it to importRules in internal/archtest, "+
			"naming what it may import of this module and why", pkg)
	case 1:
		return matches[0], nil
	}
	return 0, fmt.Errorf("package %s matches several lines of importRules: give it a line of its own", pkg)
}

func allowed(r rule, edge importEdge) bool {
	patterns := r.may
	if edge.test {
		patterns = append(slices.Clone(r.may), r.tests...)
	}
	return slices.ContainsFunc(patterns, func(p string) bool {
		matched, _ := path.Match(p, edge.target)
		return matched
	})
}

func orNothing(patterns []string) string {
	if len(patterns) == 0 {
		return "nothing of this module"
	}
	return strings.Join(patterns, ", ")
}

// moduleRoot is the directory of go.mod, checked to be this module's.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join("..", "..")
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	first := bufio.NewScanner(f)
	if !first.Scan() || strings.TrimSpace(first.Text()) != "module "+module {
		t.Fatalf("%s is not the root of %s", root, module)
	}
	return root
}

// modulePackages reads the imports of every Go file of the module, whatever its build
// constraints (end-to-end tests, race-only files), by package directory below the root.
func modulePackages(t *testing.T, root string) map[string][]importEdge {
	t.Helper()
	packages := map[string][]importEdge{}
	fset := token.NewFileSet()
	for _, rel := range moduleGoFiles(t, root) {
		file, err := parser.ParseFile(fset, filepath.Join(root, rel), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		pkg := path.Dir(rel)
		if _, seen := packages[pkg]; !seen {
			packages[pkg] = nil
		}
		for _, spec := range file.Imports {
			target, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			if below, ours := strings.CutPrefix(target, module+"/"); ours {
				packages[pkg] = append(packages[pkg], importEdge{file: rel, target: below, test: strings.HasSuffix(rel, "_test.go")})
			}
		}
	}
	if _, ok := packages["."]; ok {
		t.Fatal("the module root holds Go files, which no import rule covers")
	}
	return packages
}

// moduleGoFiles are the module's Go files, as slash-separated paths below root, in lexical
// order. Test data and nested modules (the tools under hack/tools) are not part of the module.
func moduleGoFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			base := d.Name()
			if name != root && (base == "testdata" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") ||
				fileExists(filepath.Join(name, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") {
			rel, err := filepath.Rel(root, name)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}
