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
		"iptables-localhost-nodeports", "ipvs-strict-arp", "conntrack-tcp-be-liberal",
		"logtostderr", "alsologtostderr", "add_dir_header", "one_output", "skip_headers", "skip_log_headers", "help", "version"}
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
// noKubeProxy is why kube-proxy's settings cannot be judged on a cluster that shows none.
const noKubeProxy = "no kube-proxy DaemonSet in kube-system: the cluster runs without kube-proxy (a CNI's replacement " +
	"sizes conntrack itself) or runs it outside Kubernetes (static pods, systemd), where its settings are not visible"

func kubeProxyDaemonSet(s *snapshot.Snapshot) *appsv1.DaemonSet {
	for i := range s.DaemonSets {
		if isKubeProxyDaemonSet(&s.DaemonSets[i]) {
			return &s.DaemonSets[i]
		}
	}
	return nil
}

func findKubeProxy(s *snapshot.Snapshot) (*kubeProxy, string) {
	ds := kubeProxyDaemonSet(s)
	if ds == nil {
		return nil, noKubeProxy
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
	for _, flag := range []struct {
		name string
		into *int64
	}{{"conntrack-max-per-core", &kp.maxPerCore}, {"conntrack-min", &kp.min}} {
		if v, ok := flags.Get(flag.name); ok {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return nil, fmt.Sprintf("daemonset kube-system/%s: --%s=%s is not a number", ds.Name, flag.name, v)
			}
			*flag.into = n
		}
	}
	return kp, ""
}

type configMapKey struct{ name, key string }

// readProxyConfig finds the ConfigMap key the file --config names comes from, as the kubelet
// mounts it: the mount with the longest path holding the file; the file's path inside the volume
// (under the mount's subPath); and the key a configMap or projected volume maps to that path, by
// its items or, without items, by the key's own name.
func readProxyConfig(s *snapshot.Snapshot, ds *appsv1.DaemonSet, c *corev1.Container, file string) (*kubeproxyv1alpha1.KubeProxyConfiguration, configMapKey, string) {
	file = path.Clean(file)
	var mount *corev1.VolumeMount
	var rest string
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		mountPath := path.Clean(m.MountPath)
		inside, ok := "", file == mountPath
		if !ok && strings.HasPrefix(file, mountPath+"/") {
			inside, ok = strings.TrimPrefix(file, mountPath+"/"), true
		}
		if ok && (mount == nil || len(mountPath) > len(path.Clean(mount.MountPath))) {
			mount, rest = m, inside
		}
	}
	notFromConfigMap := fmt.Sprintf("daemonset kube-system/%s reads --config=%s, which is not mounted from a ConfigMap: "+
		"its settings are on the node's disk, out of view", ds.Name, file)
	if mount == nil {
		return nil, configMapKey{}, notFromConfigMap
	}
	inVolume := path.Join(mount.SubPath, rest)
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.Name != mount.Name {
			continue
		}
		type source struct {
			name  string
			items []corev1.KeyToPath
		}
		var sources []source
		if v.ConfigMap != nil {
			sources = append(sources, source{v.ConfigMap.Name, v.ConfigMap.Items})
		}
		if v.Projected != nil {
			for _, p := range v.Projected.Sources {
				if p.ConfigMap != nil {
					sources = append(sources, source{p.ConfigMap.Name, p.ConfigMap.Items})
				}
			}
		}
		for _, src := range sources {
			if len(src.items) == 0 {
				if len(sources) == 1 || configMapHasKey(s, src.name, inVolume) {
					return parseProxyConfig(s, src.name, inVolume)
				}
				continue
			}
			for _, item := range src.items {
				if path.Clean(item.Path) == inVolume {
					return parseProxyConfig(s, src.name, item.Key)
				}
			}
		}
		if len(sources) > 0 {
			return nil, configMapKey{}, fmt.Sprintf("daemonset kube-system/%s reads --config=%s, but volume %s maps no "+
				"ConfigMap key to %s: kube-proxy cannot start with it", ds.Name, file, v.Name, inVolume)
		}
	}
	return nil, configMapKey{}, notFromConfigMap
}

