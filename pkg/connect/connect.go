// Package connect is how every command reaches a cluster: kubectl's connection flags, or the
// pod's own service account when there is no kubeconfig, turned into one REST configuration,
// and a first request that tells an unreachable server in one line.
package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alertmend/kubectl-alertmend/pkg/suggest"
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
	if t.kubeconfigGiven() || t.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return t.checkKubeconfig()
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

// checkKubeconfig names what client-go would quietly replace with http://localhost:8080 or
// report in its own terms: a --kubeconfig or KUBECONFIG that names missing files, a kubeconfig
// without contexts or without a current one, and a context that does not exist.
func (t Target) checkKubeconfig() error {
	loader := t.Flags.ToRawKubeConfigLoader()
	var files, missing []string
	fromEnv := false
	if rules, ok := loader.ConfigAccess().(*clientcmd.ClientConfigLoadingRules); ok {
		// client-go sets WarnIfAllMissing exactly when the files come from KUBECONFIG.
		fromEnv = rules.WarnIfAllMissing && rules.ExplicitPath == ""
		for _, file := range rules.GetLoadingPrecedence() {
			if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, file)
			} else if file != "" {
				files = append(files, file)
			}
		}
	}
	switch {
	case flagSet(t.Flags.KubeConfig) && len(files) == 0:
		return fmt.Errorf("--kubeconfig %s: no such file", *t.Flags.KubeConfig)
	case len(files) == 0 && fromEnv && !flagSet(t.Flags.APIServer):
		return fmt.Errorf("KUBECONFIG names %s", missingFiles(missing))
	}
	raw, err := loader.RawConfig()
	if err != nil {
		return fmt.Errorf("cannot load the kubeconfig: %v", err)
	}
	if flagSet(t.Flags.APIServer) {
		return nil // --server says where, whatever the kubeconfig holds
	}
	if len(files) == 0 {
		return errors.New("no kubeconfig found: set KUBECONFIG, create ~/.kube/config, or pass --kubeconfig")
	}
	where := "the kubeconfig " + joinNames(files)
	names := slices.Sorted(maps.Keys(raw.Contexts))
	name, fromFlag := raw.CurrentContext, flagSet(t.Flags.Context)
	if fromFlag {
		name = *t.Flags.Context
	}
	switch {
	case len(names) == 0 && fromFlag:
		err = fmt.Errorf("context %q does not exist: %s has no contexts", name, where)
	case len(names) == 0 && !flagSet(t.Flags.ClusterName):
		err = fmt.Errorf("%s has no contexts: add one with kubectl config set-context, or pass --server", where)
	case name == "" && !flagSet(t.Flags.ClusterName):
		err = fmt.Errorf("%s sets no current context: pass --context (its contexts: %s)", where, quotedList(names))
	case name != "" && raw.Contexts[name] == nil && fromFlag:
		err = fmt.Errorf("context %q does not exist in %s%s", name, where, suggest.DidYouMean(name, names))
	case name != "" && raw.Contexts[name] == nil:
		err = fmt.Errorf("the current context of %s, %q, does not exist%s", where, name, suggest.DidYouMean(name, names))
	}
	if err != nil && fromEnv && len(missing) > 0 {
		// Perhaps the file that was meant.
		err = fmt.Errorf("%w; KUBECONFIG also names %s", err, missingFiles(missing))
	}
	return err
}

// missingFiles says that files do not exist: "a, which does not exist", "a and b, none of
// which exists".
func missingFiles(files []string) string {
	if len(files) == 1 {
		return files[0] + ", which does not exist"
	}
	return joinNames(files) + ", none of which exists"
}

// joinNames lists file names for a message: "a", "a and b", "a, b and c".
func joinNames(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func quotedList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}

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
	return config.Host + inContext(contextName)
}

func inContext(contextName string) string {
	if contextName == "" {
		return ""
	}
	return " (context " + contextName + ")"
}

// NoticeDelay is how long the first request may go unanswered before a Notice says where it is
// connecting: longer than a healthy cluster takes, short enough that nobody wonders.
const NoticeDelay = time.Second

// Notice tells a person watching that the first contact with the API server is slow: once a
// run, on its own line, on stderr (never on stdout, where a report may be JSON).
type Notice struct {
	w    io.Writer
	once sync.Once
}

// NewNotice writes to w; a nil w makes a Notice that says nothing, for runs nobody watches.
func NewNotice(w io.Writer) *Notice { return &Notice{w: w} }

func (n *Notice) say(where string) {
	if n == nil || n.w == nil {
		return
	}
	n.once.Do(func() { fmt.Fprintf(n.w, "connecting to %s\n", where) })
}

