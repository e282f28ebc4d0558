package cmd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// installManifest is shaped like a project's install manifest, written for
// kubectl apply -n argocd -f: namespaced objects name no namespace, the binding names the
// namespace its ServiceAccount will be in.
const installManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: controller}
spec:
  selector: {matchLabels: {app: controller}}
  template:
    metadata: {labels: {app: controller}}
    spec:
      serviceAccountName: controller
      containers: [{name: app, image: controller:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: controller}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: controller}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: controller}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: controller}
subjects: [{kind: ServiceAccount, name: controller, namespace: argocd}]
`

func writeManifest(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// -n with -f is kubectl apply's: the install manifest is judged whole, in argocd, with the same
// findings and exit code as without -n; before, its Deployment was filtered away and the
// cluster-wide RBAC checks were not evaluated.
func TestManifestsNamespaceAsKubectlApply(t *testing.T) {
	path := writeManifest(t, "install.yaml", installManifest)
	r := run(t, testEnv{}, "diagnose", "-f", path, "-n", "argocd", "-o", "json")
	rep := r.report(t)
	keys := findingKeys(rep)
	for _, want := range []string{"rbac-cluster-admin argocd/serviceaccount/controller", "memory-limit-missing argocd/deployment/controller"} {
		if !slices.Contains(keys, want) {
			t.Errorf("no finding %q in %q", want, keys)
		}
	}
	if r.code != report.ExitGateFailed || rep.Metadata.Namespace != "argocd" || len(rep.NotEvaluated) != 0 {
		t.Errorf("exit %d, namespace %q, not evaluated %v; want 1, argocd, none\n%s", r.code, rep.Metadata.Namespace, rep.NotEvaluated, r.stderr)
	}

	// --object finds the object where -n put it.
	r = run(t, testEnv{}, "diagnose", "-f", path, "-n", "argocd", "--object", "deployment/controller", "-o", "json")
	if keys := findingKeys(r.report(t)); !slices.Contains(keys, "memory-limit-missing argocd/deployment/controller") {
		t.Errorf("--object deployment/controller: findings %q", keys)
	}

	// An object that names another namespace is refused as kubectl refuses it, at its line.
	other := writeManifest(t, "other.yaml", installManifest+"---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x, namespace: default}\n")
	r = run(t, testEnv{}, "diagnose", "-f", other, "-n", "argocd")
	want := other + `:27: the namespace from the provided object "default" does not match the namespace "argocd". You must pass '--namespace=default' to perform this operation.`
	if r.code != report.ExitError || !strings.Contains(r.stderr, want) || r.stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 saying %q", r.code, r.stdout, r.stderr, want)
	}
}

// Without -n, objects that name no namespace are in default, and --object looks for them there
// whatever namespace the kubeconfig's context names.
func TestManifestsWithoutNamespaceAreInDefault(t *testing.T) {
	path := writeManifest(t, "install.yaml", installManifest)
	kubeconfig := writeManifest(t, "kubeconfig", `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {}}]
contexts: [{name: ctx, context: {cluster: c, user: u, namespace: prod}}]
current-context: ctx
`)
	r := run(t, testEnv{}, "diagnose", "-f", path, "--kubeconfig", kubeconfig, "--object", "deployment/controller", "-o", "json")
	if keys := findingKeys(r.report(t)); !slices.Contains(keys, "memory-limit-missing default/deployment/controller") {
		t.Errorf("findings %q, want the controller's in default\n%s", keys, r.stderr)
	}
}

// The same object twice is a warning naming both places, and the last one is judged; a
// ReplicationController is judged like a Deployment; what is skipped is named.
func TestManifestsDefinedTwiceAndSkipped(t *testing.T) {
	first := writeManifest(t, "a.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec: {containers: [{name: app, image: cart:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]}
`)
	second := writeManifest(t, "b.yaml", `apiVersion: v1
kind: PodTemplate
metadata: {name: data, namespace: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec: {containers: [{name: app, image: cart:2, resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}}]}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy, namespace: shop}
spec:
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec: {containers: [{name: app, image: legacy:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]}
`)
	r := run(t, testEnv{}, "diagnose", "-f", first, "-f", second, "--checks", "memory-limit-missing", "-o", "json")
	if keys := findingKeys(r.report(t)); !slices.Equal(keys, []string{"memory-limit-missing shop/replicationcontroller/legacy"}) {
		t.Errorf("findings %q, want the ReplicationController's alone (cart's last definition has a limit)", keys)
	}
	for _, want := range []string{
		"warning: shop/deployment/cart is defined twice, at " + first + ":1 and " + second + ":5; the last one is judged\n",
		"note: skipped 1 object, the first at " + second + ":1; not checked by alertmend: v1 PodTemplate\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not say %q", r.stderr, want)
		}
	}
	if r.code != report.ExitOK {
		t.Errorf("exit %d, want 0 (a medium finding)", r.code)
	}
}

