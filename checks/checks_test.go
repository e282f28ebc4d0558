package checks

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/engine"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

func TestCatalogMetadata(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range All(DefaultOptions()) {
		m := c.Meta()
		if err := m.Validate(); err != nil {
			t.Error(err)
		}
		if seen[m.ID] {
			t.Errorf("duplicate check ID %s", m.ID)
		}
		seen[m.ID] = true
		for _, ref := range m.References {
			if !strings.HasPrefix(ref, "https://") {
				t.Errorf("%s: reference %q is not an https URL", m.ID, ref)
			}
		}
		for _, k := range append(append([]snapshot.Kind{}, m.Requires...), m.Optional...) {
			if info := k.Info(); info.ObjectKind == "" && !info.Probe {
				t.Errorf("%s needs kind %q, which the snapshot does not hold", m.ID, k)
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("the catalog is empty")
	}
}

// Supersedes and Absorbs name checks of the catalog other than the check itself, and never
// form a cycle: folding follows chains to their top, and a cycle has none.
func TestFoldingNamesCatalogChecksWithoutCycles(t *testing.T) {
	byID := map[string]check.Meta{}
	for _, c := range All(DefaultOptions()) {
		byID[c.Meta().ID] = c.Meta()
	}
	folds := func(m check.Meta) []string { return slices.Concat(m.Supersedes, m.Absorbs) }
	for id, m := range byID {
		for _, other := range folds(m) {
			if _, ok := byID[other]; !ok || other == id {
				t.Errorf("%s folds %q, which is no other check", id, other)
			}
		}
		// Walk every chain from id: reaching id again is a cycle.
		seen := map[string]bool{}
		next := folds(m)
		for len(next) > 0 {
			other := next[0]
			next = next[1:]
			if other == id {
				t.Errorf("%s folds findings of checks that fold its own", id)
				break
			}
			if !seen[other] {
				seen[other] = true
				next = append(next, folds(byID[other])...)
			}
		}
	}
}

func TestCatalogOrderIsStable(t *testing.T) {
	a, b := All(DefaultOptions()), All(DefaultOptions())
	for i := range a {
		if a[i].Meta().ID != b[i].Meta().ID {
			t.Fatalf("All(DefaultOptions()) order differs between calls at %d", i)
		}
	}
	for i := 1; i < len(a); i++ {
		prev, cur := a[i-1].Meta(), a[i].Meta()
		if prev.Category == cur.Category && prev.ID > cur.ID {
			t.Errorf("%s sorts after %s", prev.ID, cur.ID)
		}
	}
}

// Every check has a fixture named after it in its family's testdata, which the family's table
// test runs. Checks that read what the collector learns by asking the server (its version,
// its answers to anonymous callers) cannot be loaded from files; their family tests build
// those snapshots in code.
func TestEveryCheckHasAFixture(t *testing.T) {
	for _, c := range All(DefaultOptions()) {
		m := c.Meta()
		if readsProbe(m) {
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(familyDir(c), "testdata", m.ID+".*"))
		if len(matches) == 0 {
			t.Errorf("%s has no fixture %s/testdata/%s.yaml", m.ID, familyDir(c), m.ID)
		}
	}
}

// Each family's fixture table runs against the family's own Checks, the list All composes, so
// fixture.RunCases fails for any catalogued check without a case asserting a finding of it. A
// test that handed RunCases a list of its own could leave a catalogued check unasserted.
func TestFamilyFixturesRunTheCatalogsList(t *testing.T) {
	families := map[string]bool{}
	for _, c := range All(DefaultOptions()) {
		families[familyDir(c)] = true
	}
	for family := range families {
		calls, others := runCasesCalls(t, family)
		if calls == 0 {
			t.Errorf("checks/%s: no test calls fixture.RunCases with the family's Checks()", family)
		}
		for _, at := range others {
			t.Errorf("%s: fixture.RunCases is given another list than the family's Checks()", at)
		}
	}
}

// familyDir is the folder of the family that defines c (checks/podsecurity for the security
// category), named by its package.
func familyDir(c check.Check) string {
	return filepath.Base(reflect.TypeOf(c).PkgPath())
}

// runCasesCalls counts the calls of fixture.RunCases in dir's tests that pass the package's
// Checks(...) as the family, and names the position of those that pass anything else.
func runCasesCalls(t *testing.T, dir string) (calls int, others []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || !isSelector(call.Fun, "fixture", "RunCases") {
				return true
			}
			if family, ok := call.Args[2].(*ast.CallExpr); ok && isIdent(family.Fun, "Checks") {
				calls++
			} else {
				others = append(others, fset.Position(call.Pos()).String())
			}
			return true
		})
	}
	return calls, others
}