// watch says where it is connecting once NoticeDelay has passed, unless stop was called
// before. stop says it too if the delay has passed and the timer lost the race, so that a
// request that took longer is always announced, and before what follows it.
func (n *Notice) watch(where string) (stop func()) {
	if n == nil || n.w == nil {
		return func() {}
	}
	started := time.Now()
	timer := time.AfterFunc(NoticeDelay, func() { n.say(where) })
	return func() {
		if !timer.Stop() || time.Since(started) >= NoticeDelay {
			n.say(where) // a no-op after the timer's, and waits for it to finish writing
		}
	}
}

// Contact is how a run's first request is made and told.
type Contact struct {
	// Context names the server in messages.
	Context string
	// Namespace, when set, is checked to exist.
	Namespace string
	// Timeout is the run's --timeout, which bounds the first request too; 0: no limit.
	Timeout time.Duration
	// Notice hears when the server is slow to answer; nil says nothing.
	Notice *Notice
}

// bound is how long the first request may take: --request-timeout (or defaultReachTimeout
// without it), and no longer than --timeout.
func (c Contact) bound(config *rest.Config) time.Duration {
	bound := config.Timeout
	if bound == 0 {
		bound = defaultReachTimeout
	}
	if c.Timeout > 0 && c.Timeout < bound {
		bound = c.Timeout
	}
	return bound
}

// Reach makes one cheap request first, so that an unreachable server, one that is not a
// Kubernetes API server, or rejected credentials end the run with one clear line, within the
// bound; with a namespace, it also tells one that does not exist.
func Reach(ctx context.Context, client kubernetes.Interface, config *rest.Config, c Contact) error {
	bound := c.bound(config)
	reachCtx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	where := Where(config, c.Context)
	stop := c.Notice.watch(where)
	var status int
	var contentType string
	body, err := client.Discovery().RESTClient().Get().AbsPath("/version").Do(reachCtx).
		StatusCode(&status).ContentType(&contentType).Raw()
	stop()
	var netErr net.Error
	switch {
	case err == nil:
		var info apiversion.Info
		if json.Unmarshal(body, &info) != nil || info.GitVersion == "" {
			return notAPIServer(where, status, contentType)
		}
	case apierrors.IsUnauthorized(err):
		// Whatever answered, in whatever format, the credentials are what it refused.
		return fmt.Errorf("the API server at %s rejected the credentials: %v", where, err)
	case status == http.StatusNotFound || (status != 0 && !kubernetesMediaType(contentType)):
		// Every API server serves /version, and answers in JSON or protobuf even when it refuses.
		return notAPIServer(where, status, contentType)
	case apierrors.IsForbidden(err):
		// /version is public on most clusters; a refusal here still shows the server is up.
	case errors.Is(reachCtx.Err(), context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return NoAnswer(config, bound, c.Context)
	default:
		return fmt.Errorf("cannot reach the Kubernetes API server at %s: %v", where, shortNetError(err))
	}
	if c.Namespace == "" {
		return nil
	}
	if _, err := client.CoreV1().Namespaces().Get(reachCtx, c.Namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return fmt.Errorf("namespace %q not found in %s", c.Namespace, where)
	}
	return nil
}

// NoAnswer says that the server at config did not answer in the time the run waited.
func NoAnswer(config *rest.Config, waited time.Duration, contextName string) error {
	return fmt.Errorf("no answer from %s after %s%s", config.Host, roundDuration(waited), inContext(contextName))
}

// roundDuration writes a duration as people set it: 5m, not 5m0s.
func roundDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// kubernetesMediaType tells the content types an API server answers in.
func kubernetesMediaType(contentType string) bool {
	media, _, _ := mime.ParseMediaType(contentType)
	return media == "application/json" || media == "application/vnd.kubernetes.protobuf" || media == "application/yaml"
}

// notAPIServer says what answered instead of a Kubernetes API server: a web page, a proxy's
// error, a server that knows no /version.
func notAPIServer(where string, status int, contentType string) error {
	answer := fmt.Sprintf("%d %s", status, http.StatusText(status))
	media, _, _ := mime.ParseMediaType(contentType)
	switch {
	case media == "text/html":
		answer = "an HTML page (" + answer + ")"
	case media != "":
		answer += " (" + media + ")"
	}
	return fmt.Errorf("not a Kubernetes API server: %s answered GET /version with %s", where, answer)
}

// shortNetError drops the request URL that *url.Error repeats, keeping the cause.
func shortNetError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