// Input that cannot be judged is exit 2 with a message at its file and line: a template that
// was not rendered, and objects of which no check reads any.
func TestManifestsThatCannotBeJudged(t *testing.T) {
	template := writeManifest(t, "deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n")
	startsWithAction := writeManifest(t, "configmap.yaml", "{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\n")
	unchecked := writeManifest(t, "crds.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\napiVersion: v1\nkind: PodTemplate\nmetadata: {name: c}\n")
	for _, tc := range []struct {
		path, want string
	}{
		{template, template + ":4: looks like an unrendered template; render it first (helm template ...)"},
		{startsWithAction, startsWithAction + ":1: looks like an unrendered template; render it first (helm template ...)"},
		{unchecked, unchecked + ": no object of a kind alertmend checks: skipped 2 objects, the first at " + unchecked + ":1"},
	} {
		r := run(t, testEnv{}, "diagnose", "-f", tc.path)
		if r.code != report.ExitError || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 saying %q", filepath.Base(tc.path), r.code, r.stdout, r.stderr, tc.want)
		}
	}
}

const shopManifests = `apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec: {containers: [{name: app, image: cart:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: web:1}]}
`

// --object that names nothing in the manifests is an error saying where the object is, never a
// clean report; -A looks for it in whichever namespace holds it.
func TestManifestsObjectNotFound(t *testing.T) {
	path := writeManifest(t, "shop.yaml", shopManifests)
	r := run(t, testEnv{}, "diagnose", "-f", path, "--object", "deployment/cart")
	want := "error: --object: deployment/cart not found in namespace default; it exists in namespace shop: add -n shop\n"
	if r.code != report.ExitError || r.stderr != want || r.stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 saying %q", r.code, r.stdout, r.stderr, want)
	}
	for _, args := range [][]string{{"-n", "shop"}, {"-A"}} {
		r := run(t, testEnv{}, append([]string{"diagnose", "-f", path, "--object", "deployment/cart", "-o", "json"}, args...)...)
		if keys := findingKeys(r.report(t)); !slices.Contains(keys, "memory-limit-missing shop/deployment/cart") ||
			slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, "web") }) {
			t.Errorf("%v: findings %q, want cart's only", args, keys)
		}
	}
	r = run(t, testEnv{}, "diagnose", "-f", path, "--object", "statefulset/cart", "-n", "shop")
	if want := "statefulset/cart not found in namespace shop (there is deployment/cart)"; r.code != report.ExitError || !strings.Contains(r.stderr, want) {
		t.Errorf("another kind: exit %d, stderr %q; want %q", r.code, r.stderr, want)
	}
}

// -l narrows the findings to the objects it selects; a selector that does not parse, and -A
// with -n, are usage errors naming the flags.
func TestManifestsSelector(t *testing.T) {
	path := writeManifest(t, "shop.yaml", shopManifests)
	r := run(t, testEnv{}, "diagnose", "-f", path, "-l", "app=cart", "-o", "json")
	rep := r.report(t)
	// A finding about both workloads is about cart too, and one about shop about where cart
	// runs; one about web alone is out.
	for _, f := range rep.Findings {
		if !slices.ContainsFunc(f.Objects, func(o snapshot.Ref) bool { return o.Name == "cart" || o.String() == "namespace/shop" }) {
			t.Errorf("-l app=cart reported %s on %v", f.Check, f.Objects)
		}
	}
	if keys := findingKeys(rep); !slices.Contains(keys, "memory-limit-missing shop/deployment/cart") {
		t.Errorf("findings %q", keys)
	}
	if rep.Summary.OutOfScope == 0 || !strings.Contains(r.stderr, "note: left out") || !strings.Contains(r.stderr, "(-l app=cart)") {
		t.Errorf("out of scope %d, stderr %q", rep.Summary.OutOfScope, r.stderr)
	}
	for want, args := range map[string][]string{
		`invalid -l/--selector "app in (cart"`:                     {"-l", "app in (cart"},
		"-A (--all-namespaces) and -n shop ask for different runs": {"-A", "-n", "shop"},
	} {
		r := run(t, testEnv{}, append([]string{"diagnose", "-f", path}, args...)...)
		if r.code != report.ExitError || !strings.Contains(r.stderr, want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 saying %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
}
