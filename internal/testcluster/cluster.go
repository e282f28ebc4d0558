package testcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ContextName is the kubeconfig context of every kubeconfig the cluster writes.
const ContextName = "alertmend-test"

// ServiceCIDR keeps Service IPs on loopback, so nothing a test might dial leaves the machine.
const ServiceCIDR = "127.0.100.0/24"

// Options adjusts the control plane.
type Options struct {
	// APIServerArgs are added to the API server's flags, e.g. audit logging.
	APIServerArgs []string
	// Log receives build output and, on failure, the processes' logs; nil discards it.
	Log io.Writer
	// Audit turns on the API server's audit log (every request, at Metadata level), so tests
	// can prove what a command did to the cluster; see Cluster.AuditEvents.
	Audit bool
	// ServingCertValidity is how long from now the API server's serving certificate is valid;
	// 0 means a year, so no run reports it expiring. A few days makes the certificate checks fire.
	ServingCertValidity time.Duration
	// Living also starts kube-controller-manager, kube-scheduler and kwok, so the cluster
	// behaves as a real one: Deployments make ReplicaSets and pods, the scheduler places pods
	// (or says why not), and kwok plays the kubelets of the nodes AddNodes creates, pods
	// included (running, ready, and the faults of FaultAnnotation). Start returns once the
	// controllers and the scheduler are healthy; there are no nodes until AddNodes.
	Living bool
}

// Cluster is a running etcd and kube-apiserver on loopback.
type Cluster struct {
	// Dir holds the certificates, kubeconfigs, data and logs; it is removed by Stop.
	Dir string
	// Kubeconfig is the path of an admin (system:masters) kubeconfig.
	Kubeconfig string
	// Config is the admin REST config.
	Config *rest.Config
	// Client is an admin clientset.
	Client kubernetes.Interface
	// Server is the API server's URL.
	Server string
	// AuditLog is the audit log's path when Options.Audit is set.
	AuditLog string

	ca        *authority
	apiserver *process
	// apiserverBinary and apiserverArgs start it again (RestartAPIServer).
	apiserverBinary string
	apiserverArgs   []string
	etcd            *process
	// The living cluster's programs (Options.Living), nil otherwise.
	controllerManager, scheduler, kwok *process
	// nodesAdded numbers AddNodes' nodes and their addresses across calls.
	nodesAdded int
	stopped    bool
}

// startAttempts bounds the retries when a free port was taken by another process between its
// choice and its use (test packages start control planes in parallel).
const startAttempts = 3

// Start builds kube-apiserver and etcd if need be, then starts them on free loopback ports and
// waits until the API server is ready.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	// Only what it runs, so that the demo's first run does not build node_exporter.
	tools := ControlPlaneTools()
	if opts.Living {
		tools = append(tools, LivingTools()...)
	}
	paths, err := Ensure(ctx, log, tools...)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		c, err := start(ctx, opts, paths, log)
		if err == nil || attempt == startAttempts || ctx.Err() != nil {
			return c, err
		}
		fmt.Fprintf(log, "testcluster: start failed (%v); trying again on other ports\n", err)
	}
}

