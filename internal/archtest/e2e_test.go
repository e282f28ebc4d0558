package archtest

import (
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// e2eTag is the build tag of the tests that need a control plane or the other test servers.
const e2eTag = "e2e"

// `go test ./...` (make test-unit) must run without a control plane: a test file that uses
// internal/testcluster for more than finding the repository (starting an API server, kubectl,
// node_exporter or a Pushgateway, applying to a cluster) is built only with the e2e tag.
func TestControlPlaneTestsAreTaggedE2E(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	for _, rel := range moduleGoFiles(t, root) {
		if !strings.HasSuffix(rel, "_test.go") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, rel, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if !builtWithoutE2E(file) {
			continue
		}
		// testcluster's own tests start its servers.
		if path.Dir(rel) == "internal/testcluster" {
			t.Errorf("%s: a test of the test servers without the %s build tag: start the file with //go:build %s",
				rel, e2eTag, e2eTag)
			continue
		}
		for _, use := range testclusterUses(file) {
			if use.Sel.Name != "RepoRoot" {
				t.Errorf("%s: uses testcluster.%s without the %s build tag: move the test into a file that starts "+
					"with //go:build %s, leaving the helpers unit tests share untagged", fset.Position(use.Pos()), use.Sel.Name,
					e2eTag, e2eTag)
			}
		}
	}
}

// builtWithoutE2E says whether `go test` builds file when the e2e tag is not set.
func builtWithoutE2E(file *ast.File) bool {
	for _, group := range file.Comments {
		if group.Pos() > file.Package {
			break
		}
		for _, c := range group.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			expr, err := constraint.Parse(c.Text)
			if err != nil {
				return true
			}
			return expr.Eval(func(tag string) bool { return tag != e2eTag })
		}
	}
	return true
}

// testclusterUses are the file's references to the testcluster package.
func testclusterUses(file *ast.File) []*ast.SelectorExpr {
	name := ""
	for _, spec := range file.Imports {
		if spec.Path.Value == `"`+module+`/internal/testcluster"` {
			name = "testcluster"
			if spec.Name != nil {
				name = spec.Name.Name
			}
		}
	}
	if name == "" {
		return nil
	}
	var uses []*ast.SelectorExpr
	ast.Inspect(file, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == name {
				uses = append(uses, sel)
			}
		}
		return true
	})
	return uses
}
