package connect

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
)

// noKubeconfig hides every kubeconfig client-go would find: KUBECONFIG names a file that does
// not exist, and HOME is empty anyway.
func noKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "absent"))
	t.Setenv("HOME", t.TempDir())
}

// The kubectl flags that mean something without a kubeconfig apply on top of the pod's
// configuration; the pod's credentials are kept unless --token replaces them.
func TestInClusterConfigKeepsKubectlFlags(t *testing.T) {
	noKubeconfig(t)
	podConfig := &rest.Config{Host: "https://127.0.0.1:6443", BearerTokenFile: "/token",
		TLSClientConfig: rest.TLSClientConfig{CAFile: "/ca.crt"}}
	newTarget := func(set func(*genericclioptions.ConfigFlags)) Target {
		flags := genericclioptions.NewConfigFlags(true)
		set(flags)
		return Target{Flags: flags,
			Getenv:          func(k string) string { return map[string]string{"KUBERNETES_SERVICE_HOST": "127.0.0.1"}[k] },
			InClusterConfig: func() (*rest.Config, error) { return rest.CopyConfig(podConfig), nil },
		}
	}
	o := newTarget(func(f *genericclioptions.ConfigFlags) {
		*f.Impersonate, *f.ImpersonateGroup, *f.ImpersonateUserExtra = "jane", []string{"ops", "oncall"}, []string{"team=sre"}
		*f.Timeout = "7s"
	})
	config, err := o.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if config.Host != podConfig.Host || config.BearerTokenFile != "/token" || config.CAFile != "/ca.crt" {
		t.Errorf("the pod's connection was not kept: host %q, token file %q, CA %q", config.Host, config.BearerTokenFile, config.CAFile)
	}
	if config.Impersonate.UserName != "jane" || !slices.Equal(config.Impersonate.Groups, []string{"ops", "oncall"}) ||
		!slices.Equal(config.Impersonate.Extra["team"], []string{"sre"}) {
		t.Errorf("impersonation %+v", config.Impersonate)
	}
	if config.Timeout != 7*time.Second || !strings.HasPrefix(config.UserAgent, "kubectl-alertmend/") {
		t.Errorf("timeout %s, user agent %q", config.Timeout, config.UserAgent)
	}
	if name := o.ContextName(); name != "in-cluster" {
		t.Errorf("context %q, want in-cluster", name)
	}
	if podConfig.Impersonate.UserName != "" {
		t.Error("the pod's configuration was changed in place")
	}

	o = newTarget(func(f *genericclioptions.ConfigFlags) { *f.BearerToken, *f.Insecure = "t0ken", true })
	if config, err = o.RESTConfig(); err != nil {
		t.Fatal(err)
	}
	if config.BearerToken != "t0ken" || config.BearerTokenFile != "" || !config.Insecure || config.CAFile != "" {
		t.Errorf("--token and --insecure-skip-tls-verify: token %q, token file %q, insecure %v, CA %q",
			config.BearerToken, config.BearerTokenFile, config.Insecure, config.CAFile)
	}
}
