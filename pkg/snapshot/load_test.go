package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const multiDoc = `# leading comment
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: app, image: web:1}]}}}
---
# an empty document follows
---

apiVersion: v1
kind: Pod
metadata: {name: lonely}
spec: {containers: [{name: app, image: app:1}]}
--- # a separator with a comment
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
`

func TestLoadMultiDocumentYAML(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "app.yaml", multiDoc)
	s, err := (&Loader{}).LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Deployments) != 1 || len(s.Pods) != 1 {
		t.Fatalf("got %d deployments and %d pods, want 1 and 1", len(s.Deployments), len(s.Pods))
	}
	if s.Pods[0].Namespace != "default" {
		t.Errorf("a pod without a namespace lands in %q, want default", s.Pods[0].Namespace)
	}
	if got := s.Origins[RefTo(KindDeployments, "shop", "web")]; got.Line != 2 || got.File != path {
		t.Errorf("deployment origin = %v, want %s:2", got, path)
	}
	if got := s.Origins[RefTo(KindPods, "default", "lonely")]; got.Line != 10 {
		t.Errorf("pod origin line = %d, want 10", got.Line)
	}
}

func TestLoadJSONListsAndDirectories(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a/nodes.json", `{"apiVersion":"v1","kind":"List","items":[
  {"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}},
  {"apiVersion":"v1","kind":"Node","metadata":{"name":"n2"}}]}`)
	write(t, dir, "a/b/pods.yml", "apiVersion: v1\nkind: PodList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p1, namespace: x}\n")
	write(t, dir, "a/stream.json", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"y"}}`)
	write(t, dir, "a/README.md", "not a manifest: {{")
	s, err := (&Loader{}).LoadFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != 2 || len(s.Pods) != 1 || len(s.Namespaces) != 2 {
		t.Fatalf("got %d nodes, %d pods, %d namespaces; want 2, 1, 2", len(s.Nodes), len(s.Pods), len(s.Namespaces))
	}
	if got := s.Origins[RefTo(KindNamespaces, "", "y")].Line; got != 2 {
		t.Errorf("second JSON value starts on line %d, want 2", got)
	}
}

func TestLoadStdin(t *testing.T) {
	l := &Loader{Stdin: strings.NewReader("apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n")}
	s, err := l.LoadFiles([]string{"-"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != 1 || s.Origins[RefTo(KindNodes, "", "n1")].File != "<stdin>" {
		t.Fatalf("stdin not loaded: %+v", s.Origins)
	}
}

func TestLoadNamespaceFilter(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "pods.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: one}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: two}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: node-1}\n")
	s, err := (&Loader{Namespace: "two"}).LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pods) != 1 || s.Pods[0].Name != "b" || len(s.Nodes) != 1 {
		t.Fatalf("namespace filter kept pods %v and %d nodes", s.Pods, len(s.Nodes))
	}
}

func TestLoadSkipsUnknownKindsAndSecrets(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "mixed.yaml", `apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: apps/v1
kind: Deploymnet
metadata: {name: typo}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {password: c2VjcmV0}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim}
`)
	l := &Loader{}
	s, err := l.LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Skipped) != 2 || l.Skipped[0].Kind != "Widget" || l.Skipped[0].Origin.Line != 1 ||
		l.Skipped[1].Kind != "Deploymnet" || l.Skipped[1].Origin.Line != 5 {
		t.Errorf("skipped = %+v, want the Widget at line 1 and the misspelled Deploymnet at line 5", l.Skipped)
	}
	if len(s.Origins) != 0 {
		t.Errorf("objects no check reads were kept: %v", s.Origins)
	}
}

func TestLoadErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		line          int
		contains      string
	}{
		{"bad-indent.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n name: c\n", 8, "invalid YAML"},
		{"tab.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n\tname: x\n", 4, "invalid YAML"},
		{"no-kind.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\n\napiVersion: v1\nmetadata: {name: b}\n", 6, "no kind"},
		{"no-version.yaml", "kind: Node\nmetadata: {name: a}\n", 1, "no apiVersion"},
		{"bad.json", "{\"apiVersion\": \"v1\",\n \"kind\": \"Node\",\n \"metadata\": {\"name\": \"a\",}\n}", 3, "invalid JSON"},
		{"truncated.json", "{\"apiVersion\": \"v1\",\n \"kind\": \"Node\"", 2, "invalid JSON"},
		{"wrong-type.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replicas: many}\n", 1, "Deployment"},
		{"scalar.yaml", "just a string\n", 1, "not a Kubernetes object"},
		// Helm output: a comment after the separator must not shift the line.
		{"helm.yaml", "---\n# Source: chart/templates/pod.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: app: web\n", 7, "invalid YAML"},
		{"no-name.yaml", "apiVersion: v1\nkind: Node\nmetadata: {labels: {a: b}}\n", 1, "Node has no metadata.name"},
		{"twice.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\n", 5, "node/n1 is defined twice; first at"},
		{"list-item.yaml", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Node, metadata: {name: a}}\n- {apiVersion: v1, kind: Node}\n", 1, "items[1]: Node has no metadata.name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, dir, tc.name, tc.content)
			_, err := (&Loader{}).LoadFiles([]string{path})
			var inputErr *InputError
			if !errors.As(err, &inputErr) {
				t.Fatalf("err = %v, want an InputError", err)
			}
			if inputErr.File != path || inputErr.Line != tc.line {
				t.Errorf("error at %s:%d, want %s:%d (%v)", inputErr.File, inputErr.Line, path, tc.line, err)
			}
			if !strings.Contains(err.Error(), tc.contains) || !strings.HasPrefix(err.Error(), path+":") {
				t.Errorf("error %q should start with the file and mention %q", err, tc.contains)
			}
		})
	}
}

