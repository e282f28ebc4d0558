package conntrack

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/cmdline"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// kube-proxy's defaults for both its flags and its configuration file.
const (
	defaultMaxPerCore = 32768
	defaultMin        = 131072
)

// minEntriesPerPod is our floor for a table shared by a node's pods: below it, a few pods that
// open many short connections (clients without keep-alive, DNS over UDP) fill the table for all.
// Kubernetes documents no such number; with kube-proxy's defaults a node of 110 pods gets about
// 1,200 entries per pod.
const minEntriesPerPod = 1000

// kubeProxy is kube-proxy as found in the snapshot, with its effective conntrack settings.
type kubeProxy struct {
	daemonSet *appsv1.DaemonSet
	source    string
	// configMap names the ConfigMap holding the settings; empty when they are flags.
	configMap  string
	maxPerCore int64
	min        int64
}

// kubeProxyBoolFlags are kube-proxy's boolean flags: the only ones that never take the next word.
func kubeProxyBoolFlags() []string {
	return []string{"cleanup", "masquerade-all", "profiling", "init-only", "bind-address-hard-fail",
		"iptables-localhost-nodeports", "logtostderr", "alsologtostderr", "help", "version"}
}

func isKubeProxyDaemonSet(ds *appsv1.DaemonSet) bool {
	if ds.Namespace != "kube-system" {
		return false
	}
	return ds.Labels["k8s-app"] == "kube-proxy" || ds.Spec.Template.Labels["k8s-app"] == "kube-proxy" || ds.Name == "kube-proxy"
}

func proxyContainer(ds *appsv1.DaemonSet) *corev1.Container {
	containers := ds.Spec.Template.Spec.Containers
	for i := range containers {
		image := containers[i].Image[strings.LastIndex(containers[i].Image, "/")+1:]
		if containers[i].Name == "kube-proxy" || strings.HasPrefix(image, "kube-proxy") {
			return &containers[i]
		}
	}
	if len(containers) > 0 {
		return &containers[0]
	}
	return nil
}

// findKubeProxy reads kube-proxy's conntrack settings the way kube-proxy does: from the file
// --config names (a ConfigMap mounted into the pod), where flags are then ignored, or else from
// its flags; unset values take kube-proxy's defaults. reason says why they cannot be known.
func findKubeProxy(s *snapshot.Snapshot) (*kubeProxy, string) {
	var ds *appsv1.DaemonSet
	for i := range s.DaemonSets {
		if isKubeProxyDaemonSet(&s.DaemonSets[i]) {
			ds = &s.DaemonSets[i]
			break
		}
	}
	if ds == nil {
		return nil, "no kube-proxy DaemonSet in kube-system: the cluster runs without kube-proxy (a CNI's replacement " +
			"sizes conntrack itself) or runs it outside Kubernetes (static pods, systemd), where its settings are not visible"
	}
	container := proxyContainer(ds)
	if container == nil {
		return nil, "daemonset kube-system/" + ds.Name + " has no container"
	}
	flags := cmdline.Parse(append(append([]string{}, container.Command...), container.Args...), kubeProxyBoolFlags()...)
	kp := &kubeProxy{daemonSet: ds, maxPerCore: defaultMaxPerCore, min: defaultMin}
	if file, ok := flags.Get("config"); ok {
		config, configMap, reason := readProxyConfig(s, ds, container, file)
		if reason != "" {
			return nil, reason
		}
		kp.configMap = configMap.name
		kp.source = fmt.Sprintf("ConfigMap kube-system/%s, key %s", configMap.name, configMap.key)
		if config.Conntrack.MaxPerCore != nil {
			kp.maxPerCore = int64(*config.Conntrack.MaxPerCore)
		}
		if config.Conntrack.Min != nil {
			kp.min = int64(*config.Conntrack.Min)
		}
		return kp, ""
	}
	kp.source = "the flags of daemonset kube-system/" + ds.Name
	for name, into := range map[string]*int64{"conntrack-max-per-core": &kp.maxPerCore, "conntrack-min": &kp.min} {
		if v, ok := flags.Get(name); ok {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return nil, fmt.Sprintf("daemonset kube-system/%s: --%s=%s is not a number", ds.Name, name, v)
			}
			*into = n
		}
	}
	return kp, ""
}

