package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What --watch cannot do is refused from the flags alone, exit 2, naming the flag; the
// kubeconfig's server is a loopback port nobody serves, so a refusal that came too late would
// fail on connecting instead.
func TestWatchRefusesWhatItCannotWatch(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	manifests := writeManifest(t, "rbac.yaml", rbacManifests)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--watch", "-f", manifests}, "manifests (-f)"},
		{[]string{"--watch", "--snapshot", filepath.Join(dir, "s.gz")}, "--snapshot"},
		{[]string{"--watch", "--explain-permissions"}, "--explain-permissions"},
		{[]string{"--watch", "--contexts", "a,b"}, "--contexts"},
		{[]string{"--watch", "--all-contexts"}, "--all-contexts"},
		{[]string{"--watch", "--push-gateway", "http://127.0.0.1:1"}, "--push-gateway"},
		{[]string{"--watch", "--write-baseline", filepath.Join(dir, "b.yaml")}, "--write-baseline"},
		{[]string{"--watch", "-o", "sarif"}, "-o sarif"},
		{[]string{"--watch", "-o", "junit"}, "-o junit"},
		{[]string{"--watch", "-o", "yaml"}, "-o yaml"},
		{[]string{"--watch", "-o", "markdown"}, "-o markdown"},
		{[]string{"--watch", "-o", "prometheus"}, "-o prometheus"},
		{[]string{"--watch", "--interval", "0s"}, "--interval"},
		{[]string{"--watch", "--debounce", "-1s"}, "--debounce"},
		{[]string{"--interval", "10s"}, "--interval is how --watch watches"},
		{[]string{"--debounce", "1s"}, "--debounce is how --watch watches"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, testEnv{}, append([]string{"diagnose", "--kubeconfig", kubeconfig}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit 2 and a message naming %q", r.code, r.stderr, r.stdout, tc.want)
			}
			if strings.Contains(r.stderr, "127.0.0.1:1") {
				t.Errorf("the cluster was contacted before the refusal: %s", r.stderr)
			}
		})
	}
}