func isSelector(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && isIdent(sel.X, pkg) && sel.Sel.Name == name
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// fixNow is when the fixtures are taken to be read, as internal/fixture has it.
var fixNow = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// fixturePaths are the fixture files of every family.
func fixturePaths(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob("*/testdata/*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures found: %v", err)
	}
	return slices.DeleteFunc(paths, func(path string) bool {
		info, err := os.Stat(path)
		return err != nil || info.IsDir()
	})
}

// loadFixture reads a fixture file as a live cluster read at fixNow.
func loadFixture(t *testing.T, path string) *snapshot.Snapshot {
	t.Helper()
	s, err := (&snapshot.Loader{}).LoadFiles([]string{path})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s.Source, s.CollectedAt = snapshot.SourceCluster, fixNow
	return s
}

// Checks are pure: running every check on every fixture leaves the snapshot as it was loaded.
func TestChecksDoNotMutateTheSnapshot(t *testing.T) {
	for _, path := range fixturePaths(t) {
		ran, pristine := loadFixture(t, path), loadFixture(t, path)
		for _, c := range All(DefaultOptions()) {
			first := c.Run(ran)
			if second := c.Run(ran); !reflect.DeepEqual(first, second) {
				t.Errorf("%s on %s is not deterministic", c.Meta().ID, path)
			}
		}
		// The views the checks shared must be as a fresh computation makes them.
		if !reflect.DeepEqual(ran.Grants(), pristine.Grants()) {
			t.Errorf("a check changed the shared RBAC grants of %s", path)
		}
		ran.ForgetDerived()
		pristine.ForgetDerived()
		if !reflect.DeepEqual(ran, pristine) {
			t.Errorf("a check changed the snapshot loaded from %s", path)
		}
	}
}

func readsProbe(m check.Meta) bool {
	for _, k := range m.Requires {
		if k.Info().Probe {
			return true
		}
	}
	return false
}

// The engine runs the checks concurrently over one snapshot: under the race detector (make test)
// this proves no check writes shared state, and two runs give the same report.
func TestEngineRunsTheCatalogConcurrently(t *testing.T) {
	snapshots := []*snapshot.Snapshot{syntheticCluster(40, 3, 4)}
	for _, path := range fixturePaths(t) {
		snapshots = append(snapshots, loadFixture(t, path))
	}
	plan, err := engine.Select(All(DefaultOptions()), engine.Selection{}, snapshot.SourceCluster)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range snapshots {
		first, second := engine.Run(s, plan, fixNow), engine.Run(s, plan, fixNow)
		if !reflect.DeepEqual(first, second) {
			t.Errorf("snapshot %d: two runs differ", i)
		}
	}
}

// A kind that can be missing without blinding anyone (a snapshot recorded before it was read, a
// deploy/rbac.yaml that predates it) leaves no check unevaluated: every check that reads a
// legacy workload kind reads it as optional.
func TestLegacyKindsBlindNoCheck(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	for _, k := range snapshot.LegacyWorkloadKinds() {
		s.MarkUnavailable(k, "not recorded in the snapshot old.gz")
	}
	s.Finish()
	for _, c := range All(DefaultOptions()) {
		for _, k := range snapshot.LegacyWorkloadKinds() {
			if slices.Contains(c.Meta().Requires, k) {
				t.Errorf("%s requires %s", c.Meta().ID, k)
			}
		}
	}
	plan := engine.Plan{Run: All(DefaultOptions())}
	for _, ne := range engine.Run(s, plan, time.Now()).NotEvaluated {
		if strings.Contains(ne.Reason, "replicationcontrollers") {
			t.Errorf("%s: %s", ne.Check, ne.Reason)
		}
	}
}