type configMapKey struct{ name, key string }

// readProxyConfig finds the ConfigMap mounted where --config points and parses the key there.
func readProxyConfig(s *snapshot.Snapshot, ds *appsv1.DaemonSet, c *corev1.Container, file string) (*kubeproxyv1alpha1.KubeProxyConfiguration, configMapKey, string) {
	for _, mount := range c.VolumeMounts {
		dir := strings.TrimSuffix(mount.MountPath, "/")
		if !strings.HasPrefix(file, dir+"/") {
			continue
		}
		key := strings.TrimPrefix(file, dir+"/")
		if mount.SubPath != "" {
			continue // a single file mounted by subPath is matched below by its whole path
		}
		for _, v := range ds.Spec.Template.Spec.Volumes {
			if v.Name != mount.Name || v.ConfigMap == nil {
				continue
			}
			for _, item := range v.ConfigMap.Items {
				if path.Clean(item.Path) == key {
					key = item.Key
				}
			}
			return parseProxyConfig(s, v.ConfigMap.Name, key)
		}
	}
	for _, mount := range c.VolumeMounts {
		if mount.SubPath == "" || path.Clean(mount.MountPath) != path.Clean(file) {
			continue
		}
		for _, v := range ds.Spec.Template.Spec.Volumes {
			if v.Name == mount.Name && v.ConfigMap != nil {
				return parseProxyConfig(s, v.ConfigMap.Name, mount.SubPath)
			}
		}
	}
	return nil, configMapKey{}, fmt.Sprintf("daemonset kube-system/%s reads --config=%s, which is not mounted from a ConfigMap: "+
		"its settings are on the node's disk, out of view", ds.Name, file)
}

func parseProxyConfig(s *snapshot.Snapshot, name, key string) (*kubeproxyv1alpha1.KubeProxyConfiguration, configMapKey, string) {
	at := configMapKey{name, key}
	where := fmt.Sprintf("ConfigMap kube-system/%s, key %s", name, key)
	for i := range s.ConfigMaps {
		cm := &s.ConfigMaps[i]
		if cm.Namespace != "kube-system" || cm.Name != name {
			continue
		}
		data, ok := cm.Data[key]
		if !ok {
			return nil, at, where + " does not exist, so kube-proxy cannot start with it"
		}
		var config kubeproxyv1alpha1.KubeProxyConfiguration
		if err := yaml.Unmarshal([]byte(data), &config); err != nil {
			return nil, at, where + " does not parse: " + err.Error()
		}
		return &config, at, ""
	}
	return nil, at, "kube-proxy's configuration, " + where + ", is not in view"
}

// tableSize is what kube-proxy sets nf_conntrack_max to on a node with cpus CPUs: maxPerCore ×
// CPUs, at least min; 0 when maxPerCore is 0 and kube-proxy leaves the kernel's value alone.
func tableSize(maxPerCore, min, cpus int64) int64 {
	if maxPerCore <= 0 {
		return 0
	}
	return max(maxPerCore*cpus, min)
}

// TableSmall reports nodes whose table, as kube-proxy sizes it, is small for what runs there.
type TableSmall struct{}

func (TableSmall) Meta() check.Meta {
	return check.Meta{
		ID:       "conntrack-table-small",
		Title:    "kube-proxy sizes nodes' connection-tracking tables small",
		Category: check.CategoryConntrack,
		Severity: check.Medium,
		Requires: []snapshot.Kind{snapshot.KindDaemonSets, snapshot.KindConfigMaps, snapshot.KindNodes},
		Optional: []snapshot.Kind{snapshot.KindPods, snapshot.KindConntrack},
		LiveOnly: true,
		Description: fmt.Sprintf("Computes each node's nf_conntrack_max as kube-proxy sets it (conntrack.maxPerCore × the "+
			"node's CPUs, at least conntrack.min; from the ConfigMap its --config names, else its flags, else its defaults "+
			"%d and %d) and reports nodes where it is below what kube-proxy's defaults would give, or below %d entries per "+
			"pod running there (our rule of thumb). A node's measured limit, where node_exporter reports one, replaces the "+
			"computed size. A risk, not a measurement.", defaultMaxPerCore, defaultMin, minEntriesPerPod),
		Why: "A table sized below the load fills at the first burst of connections, and then the kernel drops new " +
			"connections on that node.",
		Remediation: "Raise conntrack.maxPerCore (and min) in kube-proxy's configuration back to at least its defaults, " +
			"or in proportion to the pods per node, and restart kube-proxy; it sets the sysctl when it starts.",
		References: []string{referenceKubeProxy},
	}
}

