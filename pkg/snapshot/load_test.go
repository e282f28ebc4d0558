package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
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

// -n means what it means to kubectl apply -n NS -f: the namespace of namespaced objects that name
// none, and the only one they may name; cluster-scoped objects are loaded as they are.
func TestLoadNamespaceAsKubectlApply(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "app.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: app, image: web:1}]}}}
---
apiVersion: v1
kind: Pod
metadata: {name: named, namespace: two}
spec: {containers: [{name: app, image: app:1}]}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader, namespace: one}
`)
	s, err := (&Loader{Namespace: "two"}).LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Deployments) != 1 || s.Deployments[0].Namespace != "two" || len(s.Pods) != 1 || len(s.Nodes) != 1 || len(s.ClusterRoles) != 1 {
		t.Fatalf("got deployments %v, %d pods, %d nodes, %d cluster roles; want web in two, the pod, the node and the role",
			s.Deployments, len(s.Pods), len(s.Nodes), len(s.ClusterRoles))
	}
	if got := s.Origins[RefTo(KindDeployments, "two", "web")]; got.Line != 1 {
		t.Errorf("web's origin %v, want line 1", got)
	}
	if s.Namespace != "two" || s.LimitedToNamespace() {
		t.Errorf("snapshot namespace %q, limited %v: want two, not limited (the input is all there)", s.Namespace, s.LimitedToNamespace())
	}

	other := write(t, dir, "other.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: node-2}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: one}\nspec: {containers: [{name: app, image: app:1}]}\n")
	_, err = (&Loader{Namespace: "two"}).LoadFiles([]string{other})
	wantInputError(t, err, other, 5, `the namespace from the provided object "one" does not match the namespace "two". `+
		`You must pass '--namespace=one' to perform this operation.`)

	// Without -n, an object that names no namespace is in default.
	s, err = (&Loader{}).LoadFiles([]string{path, other})
	if err != nil {
		t.Fatal(err)
	}
	if s.Deployments[0].Namespace != "default" || s.Namespace != "" {
		t.Errorf("without -n: web in %q, snapshot namespace %q; want default and none", s.Deployments[0].Namespace, s.Namespace)
	}
}

// The same object defined again is what kubectl apply does with it: the last one stays. The
// loader says so, with both places, and judges the last.
func TestLoadDefinedTwice(t *testing.T) {
	dir := t.TempDir()
	deployment := func(image string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cart, namespace: shop}\n" +
			"spec: {selector: {matchLabels: {app: cart}}, template: {metadata: {labels: {app: cart}}, spec: {containers: [{name: app, image: " + image + "}]}}}\n"
	}
	a := write(t, dir, "a.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\n"+deployment("cart:1"))
	// The second definition names no namespace: with -n shop it is the same object.
	b := write(t, dir, "b.yaml", strings.Replace(deployment("cart:2"), ", namespace: shop", "", 1)+"---\n"+deployment("cart:3"))
	l := &Loader{Namespace: "shop"}
	s, err := l.LoadFiles([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Deployments) != 1 || s.Deployments[0].Spec.Template.Spec.Containers[0].Image != "cart:3" {
		t.Fatalf("deployments %v, want cart once, as defined last (cart:3)", s.Deployments)
	}
	ref := RefTo(KindDeployments, "shop", "cart")
	if got := s.Origins[ref]; got != (Origin{File: b, Line: 6}) {
		t.Errorf("origin %v, want %s:6", got, b)
	}
	want := []Warning{
		{Origin: Origin{File: b, Line: 6}, Message: "shop/deployment/cart is defined 3 times, first at " + a + ":5 and last at " + b + ":6; the last one is judged"},
	}
	if !reflect.DeepEqual(l.Warnings, want) {
		t.Errorf("warnings\n%+v\nwant\n%+v", l.Warnings, want)
	}

	// However often an object is defined, it is one warning.
	many := write(t, dir, "many.yaml", strings.Repeat("apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\n", 1000))
	l = &Loader{}
	if _, err := l.LoadFiles([]string{many}); err != nil {
		t.Fatal(err)
	}
	if len(l.Warnings) != 1 || l.Warnings[0].Message != "node/n1 is defined 1000 times, first at "+many+":1 and last at "+many+":3997; the last one is judged" {
		t.Errorf("warnings %+v", l.Warnings)
	}

	// Twice is said as such.
	l = &Loader{}
	if _, err := l.LoadFiles([]string{a, a}); err != nil {
		t.Fatal(err)
	}
	want = []Warning{
		{Origin: Origin{File: a, Line: 1}, Message: "node/n1 is defined twice, at " + a + ":1 and " + a + ":1; the last one is judged"},
		{Origin: Origin{File: a, Line: 5}, Message: "shop/deployment/cart is defined twice, at " + a + ":5 and " + a + ":5; the last one is judged"},
	}
	if !reflect.DeepEqual(l.Warnings, want) {
		t.Errorf("warnings\n%+v\nwant\n%+v", l.Warnings, want)
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
kind: PodTemplate
metadata: {name: claim}
---
apiVersion: v1
kind: Node
metadata: {name: n1}
`)
	l := &Loader{}
	s, err := l.LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	want := []SkippedObject{
		{APIVersion: "example.com/v1", Kind: "Widget", Origin: Origin{File: path, Line: 1}, Unknown: true},
		{APIVersion: "apps/v1", Kind: "Deploymnet", Origin: Origin{File: path, Line: 5}, Unknown: true},
		{APIVersion: "v1", Kind: "Secret", Origin: Origin{File: path, Line: 9}},
		{APIVersion: "v1", Kind: "PodTemplate", Origin: Origin{File: path, Line: 14}},
	}
	if !reflect.DeepEqual(l.Skipped, want) {
		t.Errorf("skipped\n%+v\nwant\n%+v", l.Skipped, want)
	}
	if len(s.Origins) != 1 || len(s.Nodes) != 1 {
		t.Errorf("kept %v, want the node alone", s.Origins)
	}
	if got, want := l.SkippedSummary(), "skipped 4 objects, the first at "+path+":1; not checked by alertmend: v1 PodTemplate, v1 Secret; "+
		"unknown to Kubernetes (custom resources, or misspelt): apps/v1 Deploymnet, example.com/v1 Widget"; got != want {
		t.Errorf("summary %q\nwant    %q", got, want)
	}
}

