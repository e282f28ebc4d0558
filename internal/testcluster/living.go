package testcluster

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// The living cluster's addresses are all on loopback, apart from ServiceCIDR's, so that nothing
// a test or a check might dial leaves the machine.
const (
	// NodeCIDR holds the InternalIP of every node AddNodes creates, one address each.
	NodeCIDR = "127.0.8.0/21"
	// PodCIDR is where kwok takes pods' IPs from.
	PodCIDR = "127.1.0.0/16"
)

// What the test sets on objects to make kwok play a failure (see kwok-stages.yaml).
const (
	// FaultAnnotation on a pod (or a pod template) makes all its containers fail: FaultImagePull
	// or FaultCrash. Without it, an image whose reference contains BadImageMarker cannot be
	// pulled and one that contains CrashImageMarker crashes, so a rollout to such an image is
	// enough.
	FaultAnnotation  = "testcluster.alertmend.io/fault"
	FaultImagePull   = "image-pull"
	FaultCrash       = "crash"
	BadImageMarker   = "does-not-exist"
	CrashImageMarker = "crashloop"
	// NotReadyLabel set to "true" on a node makes its kubelet report it not ready (Ready=False,
	// KubeletNotReady); removed, the node is ready again. See SetNodeReady.
	NotReadyLabel = "testcluster.alertmend.io/not-ready"
	// KwokNodeAnnotation marks the nodes kwok plays; AddNodes sets it to "fake".
	KwokNodeAnnotation = "kwok.x-k8s.io/node"
)

// livingControllers are the kube-controller-manager controllers a living cluster runs: the
// workload controllers, what computes the status of PDBs, quotas, HPAs and claims, node health,
// and what a namespace needs to hold pods. Cloud, IPAM and certificate controllers stay off, so
// nothing tries to reach a cloud.
func livingControllers() []string {
	return []string{
		"deployment-controller", "replicaset-controller", "statefulset-controller", "daemonset-controller",
		"job-controller", "cronjob-controller", "ttl-after-finished-controller",
		"disruption-controller", "resourcequota-controller", "horizontal-pod-autoscaler-controller",
		"persistentvolume-binder-controller",
		"namespace-controller", "garbage-collector-controller", "pod-garbage-collector-controller",
		"endpoints-controller", "endpointslice-controller",
		"serviceaccount-controller", "serviceaccount-token-controller", "root-ca-certificate-publisher-controller",
		"clusterrole-aggregation-controller", "node-lifecycle-controller", "taint-eviction-controller",
	}
}

//go:embed kwok-stages.yaml
var kwokStagesTemplate string

// faultQuery is jq, as kwok's stage selectors read it: a pod's fault, or "none".
const faultQuery = `((.metadata.annotations // {})["` + FaultAnnotation + `"]) // ([.spec.containers[].image | ` +
	`if contains("` + BadImageMarker + `") then "` + FaultImagePull + `" elif contains("` + CrashImageMarker + `") then "` + FaultCrash +
	`" else empty end] | first) // "none"`

// kwokStages is the stage file kwok runs with.
func kwokStages() string {
	// Inside a single-quoted YAML scalar a quote is doubled.
	return strings.NewReplacer("'FAULT'", "'"+strings.ReplaceAll(faultQuery, "'", "''")+"'",
		"KUBERNETES_VERSION", KubernetesVersion).Replace(kwokStagesTemplate)
}

