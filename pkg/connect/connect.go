// Package connect is how every command reaches a cluster: kubectl's connection flags, or the
// pod's own service account when there is no kubeconfig, turned into one REST configuration,
// and a first request that tells an unreachable server in one line.
package connect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alertmend/kubectl-alertmend/pkg/version"
)

// InClusterContext is the context name of a run that connects as the pod it runs in.
const InClusterContext = "in-cluster"

// defaultReachTimeout bounds the first request when --request-timeout is not set, so an
// unreachable server fails with one line instead of hanging.
const defaultReachTimeout = 30 * time.Second

// Target is one cluster to connect to: kubectl's connection flags as given, and the process
// environment they are read in.
type Target struct {
	Flags *genericclioptions.ConfigFlags
	// Getenv reads the process environment (KUBERNETES_SERVICE_HOST).
	Getenv func(string) string
	// InClusterConfig is the pod's own API server address and service-account credentials;
	// nil means rest.InClusterConfig.
	InClusterConfig func() (*rest.Config, error)
}

// CheckFlags catches what client-go would otherwise turn into a confusing message: no
// kubeconfig at all outside a pod (it falls back to localhost:8080), a flag that names part of a
// kubeconfig in a pod that has none, and a malformed --request-timeout.
func (t Target) CheckFlags() error {
	if s := t.Flags.Timeout; s != nil && *s != "" {
		if _, err := strconv.Atoi(*s); err != nil {
			if _, err := time.ParseDuration(*s); err != nil {
				return fmt.Errorf("invalid --request-timeout %q: want a duration such as 30s or 1m", *s)
			}
		}
	}
	if t.kubeconfigGiven() {
		return nil
	}
	if t.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return errors.New("no kubeconfig found: set KUBECONFIG, create ~/.kube/config, or pass --kubeconfig")
	}
	f := t.Flags
	for _, flag := range []struct {
		name string
		set  bool
	}{
		{"context", flagSet(f.Context)}, {"cluster", flagSet(f.ClusterName)}, {"user", flagSet(f.AuthInfoName)},
		{"client-certificate", flagSet(f.CertFile)}, {"client-key", flagSet(f.KeyFile)},
		{"username", flagSet(f.Username)}, {"password", flagSet(f.Password)}, {"proxy-url", flagSet(f.ProxyURL)},
	} {
		if flag.set {
			return fmt.Errorf("--%s needs a kubeconfig, and there is none: in a pod without one, the pod's service account is used", flag.name)
		}
	}
	if !flagSet(f.Impersonate) && (flagSet(f.ImpersonateUID) || (f.ImpersonateGroup != nil && len(*f.ImpersonateGroup) > 0) ||
		(f.ImpersonateUserExtra != nil && len(*f.ImpersonateUserExtra) > 0)) {
		return errors.New("--as-group, --as-uid and --as-user-extra impersonate a user: pass --as too")
	}
	return nil
}

func flagSet(p *string) bool { return p != nil && *p != "" }

// kubeconfigGiven tells whether the user chose where to connect: --kubeconfig, --server, or a
// kubeconfig that KUBECONFIG or ~/.kube/config supplies. One that cannot be read counts, so
// loading it reports why.
func (t Target) kubeconfigGiven() bool {
	if flagSet(t.Flags.APIServer) || flagSet(t.Flags.KubeConfig) {
		return true
	}
	raw, err := t.Flags.ToRawKubeConfigLoader().RawConfig()
	return err != nil || len(raw.Clusters) > 0 || len(raw.Contexts) > 0
}

// InCluster tells whether the run connects as the pod it runs in: no kubeconfig, and the
// variable the kubelet sets in every container.
func (t Target) InCluster() bool {
	return t.Getenv("KUBERNETES_SERVICE_HOST") != "" && !t.kubeconfigGiven()
}

// RESTConfig is the configuration of every request to the cluster: kubectl's flags
// (impersonation included), this tool's user agent, and no client-side throttling, since each
// caller bounds its requests in flight.
func (t Target) RESTConfig() (*rest.Config, error) {
	if err := t.CheckFlags(); err != nil {
		return nil, err
	}
	var config *rest.Config
	if t.InCluster() {
		var err error
		if config, err = t.inClusterConfig(); err != nil {
			return nil, err
		}
	} else {
		loaded, err := t.Flags.ToRESTConfig()
		if err != nil {
			return nil, fmt.Errorf("cannot load the kubeconfig: %v", err)
		}
		config = rest.CopyConfig(loaded)
	}
	config.UserAgent = "kubectl-alertmend/" + version.Get().Version
	config.QPS, config.Burst = 100, 200
	return config, nil
}