// Input with objects but none that a check reads is refused like empty input: a gate that
// judged nothing must not pass.
func TestLoadNothingCheckable(t *testing.T) {
	dir := t.TempDir()
	crds := write(t, dir, "crds.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
	claims := write(t, dir, "claims.yaml", "apiVersion: v1\nkind: PodTemplate\nmetadata: {name: c}\n")
	_, err := (&Loader{}).LoadFiles([]string{crds, claims})
	wantInputError(t, err, crds+", "+claims, 0, "no object of a kind alertmend checks: skipped 2 objects, the first at "+crds+
		":1; not checked by alertmend: v1 PodTemplate; unknown to Kubernetes (custom resources, or misspelt): example.com/v1 Widget")
	if !errors.Is(err, ErrNothingToCheck) {
		t.Errorf("err = %v, want ErrNothingToCheck", err)
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
		{"wrong-type.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replicas: many}\n", 1,
			"Deployment: spec.replicas: got a string, want a whole number"},
		{"wrong-type-embedded.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    livenessProbe: {exec: {command: ls}}\n", 1,
			"Pod: spec.containers.livenessProbe.exec.command: got a string, want a list"},
		{"wrong-type-meta.yaml", "apiVersion: v1\nkind: [Pod]\n", 1, "not a Kubernetes object: kind: got a list, want a string"},
		{"wrong-items.yaml", "apiVersion: v1\nkind: List\nitems: {a: 1}\n", 1, "not a Kubernetes object: items: got a mapping, want a list"},
		{"bad-quantity.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, resources: {limits: {memory: lots}}}]}\n", 1,
			"Pod: invalid quantity: want a number with an optional unit, such as 500m, 2 or 512Mi"},
		{"bad-time.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, creationTimestamp: yesterday}\n", 1,
			`Pod: invalid time "yesterday": want one such as 2026-01-31T09:30:00Z`},
		{"scalar.yaml", "just a string\n", 1, "not a Kubernetes object"},
		// Helm output: a comment after the separator must not shift the line.
		{"helm.yaml", "---\n# Source: chart/templates/pod.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: app: web\n", 7, "invalid YAML"},
		{"no-name.yaml", "apiVersion: v1\nkind: Node\nmetadata: {labels: {a: b}}\n", 1, "Node has no metadata.name"},
		// Unrendered Helm templates, at their first action.
		{"template.yaml", "# Source: chart/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    {{- include \"x.labels\" . | nindent 4 }}\n", 7, "looks like an unrendered template; render it first (helm template ...)"},
		{"template-value.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: {{ .Values.replicas }}\n", 8, "looks like an unrendered template"},
		{"template-first.yaml", "\n{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\n{{- end }}\n", 2, "looks like an unrendered template"},
		// Read for its aliases first (& and *), the template fails in that parser.
		{"template-aliases.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  glob: \"*.conf & more\"\n  {{- toYaml .Values.extra | nindent 2 }}\n", 7, "looks like an unrendered template"},
		{"template-first-document.yaml", "# comment\n{{- if .Values.enabled }}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: a}\n", 2, "looks like an unrendered template"},
		// A Go template in a string (an alert's summary) is data: the error is the document's own.
		{"template-in-string.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: rules}\ndata:\n  alert: |\n    summary: {{ $labels.instance }}\n  other: x\n bad: y\n", 7, "invalid YAML"},
		{"template-in-json-string.json", "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\",\n \"data\": {\"a\": \"{{ .x }}\"},\n \"metadata\": {\"name\": \"a\",}\n}", 3, "invalid JSON"},
		{"template.json", "{\"apiVersion\": \"v1\",\n \"kind\": \"Node\",\n \"metadata\": {{ toJson .Values.meta }}\n}", 3, "looks like an unrendered template"},
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
			if goTypeNames.MatchString(err.Error()) {
				t.Errorf("error %q names Go types", err)
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