func start(ctx context.Context, opts Options, paths map[string]string, log io.Writer) (c *Cluster, err error) {
	dir, err := os.MkdirTemp("", "alertmend-testcluster-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{Dir: dir}
	// Not c, which a failing return sets to nil: the processes and directory would be left.
	started := c
	defer func() {
		if err != nil {
			if ctx.Err() == nil {
				started.dumpLogs(log)
			}
			started.Stop()
		}
	}()
	if c.ca, err = newAuthority(); err != nil {
		return nil, err
	}
	if err := c.writePKI(opts.ServingCertValidity); err != nil {
		return nil, err
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, securePort := ports[0], ports[1], ports[2]
	if err := c.startEtcd(ctx, paths["etcd"], etcdClient, etcdPeer); err != nil {
		return nil, err
	}
	extra := opts.APIServerArgs
	if opts.Audit {
		c.AuditLog = c.path("audit.log")
		if err := os.WriteFile(c.path("audit-policy.yaml"), []byte(auditPolicy), 0o600); err != nil {
			return nil, err
		}
		extra = append([]string{"--audit-policy-file=" + c.path("audit-policy.yaml"), "--audit-log-path=" + c.AuditLog}, extra...)
	}
	if err := c.startAPIServer(ctx, paths["kube-apiserver"], etcdClient, securePort, extra); err != nil {
		return nil, err
	}
	c.Server = "https://127.0.0.1:" + strconv.Itoa(securePort)
	if c.Kubeconfig, err = c.UserKubeconfig("alertmend-admin", "system:masters"); err != nil {
		return nil, err
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return nil, err
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	if opts.Living {
		if err := c.startLiving(ctx, paths, ports[3], ports[4]); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) path(name string) string { return filepath.Join(c.Dir, name) }

func (c *Cluster) writePKI(servingValidity time.Duration) error {
	if err := os.WriteFile(c.path("ca.crt"), c.ca.certPEM, 0o600); err != nil {
		return err
	}
	if servingValidity == 0 {
		servingValidity = 365 * 24 * time.Hour
	}
	cert, key, err := c.ca.issue("kube-apiserver", nil, []net.IP{net.IPv4(127, 0, 0, 1)}, servingValidity)
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.path("apiserver.crt"), cert, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(c.path("apiserver.key"), key, 0o600); err != nil {
		return err
	}
	return serviceAccountKey(c.path("sa.key"), c.path("sa.pub"))
}

// freePorts asks the kernel for unused loopback ports, holding all of them open until every one
// is chosen so the same port is not handed out twice.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// process is a started program and a channel closed when it has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (c *Cluster) startProcess(ctx context.Context, binary, logName string, args []string) (*process, error) {
	return c.startProcessEnv(ctx, binary, logName, args, nil)
}

// startProcessEnv is startProcess with env added to the test's environment.
func (c *Cluster) startProcessEnv(ctx context.Context, binary, logName string, args, env []string) (*process, error) {
	p, err := startLoggedEnv(binary, c.path(logName), args, env)
	if err != nil {
		return nil, err
	}
	return p, ctx.Err()
}

// startLogged starts binary with its output in logPath. If the test process dies without
// stopping it, the kernel ends it too.
func startLogged(binary, logPath string, args []string) (*process, error) {
	return startLoggedEnv(binary, logPath, args, nil)
}

func startLoggedEnv(binary, logPath string, args, env []string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", filepath.Base(binary), err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (c *Cluster) startEtcd(ctx context.Context, binary string, clientPort, peerPort int) error {
	client := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peer := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	var err error
	c.etcd, err = c.startProcess(ctx, binary, "etcd.log", []string{
		"--name=test",
		"--data-dir=" + c.path("etcd-data"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=test=" + peer,
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	})
	if err != nil {
		return err
	}
	return poll(ctx, 30*time.Second, "etcd health", func() error {
		resp, err := http.Get(client + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), `"health":"true"`) {
			return fmt.Errorf("etcd not healthy: %s", body)
		}
		return nil
	})
}

func (c *Cluster) startAPIServer(ctx context.Context, binary string, etcdPort, securePort int, extra []string) error {
	args := []string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(etcdPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(securePort),
		"--endpoint-reconciler-type=none",
		"--cert-dir=" + c.path("certs"),
		"--tls-cert-file=" + c.path("apiserver.crt"),
		"--tls-private-key-file=" + c.path("apiserver.key"),
		"--client-ca-file=" + c.path("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.path("sa.pub"),
		"--service-account-signing-key-file=" + c.path("sa.key"),
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--authorization-mode=Node,RBAC",
		"--anonymous-auth=false",
		"--v=1",
	}
	c.apiserverBinary, c.apiserverArgs = binary, append(args, extra...)
	var err error
	c.apiserver, err = c.startProcess(ctx, binary, "kube-apiserver.log", c.apiserverArgs)
	return err
}

// RestartAPIServer stops kube-apiserver and starts it again on the same port and etcd, as an
// upgrade or a crash does, and waits until it is ready: its clients' watches break meanwhile.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	c.apiserver.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.apiserver.done:
	case <-time.After(30 * time.Second):
		c.apiserver.cmd.Process.Kill()
		<-c.apiserver.done
	}
	var err error
	if c.apiserver, err = c.startProcess(ctx, c.apiserverBinary, "kube-apiserver-restarted.log", c.apiserverArgs); err != nil {
		return err
	}
	return c.waitReady(ctx)
}

// waitReady polls /readyz as the admin until every post-start hook (RBAC bootstrap roles
// included) has finished.
func (c *Cluster) waitReady(ctx context.Context) error {
	transport, err := rest.TransportFor(c.Config)
	if err != nil {
		return err
	}
	httpClient := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	return poll(ctx, 60*time.Second, "kube-apiserver /readyz", func() error {
		if c.apiserver.exited() {
			return errors.New("kube-apiserver exited")
		}
		resp, err := httpClient.Get(c.Server + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return nil
	})
}

func poll(ctx context.Context, timeout time.Duration, what string, try func() error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = try(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("waiting for %s: %v", what, last)
}

// UserKubeconfig writes a kubeconfig that authenticates as user with groups, by a client
// certificate the cluster's authority signs, and returns its path.
func (c *Cluster) UserKubeconfig(user string, groups ...string) (string, error) {
	cert, key, err := c.ca.issue(user, groups, nil, 0)
	if err != nil {
		return "", err
	}
	config := clientcmdapi.NewConfig()
	config.Clusters[ContextName] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.ca.certPEM}
	config.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	config.Contexts[ContextName] = &clientcmdapi.Context{Cluster: ContextName, AuthInfo: user}
	config.CurrentContext = ContextName
	path := c.path("kubeconfig-" + sanitize(user))
	if err := clientcmd.WriteToFile(*config, path); err != nil {
		return "", err
	}
	return path, nil
}

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ':' || r == ' ' {
			return '_'
		}
		return r
	}, name)
}

// UserConfig is UserKubeconfig loaded as a REST config.
func (c *Cluster) UserConfig(user string, groups ...string) (*rest.Config, error) {
	path, err := c.UserKubeconfig(user, groups...)
	if err != nil {
		return nil, err
	}
	return clientcmd.BuildConfigFromFlags("", path)
}

// Stop ends the processes, clients of the API server first, and removes the cluster's
// directory. It is safe to call twice.
func (c *Cluster) Stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	for _, p := range []*process{c.kwok, c.scheduler, c.controllerManager, c.apiserver, c.etcd} {
		if p == nil {
			continue
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	os.RemoveAll(c.Dir)
}

// DumpLogs writes the tail of every process's log to w, for a test that failed.
func (c *Cluster) DumpLogs(w io.Writer) { c.dumpLogs(w) }

func (c *Cluster) dumpLogs(w io.Writer) {
	for _, name := range []string{"etcd.log", "kube-apiserver.log", "kube-apiserver-restarted.log", "kube-controller-manager.log", "kube-scheduler.log", "kwok.log"} {
		data, err := os.ReadFile(c.path(name))
		if err != nil {
			continue
		}
		if len(data) > 8000 {
			data = data[len(data)-8000:]
		}
		fmt.Fprintf(w, "---- %s (tail) ----\n%s\n", name, data)
	}
}