// inClusterConfig is the pod's service account and API server address, with the kubectl flags
// that still mean something without a kubeconfig applied on top. client-go's loader falls back
// to the same by itself, but only where the token file is mounted (else the run would fail with
// "no configuration has been provided"), and it drops --as, --as-group and --request-timeout;
// choosing it here keeps those flags, names the cause when the pod's configuration cannot be
// loaded, and lets tests stand in for the pod.
func (t Target) inClusterConfig() (*rest.Config, error) {
	load := t.InClusterConfig
	if load == nil {
		load = rest.InClusterConfig
	}
	loaded, err := load()
	if err != nil {
		return nil, fmt.Errorf("no kubeconfig, and the in-cluster configuration of this pod (KUBERNETES_SERVICE_HOST is set) cannot be loaded: %v", err)
	}
	config := rest.CopyConfig(loaded)
	f := t.Flags
	if flagSet(f.Impersonate) {
		config.Impersonate = rest.ImpersonationConfig{UserName: *f.Impersonate}
		if f.ImpersonateUID != nil {
			config.Impersonate.UID = *f.ImpersonateUID
		}
		if f.ImpersonateGroup != nil {
			config.Impersonate.Groups = *f.ImpersonateGroup
		}
		if f.ImpersonateUserExtra != nil {
			for _, extra := range *f.ImpersonateUserExtra {
				if key, value, ok := strings.Cut(extra, "="); ok {
					if config.Impersonate.Extra == nil {
						config.Impersonate.Extra = map[string][]string{}
					}
					config.Impersonate.Extra[key] = append(config.Impersonate.Extra[key], value)
				}
			}
		}
	}
	if flagSet(f.Timeout) {
		if config.Timeout, err = clientcmd.ParseTimeout(*f.Timeout); err != nil {
			return nil, fmt.Errorf("invalid --request-timeout %q: %v", *f.Timeout, err)
		}
	}
	if flagSet(f.BearerToken) {
		config.BearerToken, config.BearerTokenFile = *f.BearerToken, ""
	}
	if flagSet(f.CAFile) {
		config.TLSClientConfig.CAFile, config.TLSClientConfig.CAData = *f.CAFile, nil
	}
	if f.Insecure != nil && *f.Insecure {
		// client-go refuses a CA together with skipping verification.
		config.TLSClientConfig.Insecure = true
		config.TLSClientConfig.CAFile, config.TLSClientConfig.CAData = "", nil
	}
	if flagSet(f.TLSServerName) {
		config.TLSClientConfig.ServerName = *f.TLSServerName
	}
	if f.DisableCompression != nil && *f.DisableCompression {
		config.DisableCompression = true
	}
	return config, nil
}

// Protobuf is config asking for protobuf answers, which the API server encodes and the client
// decodes several times faster than JSON; JSON stays acceptable for what is served only so.
func Protobuf(config *rest.Config) *rest.Config {
	c := rest.CopyConfig(config)
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return c
}

// ContextName is the kubeconfig context the run connects through: --context, else the current
// one, or InClusterContext for a pod's own service account.
func (t Target) ContextName() string {
	if flagSet(t.Flags.Context) {
		return *t.Flags.Context
	}
	if t.InCluster() {
		return InClusterContext
	}
	raw, err := t.Flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return ""
	}
	return raw.CurrentContext
}

// Namespace is where namespaced requests go when -n is not given: the context's namespace, else
// default, as kubectl does.
func (t Target) Namespace() string {
	if ns, _, err := t.Flags.ToRawKubeConfigLoader().Namespace(); err == nil && ns != "" {
		return ns
	}
	return metav1.NamespaceDefault
}

// Contexts is the kubeconfig's raw configuration, for fleet runs that pick several contexts.
func (t Target) Contexts() (map[string]bool, error) {
	raw, err := t.Flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, fmt.Errorf("cannot load the kubeconfig: %v", err)
	}
	names := make(map[string]bool, len(raw.Contexts))
	for name := range raw.Contexts {
		names[name] = true
	}
	return names, nil
}

// ForContext is the same target but for the named context. The flags are copied into a fresh
// ConfigFlags, since one caches the client configuration of the context it first loaded.
func (t Target) ForContext(name string) Target {
	f := t.Flags
	c := genericclioptions.NewConfigFlags(true)
	c.CacheDir, c.KubeConfig = f.CacheDir, f.KubeConfig
	c.ClusterName, c.AuthInfoName, c.Context = f.ClusterName, f.AuthInfoName, &name
	c.Namespace, c.APIServer, c.TLSServerName, c.Insecure = f.Namespace, f.APIServer, f.TLSServerName, f.Insecure
	c.CertFile, c.KeyFile, c.CAFile, c.BearerToken = f.CertFile, f.KeyFile, f.CAFile, f.BearerToken
	c.Impersonate, c.ImpersonateUID, c.ImpersonateGroup, c.ImpersonateUserExtra = f.Impersonate, f.ImpersonateUID, f.ImpersonateGroup, f.ImpersonateUserExtra
	c.Username, c.Password, c.Timeout = f.Username, f.Password, f.Timeout
	c.DisableCompression, c.ProxyURL, c.WrapConfigFn = f.DisableCompression, f.ProxyURL, f.WrapConfigFn
	t.Flags = c
	return t
}

// Where names a server for messages: its address, and the context when there is one.
func Where(config *rest.Config, contextName string) string {
	if contextName != "" {
		return config.Host + " (context " + contextName + ")"
	}
	return config.Host
}

// Reach makes one cheap request first, so an unreachable server or rejected credentials end
// the run with one clear line, within --request-timeout; with a namespace, it also tells one
// that does not exist.
func Reach(ctx context.Context, client kubernetes.Interface, config *rest.Config, contextName, namespace string) error {
	timeout := config.Timeout
	if timeout == 0 {
		timeout = defaultReachTimeout
	}
	reachCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	where := Where(config, contextName)
	_, err := client.Discovery().RESTClient().Get().AbsPath("/version").Do(reachCtx).Raw()
	switch {
	case err == nil:
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the API server at %s rejected the credentials: %v", where, err)
	case apierrors.IsForbidden(err):
		// /version is public on most clusters; a refusal here still shows the server is up.
	default:
		var netErr net.Error
		if errors.Is(reachCtx.Err(), context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
			return fmt.Errorf("cannot reach the Kubernetes API server at %s: no answer within %s", where, timeout)
		}
		return fmt.Errorf("cannot reach the Kubernetes API server at %s: %v", where, shortNetError(err))
	}
	if namespace == "" {
		return nil
	}
	if _, err := client.CoreV1().Namespaces().Get(reachCtx, namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return fmt.Errorf("namespace %q not found in %s", namespace, where)
	}
	return nil
}

// shortNetError drops the request URL that *url.Error repeats, keeping the cause.
func shortNetError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