func (TableSmall) NotEvaluable(s *snapshot.Snapshot) string {
	kp, reason := findKubeProxy(s)
	if reason != "" {
		return reason
	}
	if kp.maxPerCore == 0 {
		return "kube-proxy leaves nf_conntrack_max to the kernel (conntrack maxPerCore 0, from " + kp.source +
			"): the size is set on the nodes, so only a measurement (node_exporter) can tell it"
	}
	return ""
}

func (c TableSmall) Run(s *snapshot.Snapshot) []check.Finding {
	kp, reason := findKubeProxy(s)
	if reason != "" || kp.maxPerCore == 0 {
		return nil
	}
	proxyNodes := map[string]bool{}
	for _, pod := range s.PodsOf(snapshot.RefTo(snapshot.KindDaemonSets, kp.daemonSet.Namespace, kp.daemonSet.Name)) {
		if pod.Spec.NodeName != "" {
			proxyNodes[pod.Spec.NodeName] = true
		}
	}
	measuredLimit := map[string]float64{}
	if s.Conntrack != nil {
		for _, n := range s.Conntrack.Nodes {
			if n.Measured() {
				measuredLimit[n.Node] = n.Limit
			}
		}
	}
	_, podsBlind := s.Unavailable[snapshot.KindPods]
	loads := podsOnNodes(s)
	var refs []snapshot.Ref
	var evidence []string
	for i := range s.Nodes {
		node := &s.Nodes[i]
		if isWindows(node) || (len(proxyNodes) > 0 && !proxyNodes[node.Name]) {
			continue
		}
		cpus := node.Status.Capacity.Cpu().Value()
		if cpus <= 0 {
			continue
		}
		table := tableSize(kp.maxPerCore, kp.min, cpus)
		defaults := tableSize(defaultMaxPerCore, defaultMin, cpus)
		basis := fmt.Sprintf("%d CPUs × maxPerCore %d, at least min %d = %s entries", cpus, kp.maxPerCore, kp.min, count(float64(table)))
		if limit, ok := measuredLimit[node.Name]; ok {
			table = int64(limit)
			basis = fmt.Sprintf("measured limit %s entries", count(limit))
		}
		var problems []string
		if table < defaults {
			problems = append(problems, fmt.Sprintf("below the %s kube-proxy's defaults would give", count(float64(defaults))))
		}
		load := loads[node.Name]
		if pods := int64(load.count()); pods > 0 && !podsBlind && table/pods < minEntriesPerPod {
			problems = append(problems, fmt.Sprintf("%s per pod for %s", count(float64(table/pods)), load.describe()))
		}
		if len(problems) == 0 {
			continue
		}
		refs = append(refs, nodeRef(node.Name))
		evidence = append(evidence, fmt.Sprintf("node %s: %s; %s", node.Name, basis, strings.Join(problems, "; ")))
	}
	if len(refs) == 0 {
		return nil
	}
	f := check.New(c.Meta(), fmt.Sprintf("kube-proxy gives %s a connection-tracking table small for its load "+
		"(conntrack maxPerCore %d, min %d, from %s).", check.Plural(len(refs), "node", "nodes"), kp.maxPerCore, kp.min, kp.source),
		append([]snapshot.Ref{snapshot.RefTo(snapshot.KindDaemonSets, kp.daemonSet.Namespace, kp.daemonSet.Name)}, refs...)...)
	f.Scope = check.ScopeCluster
	f.Evidence = check.LimitEvidence(evidence)
	show := fmt.Sprintf("kubectl get daemonset -n kube-system %s -o jsonpath='{.spec.template.spec.containers[*].args}'", kp.daemonSet.Name)
	if kp.configMap != "" {
		show = fmt.Sprintf("kubectl get configmap -n kube-system %s -o yaml | grep -A4 'conntrack:'", kp.configMap)
	}
	f.Fix = []string{show, "kubectl -n kube-system rollout restart daemonset/" + kp.daemonSet.Name}
	return []check.Finding{f}
}