// startLiving starts kube-controller-manager, kube-scheduler and kwok against the running API
// server, each as its own identity, on the given loopback ports, and waits until the
// controllers and the scheduler answer /healthz and the default namespace has its
// ServiceAccount (so pods can be created).
func (c *Cluster) startLiving(ctx context.Context, paths map[string]string, kcmPort, schedulerPort int) error {
	kcmConfig, err := c.UserKubeconfig("system:kube-controller-manager")
	if err != nil {
		return err
	}
	schedulerConfig, err := c.UserKubeconfig("system:kube-scheduler")
	if err != nil {
		return err
	}
	// kwok writes every node's and pod's status, as all kubelets together would.
	kwokConfig, err := c.UserKubeconfig("kwok", "system:masters")
	if err != nil {
		return err
	}
	for _, name := range []string{"kube-controller-manager", "kube-scheduler"} {
		cert, key, err := c.ca.issue(name, nil, []net.IP{net.IPv4(127, 0, 0, 1)}, 0)
		if err != nil {
			return err
		}
		if err := os.WriteFile(c.path(name+".crt"), cert, 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(c.path(name+".key"), key, 0o600); err != nil {
			return err
		}
	}
	if err := os.WriteFile(c.path("kwok-stages.yaml"), []byte(kwokStages()), 0o600); err != nil {
		return err
	}

	secure := func(name string, port int) []string {
		return []string{
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--tls-cert-file=" + c.path(name+".crt"),
			"--tls-private-key-file=" + c.path(name+".key"),
			"--leader-elect=false",
			"--v=1",
		}
	}
	kcmArgs := append(secure("kube-controller-manager", kcmPort),
		"--kubeconfig="+kcmConfig,
		// Each controller acts as its own ServiceAccount, as in a kubeadm cluster, so the
		// bootstrap RBAC roles decide what it may do.
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+c.path("sa.key"),
		"--root-ca-file="+c.path("ca.crt"),
		"--controllers="+strings.Join(livingControllers(), ","),
		"--allocate-node-cidrs=false",
		"--configure-cloud-routes=false",
	)
	if c.controllerManager, err = c.startProcess(ctx, paths["kube-controller-manager"], "kube-controller-manager.log", kcmArgs); err != nil {
		return err
	}
	schedulerArgs := append(secure("kube-scheduler", schedulerPort), "--kubeconfig="+schedulerConfig)
	if c.scheduler, err = c.startProcess(ctx, paths["kube-scheduler"], "kube-scheduler.log", schedulerArgs); err != nil {
		return err
	}
	kwokArgs := []string{
		"--kubeconfig=" + kwokConfig,
		"--config=" + c.path("kwok-stages.yaml"),
		"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=fake",
		"--cidr=" + PodCIDR,
		"--node-ip=" + netip.MustParsePrefix(NodeCIDR).Addr().Next().String(),
		"--node-lease-duration-seconds=40",
	}
	// kwok also reads ~/.kwok/kwok.yaml; its own home keeps a developer's file out.
	if c.kwok, err = c.startProcessEnv(ctx, paths["kwok"], "kwok.log", kwokArgs, []string{"HOME=" + c.Dir}); err != nil {
		return err
	}

	for _, s := range []struct {
		name string
		port int
		p    *process
	}{{"kube-controller-manager", kcmPort, c.controllerManager}, {"kube-scheduler", schedulerPort, c.scheduler}} {
		if err := c.waitHealthy(ctx, s.name, s.port, s.p); err != nil {
			return err
		}
	}
	return poll(ctx, 60*time.Second, "the default ServiceAccount", func() error {
		if c.kwok.exited() {
			return errors.New("kwok exited")
		}
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// waitHealthy polls a component's /healthz on its loopback port, verifying its certificate
// against the cluster's authority.
func (c *Cluster) waitHealthy(ctx context.Context, name string, port int, p *process) error {
	transport, err := rest.TransportFor(&rest.Config{TLSClientConfig: rest.TLSClientConfig{CAData: c.ca.certPEM}})
	if err != nil {
		return err
	}
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	url := "https://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	return poll(ctx, 60*time.Second, name+" /healthz", func() error {
		if p.exited() {
			return fmt.Errorf("%s exited", name)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
}

// NodeOptions shapes the nodes AddNodes creates. The zero value is ready nodes of 4 CPUs, 16Gi
// of memory and 110 pods, with no taints, in no zone.
type NodeOptions struct {
	// NamePrefix names the nodes NamePrefix-0, NamePrefix-1, ... counting across calls;
	// "" is "node".
	NamePrefix string
	// Labels are added to every node (besides kubernetes.io/hostname, os and arch).
	Labels map[string]string
	// Zones, when set, spread the nodes over these topology.kubernetes.io/zone values in turn.
	Zones []string
	// Taints are set on every node.
	Taints []corev1.Taint
	// Allocatable is every node's allocatable and capacity; nil is cpu 4, memory 16Gi, pods 110.
	Allocatable corev1.ResourceList
}

// AddNodes creates n nodes that kwok plays (Options.Living), each with its own InternalIP in
// NodeCIDR, and waits until all are Ready. It returns their names.
func (c *Cluster) AddNodes(ctx context.Context, n int, opts NodeOptions) ([]string, error) {
	if c.kwok == nil {
		return nil, errors.New("AddNodes: the cluster was started without Options.Living; nothing would play the nodes")
	}
	allocatable := opts.Allocatable
	if allocatable == nil {
		allocatable = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("4"),
			corev1.ResourceMemory: resource.MustParse("16Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
	}
	prefix := netip.MustParsePrefix(NodeCIDR)
	var names []string
	for range n {
		index := c.nodesAdded
		ip := prefix.Addr()
		for range index + 1 {
			ip = ip.Next()
		}
		if !prefix.Contains(ip.Next()) {
			return names, fmt.Errorf("AddNodes: %s has no address left for node %d", NodeCIDR, index)
		}
		name := fmt.Sprintf("%s-%d", cmp.Or(opts.NamePrefix, "node"), index)
		labels := map[string]string{
			"kubernetes.io/hostname": name,
			"kubernetes.io/os":       "linux",
			"kubernetes.io/arch":     "amd64",
		}
		for k, v := range opts.Labels {
			labels[k] = v
		}
		if len(opts.Zones) > 0 {
			labels["topology.kubernetes.io/zone"] = opts.Zones[len(names)%len(opts.Zones)]
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Labels:      labels,
				Annotations: map[string]string{KwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			},
			Spec: corev1.NodeSpec{Taints: opts.Taints},
			Status: corev1.NodeStatus{
				Allocatable: allocatable.DeepCopy(),
				Capacity:    allocatable.DeepCopy(),
				Addresses: []corev1.NodeAddress{
					{Type: corev1.NodeInternalIP, Address: ip.String()},
					{Type: corev1.NodeHostName, Address: name},
				},
			},
		}
		if _, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return names, fmt.Errorf("AddNodes: creating %s: %w", name, err)
		}
		c.nodesAdded++
		names = append(names, name)
	}
	for _, name := range names {
		if err := c.WaitForNodeReady(ctx, name, true); err != nil {
			return names, err
		}
	}
	return names, nil
}

// SetNodeReady makes kwok report the node ready or not ready (NotReadyLabel) and waits until
// its Ready condition says so; what follows (taints, pods marked not ready, evictions) is the
// controller-manager's.
func (c *Cluster) SetNodeReady(ctx context.Context, name string, ready bool) error {
	value := `"true"`
	if ready {
		value = "null"
	}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, NotReadyLabel, value)
	if _, err := c.Client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("SetNodeReady %s: %w", name, err)
	}
	return c.WaitForNodeReady(ctx, name, ready)
}

// WaitForNodeReady waits, two minutes at most, until the node's Ready condition is True (ready)
// or False.
func (c *Cluster) WaitForNodeReady(ctx context.Context, name string, ready bool) error {
	want := corev1.ConditionFalse
	if ready {
		want = corev1.ConditionTrue
	}
	err := poll(ctx, 2*time.Minute, "node "+name+" Ready="+string(want), func() error {
		if c.kwok.exited() {
			return errors.New("kwok exited")
		}
		node, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == want {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", node.Status.Conditions)
	})
	if err != nil {
		return fmt.Errorf("%w (kwok's log: %s)", err, c.path("kwok.log"))
	}
	return nil
}
