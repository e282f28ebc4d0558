package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the manifest loader: it must return objects or an
// InputError, never panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(multiDoc))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}]}`))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: -1, template: {spec: {containers: 7}}}\n"))
	// Shapes of the hostile inputs of hostile_test.go, small, for the mutator to build on.
	f.Add([]byte("apiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: a}\r\ndata: {a: &v xxxx, b: *v, c: [*v, *v]}\r\n---\r\n---\n"))
	f.Add([]byte("a: [[[[{a: {a: - - - \x00\xff"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "input.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := (&Loader{}).LoadFiles([]string{path})
		var inputErr *InputError
		if err != nil && !errors.As(err, &inputErr) {
			t.Fatalf("error of type %T, want *InputError: %v", err, err)
		}
	})
}