func configMapHasKey(s *snapshot.Snapshot, name, key string) bool {
	for i := range s.ConfigMaps {
		if s.ConfigMaps[i].Namespace == "kube-system" && s.ConfigMaps[i].Name == name {
			_, ok := s.ConfigMaps[i].Data[key]
			return ok
		}
	}
	return false
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

// maxScaledTable is where kube-proxy (1.36 and later) caps maxPerCore × CPUs, whatever min says.
const maxScaledTable = 1 << 20

// tableSize is the nf_conntrack_max kube-proxy asks for on a node with cpus CPUs: maxPerCore ×
// CPUs capped at 1,048,576, else at least min; 0 when maxPerCore is 0 and kube-proxy leaves the
// kernel's value alone. Recent kube-proxy only ever raises the table to it, so it is a floor.
func tableSize(maxPerCore, min, cpus int64) int64 {
	if maxPerCore <= 0 {
		return 0
	}
	if scaled := maxPerCore * cpus; scaled > maxScaledTable {
		return maxScaledTable
	} else {
		return max(scaled, min)
	}
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
		// kube-proxy runs in kube-system: a run limited to another namespace does not see it.
		ComponentNamespaces: []string{"kube-system"},
		Description: fmt.Sprintf("Computes the nf_conntrack_max kube-proxy asks for on each node (conntrack.maxPerCore × the "+
			"node's CPUs, capped at 1,048,576, else at least conntrack.min; from the ConfigMap its --config names, else its "+
			"flags, else its defaults %d and %d) and reports nodes where it is below what kube-proxy's defaults would give, "+
			"or below %d entries per pod running there (our rule of thumb). kube-proxy only raises the table, so this is a "+
			"floor: low severity, unless the node's limit measured by node_exporter confirms it (medium). A risk, not a "+
			"measurement of usage.", defaultMaxPerCore, defaultMin, minEntriesPerPod),
		Why: "A table sized below the load fills at the first burst of connections, and then the kernel drops new " +
			"connections on that node.",
		Remediation: "Raise conntrack.maxPerCore (and min) in kube-proxy's configuration back to at least its defaults, " +
			"or in proportion to the pods per node, and restart kube-proxy; it sets the sysctl when it starts.",
		References: []string{referenceKubeProxy},
	}
}

// NotApplicable: without kube-proxy, or with one that leaves the table to the kernel, there is
// no kube-proxy setting to judge; only a measurement (conntrack-table-usage) can.
func (TableSmall) NotApplicable(s *snapshot.Snapshot) string {
	if kubeProxyDaemonSet(s) == nil {
		return noKubeProxy
	}
	kp, reason := findKubeProxy(s)
	if reason != "" {
		return ""
	}
	if kp.maxPerCore == 0 {
		return "kube-proxy leaves nf_conntrack_max to the kernel (conntrack maxPerCore 0, from " + kp.source +
			"): the size is set on the nodes, so only a measurement (node_exporter) can tell it"
	}
	return ""
}

// NotEvaluable says why kube-proxy's configuration could not be judged.
func (TableSmall) NotEvaluable(s *snapshot.Snapshot) string {
	_, reason := findKubeProxy(s)
	return reason
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
	confirmed := false
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
		basis := fmt.Sprintf("kube-proxy raises the table to at least %s entries (%s × maxPerCore %d, at least min %d)",
			count(float64(table)), check.Plural(int(cpus), "CPU", "CPUs"), kp.maxPerCore, kp.min)
		limit, measured := measuredLimit[node.Name]
		if measured {
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
		confirmed = confirmed || measured
		evidence = append(evidence, fmt.Sprintf("node %s: %s; %s", node.Name, basis, strings.Join(problems, "; ")))
	}
	if len(refs) == 0 {
		return nil
	}
	settings := fmt.Sprintf("(conntrack maxPerCore %d, min %d, from %s)", kp.maxPerCore, kp.min, kp.source)
	objects := append([]snapshot.Ref{snapshot.RefTo(snapshot.KindDaemonSets, kp.daemonSet.Namespace, kp.daemonSet.Name)}, refs...)
	var f check.Finding
	if confirmed {
		f = check.New(c.Meta(), fmt.Sprintf("%s a connection-tracking table small for the load, and kube-proxy's settings "+
			"%s do not raise it.", check.Plural(len(refs), "node has", "nodes have"), settings), objects...)
	} else {
		// kube-proxy only raises the table: the kernel's own size may be larger, and is unknown.
		f = check.New(c.Meta(), fmt.Sprintf("kube-proxy guarantees %s only a connection-tracking table small for the load "+
			"%s; the real size, which may be the kernel's larger default, is not measured.",
			check.Plural(len(refs), "node", "nodes"), settings), objects...)
		f.Severity = check.Low
	}
	f.Scope = check.ScopeCluster
	f.Evidence = check.LimitEvidence(evidence)
	f.Fix = kubeProxyFix(s)
	return []check.Finding{f}
}

// ConfigMapKeys names the ConfigMap data this family reads: kube-proxy's configuration file.
// A snapshot recorded for sharing keeps only such keys.
func ConfigMapKeys(s *snapshot.Snapshot) []snapshot.ConfigMapKey {
	for i := range s.DaemonSets {
		ds := &s.DaemonSets[i]
		container := proxyContainer(ds)
		if !isKubeProxyDaemonSet(ds) || container == nil {
			continue
		}
		flags := cmdline.Parse(append(append([]string{}, container.Command...), container.Args...), kubeProxyBoolFlags()...)
		file, ok := flags.Get("config")
		if !ok {
			return nil
		}
		// Kept even when the file does not parse: the reason it gives must survive the trip.
		if _, at, _ := readProxyConfig(s, ds, container, file); at.name != "" {
			return []snapshot.ConfigMapKey{{Namespace: "kube-system", Name: at.name, Key: at.key}}
		}
		return nil
	}
	return nil
}
