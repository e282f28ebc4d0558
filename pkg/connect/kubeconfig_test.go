package connect

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
)

// kubeconfigTarget is a target outside a pod whose flags set sets, with KUBECONFIG as given.
func kubeconfigTarget(t *testing.T, kubeconfigEnv string, set func(*genericclioptions.ConfigFlags)) Target {
	t.Helper()
	t.Setenv("KUBECONFIG", kubeconfigEnv)
	flags := genericclioptions.NewConfigFlags(true)
	if set != nil {
		set(flags)
	}
	return Target{Flags: flags, Getenv: func(string) string { return "" }}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const clusterAndUser = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\"}\n" +
	"users:\n- name: u\n  user: {token: abc}\n"

// What client-go would turn into a connection to http://localhost:8080, or say in its own
// terms, is one line naming the file, the variable or the flag.
func TestKubeconfigProblemsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	noContexts := writeFile(t, dir, "no-contexts", clusterAndUser)
	empty := writeFile(t, dir, "empty", "")
	withContexts := clusterAndUser + "contexts:\n- name: prod\n  context: {cluster: c, user: u}\n- name: staging\n  context: {cluster: c, user: u}\n"
	noCurrent := writeFile(t, dir, "no-current", withContexts)
	staleCurrent := writeFile(t, dir, "stale-current", withContexts+"current-context: prdo\n")
	good := writeFile(t, dir, "good", withContexts+"current-context: prod\n")
	missing, missing2 := filepath.Join(dir, "absent"), filepath.Join(dir, "gone")
	list := func(files ...string) string { return strings.Join(files, string(os.PathListSeparator)) }
	flag := func(name string) func(*genericclioptions.ConfigFlags) {
		return func(f *genericclioptions.ConfigFlags) { *f.KubeConfig = name }
	}
	for _, tc := range []struct {
		name string
		env  string
		set  func(*genericclioptions.ConfigFlags)
		want string // "" for no error
	}{
		{"KUBECONFIG names a missing file", missing, nil, "KUBECONFIG names " + missing + ", which does not exist"},
		{"KUBECONFIG names missing files", list(missing, missing2), nil,
			"KUBECONFIG names " + missing + " and " + missing2 + ", none of which exists"},
		{"--kubeconfig names a missing file", "", flag(missing), "--kubeconfig " + missing + ": no such file"},
		{"a kubeconfig without contexts", "", flag(noContexts),
			"the kubeconfig " + noContexts + " has no contexts: add one with kubectl config set-context, or pass --server"},
		{"an empty kubeconfig", "", flag(empty), "the kubeconfig " + empty + " has no contexts"},
		{"KUBECONFIG without contexts, and a missing file", list(noContexts, missing), nil,
			"the kubeconfig " + noContexts + " has no contexts: add one with kubectl config set-context, or pass --server; " +
				"KUBECONFIG also names " + missing + ", which does not exist"},
		{"a missing file beside a good one is what kubectl accepts", list(missing, good), nil, ""},
		{"no current context", "", flag(noCurrent),
			`the kubeconfig ` + noCurrent + ` sets no current context: pass --context (its contexts: "prod", "staging")`},
		{"a current context that does not exist", "", flag(staleCurrent),
			`the current context of the kubeconfig ` + staleCurrent + `, "prdo", does not exist (did you mean "prod"?)`},
		{"--context with a typo", "", func(f *genericclioptions.ConfigFlags) { *f.KubeConfig, *f.Context = good, "stagnig" },
			`context "stagnig" does not exist in the kubeconfig ` + good + ` (did you mean "staging"?)`},
		{"--context far from any", "", func(f *genericclioptions.ConfigFlags) { *f.KubeConfig, *f.Context = good, "nope" },
			`context "nope" does not exist in the kubeconfig ` + good},
		{"--context in a kubeconfig without any", "", func(f *genericclioptions.ConfigFlags) { *f.KubeConfig, *f.Context = noContexts, "prod" },
			`context "prod" does not exist: the kubeconfig ` + noContexts + ` has no contexts`},
		{"--server needs no context", "", func(f *genericclioptions.ConfigFlags) {
			*f.KubeConfig, *f.APIServer = noContexts, "https://127.0.0.1:1"
		}, ""},
		{"--cluster needs no context", "", func(f *genericclioptions.ConfigFlags) { *f.KubeConfig, *f.ClusterName = noContexts, "c" }, ""},
		{"a good kubeconfig", "", flag(good), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := kubeconfigTarget(t, tc.env, tc.set)
			_, err := target.RESTConfig()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNoticeSaysOnce(t *testing.T) {
	var out bytes.Buffer
	n := NewNotice(&out)
	n.say("https://127.0.0.1:6443 (context prod)")
	n.say("https://127.0.0.1:6443 (context prod)")
	if got := out.String(); got != "connecting to https://127.0.0.1:6443 (context prod)\n" {
		t.Errorf("notice %q", got)
	}
	// A request answered at once is not announced.
	out.Reset()
	fresh := NewNotice(&out)
	fresh.watch("https://127.0.0.1:6443")()
	if out.Len() != 0 {
		t.Errorf("a prompt answer was announced: %q", out.String())
	}
	// Nobody watching: nothing, and no failure.
	NewNotice(nil).watch("https://127.0.0.1:6443")()
	var none *Notice
	none.watch("https://127.0.0.1:6443")()
}

func TestFirstContactBound(t *testing.T) {
	for _, tc := range []struct {
		requestTimeout, timeout, want time.Duration
	}{
		{0, 0, defaultReachTimeout},
		{0, 5 * time.Second, 5 * time.Second},
		{0, time.Hour, defaultReachTimeout},
		{2 * time.Second, 5 * time.Second, 2 * time.Second},
		{time.Minute, 5 * time.Second, 5 * time.Second},
	} {
		if got := (Contact{Timeout: tc.timeout}).bound(&rest.Config{Timeout: tc.requestTimeout}); got != tc.want {
			t.Errorf("--request-timeout %s, --timeout %s: bound %s, want %s", tc.requestTimeout, tc.timeout, got, tc.want)
		}
	}
}

func TestMessagesAboutTheServer(t *testing.T) {
	config := &rest.Config{Host: "https://127.0.0.1:6443"}
	for _, tc := range []struct{ got, want string }{
		{NoAnswer(config, 5*time.Second, "prod").Error(), "no answer from https://127.0.0.1:6443 after 5s (context prod)"},
		{NoAnswer(config, 5*time.Minute, "").Error(), "no answer from https://127.0.0.1:6443 after 5m"},
		{NoAnswer(config, 90*time.Second, "").Error(), "no answer from https://127.0.0.1:6443 after 1m30s"},
		{NoAnswer(config, 2*time.Hour, "").Error(), "no answer from https://127.0.0.1:6443 after 2h"},
		{NoAnswer(config, 1500*time.Millisecond, "").Error(), "no answer from https://127.0.0.1:6443 after 1.5s"},
		{notAPIServer("https://x (context c)", 404, "text/plain; charset=utf-8").Error(),
			"not a Kubernetes API server: https://x (context c) answered GET /version with 404 Not Found (text/plain)"},
		{notAPIServer("https://x", 200, "text/html; charset=utf-8").Error(),
			"not a Kubernetes API server: https://x answered GET /version with an HTML page (200 OK)"},
		{notAPIServer("https://x", 502, "").Error(), "not a Kubernetes API server: https://x answered GET /version with 502 Bad Gateway"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q\nwant %q", tc.got, tc.want)
		}
	}
	for contentType, want := range map[string]bool{"application/json": true, "application/json; charset=utf-8": true,
		"application/vnd.kubernetes.protobuf": true, "text/html": false, "": false, "text/plain; charset=utf-8": false} {
		if got := kubernetesMediaType(contentType); got != want {
			t.Errorf("kubernetesMediaType(%q) = %v, want %v", contentType, got, want)
		}
	}
}