func TestLoadEmptyAndMissingInput(t *testing.T) {
	dir := t.TempDir()
	empty := write(t, dir, "empty.yaml", "# nothing here\n---\n")
	if _, err := (&Loader{}).LoadFiles([]string{empty}); err == nil || !strings.Contains(err.Error(), "no Kubernetes objects found") {
		t.Errorf("empty input: err = %v", err)
	}
	missing := filepath.Join(dir, "nope.yaml")
	if _, err := (&Loader{}).LoadFiles([]string{missing}); err == nil || !strings.HasPrefix(err.Error(), missing+": ") {
		t.Errorf("missing file: err = %v", err)
	}
	if _, err := (&Loader{}).LoadFiles([]string{t.TempDir()}); err == nil {
		t.Error("a directory without manifests loaded without error")
	}
}

// Manifests written for older API versions are still judged, as the current version.
func TestLoadOlderAPIVersions(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "old.yaml", `apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: hello}
spec: {schedule: "* * * * *", jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: i}]}}}}}
---
apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: web}
spec: {template: {spec: {containers: [{name: c, image: i}]}}}
`)
	s, err := (&Loader{}).LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.CronJobs) != 1 || s.CronJobs[0].Spec.JobTemplate.Spec.Template.Spec.Containers[0].Name != "c" || len(s.Deployments) != 1 {
		t.Errorf("older versions not loaded: %d cronjobs, %d deployments", len(s.CronJobs), len(s.Deployments))
	}
}

func TestLoadGenerateName(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "jobs.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-}\nspec: {template: {spec: {containers: [{name: c, image: i}]}}}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-}\nspec: {template: {spec: {containers: [{name: c, image: i}]}}}\n")
	s, err := (&Loader{}).LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Jobs) != 2 || s.Jobs[0].Name == s.Jobs[1].Name {
		t.Errorf("two jobs named by generateName: %v, %v", s.Jobs[0].Name, s.Jobs[1].Name)
	}
}

func TestTopOwner(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "owners.yaml", `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-abc
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, controller: true, uid: u1}]
spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-abc-1
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-abc, controller: true, uid: u2}]
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: standalone-rs-pod
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: handmade, controller: true, uid: u3}]
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy, namespace: ns}
spec:
  selector: {app: legacy}
  template: {metadata: {labels: {app: legacy}}, spec: {containers: [{name: c, image: i}]}}
---
apiVersion: v1
kind: Pod
metadata:
  name: legacy-x7k2p
  namespace: ns
  labels: {app: legacy}
  ownerReferences: [{apiVersion: v1, kind: ReplicationController, name: legacy, controller: true, uid: u5}]
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: db-0
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, controller: true, uid: u4}]
spec: {containers: [{name: c, image: i}]}
`)
	s, err := (&Loader{}).LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"web-abc-1":         "ns/deployment/web",
		"standalone-rs-pod": "ns/replicaset/handmade",
		"db-0":              "ns/statefulset/db",
		"legacy-x7k2p":      "ns/replicationcontroller/legacy",
	}
	for i := range s.Pods {
		if got := s.TopOwner(&s.Pods[i]).String(); got != want[s.Pods[i].Name] {
			t.Errorf("owner of %s = %s, want %s", s.Pods[i].Name, got, want[s.Pods[i].Name])
		}
	}
	if n := s.PodCount(RefTo(KindDeployments, "ns", "web")); n != 1 {
		t.Errorf("PodCount(web) = %d, want 1", n)
	}
	if n := s.PodCount(RefTo(KindReplicationControllers, "ns", "legacy")); n != 1 {
		t.Errorf("PodCount(legacy) = %d, want 1", n)
	}
	// A ReplicationController is a workload of its own, judged on its template: its pod does
	// not stand in for it a second time.
	var legacy []Workload
	for _, w := range s.Workloads() {
		if w.Ref.Name == "legacy" {
			legacy = append(legacy, w)
		}
	}
	if len(legacy) != 1 || legacy[0].Ref != RefTo(KindReplicationControllers, "ns", "legacy") || legacy[0].Labels["app"] != "legacy" ||
		legacy[0].Spec != &s.ReplicationControllers[0].Spec.Template.Spec {
		t.Errorf("workloads named legacy: %+v, want the ReplicationController's template, once", legacy)
	}
}
