package storage

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// CSIDriverMissing finds pods on nodes whose kubelet has not registered the CSI driver their
// volumes need.
type CSIDriverMissing struct{}

func (CSIDriverMissing) Meta() check.Meta {
	return check.Meta{
		ID:       "csi-driver-not-installed",
		Title:    "The CSI driver a pod's volume needs is not installed on its node",
		Category: check.CategoryStorage,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindPods, snapshot.KindCSINodes, snapshot.KindPersistentVolumeClaims, snapshot.KindPersistentVolumes},
		Optional: ownerKinds(),
		LiveOnly: true,
		Absorbs:  []string{"volume-mount-failed", "statefulset-unavailable", "deployment-unavailable", "daemonset-unavailable"},
		Description: "For each pod placed on a node that is not ready, finds the CSI drivers its volumes need (the driver of " +
			"the PersistentVolume each claim is bound to, and inline CSI volumes) and reports those the node's CSINode does not " +
			"list: the driver's node plugin has not registered with that kubelet.",
		Why: "The kubelet mounts a CSI volume through the driver's node plugin on the same node. Without it every mount fails " +
			"(\"driver name ... not found in the list of registered CSI drivers\") and the pod never starts.",
		Remediation: "Run the driver's node plugin (usually a DaemonSet) on the node: check that its tolerations and " +
			"nodeSelector admit the node and that its pod there is running; its registrar container's logs say why it did not register.",
		References: []string{"https://kubernetes-csi.github.io/docs/csi-node-object.html"},
	}
}

func (c CSIDriverMissing) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	m := newModel(s)
	type group struct {
		owner  snapshot.Ref
		driver string
	}
	var groups check.Groups[group, *corev1.Pod]
	if len(s.CSINodes) == 0 {
		// Every kubelet since 1.17 keeps a CSINode: none at all is not a cluster that
		// registers drivers this way, and every driver would read as missing.
		return nil
	}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if !snapshot.IsLive(pod) || snapshot.PodReady(pod) || pod.Spec.NodeName == "" {
			continue
		}
		csiNode := m.csiNodes[pod.Spec.NodeName]
		var missing []string
		for _, driver := range m.drivers(pod) {
			if (csiNode == nil || !hasDriver(csiNode, driver)) && !slices.Contains(missing, driver) {
				missing = append(missing, driver)
			}
		}
		for _, driver := range missing {
			groups.Add(group{m.owner(pod), driver}, pod)
		}
	}
	var findings []check.Finding
	for _, g := range groups.Keys() {
		pods := groups.Get(g)
		var nodes, evidence []string
		for _, pod := range pods {
			if !slices.Contains(nodes, pod.Spec.NodeName) {
				nodes = append(nodes, pod.Spec.NodeName)
			}
			line := fmt.Sprintf("pod %s on node %s: ", pod.Name, pod.Spec.NodeName)
			if m.csiNodes[pod.Spec.NodeName] == nil {
				line += "the node has no CSINode (its kubelet registered no driver)"
			} else {
				line += "CSINode " + pod.Spec.NodeName + " lists " + driverList(m.csiNodes[pod.Spec.NodeName].Spec.Drivers)
			}
			evidence = append(evidence, line)
		}
		elsewhere := m.registered[g.driver]
		cause := "no node has registered it: the driver is not installed"
		if elsewhere > 0 {
			cause = fmt.Sprintf("%s registered it: its node plugin does not run on %s", check.Plural(elsewhere, "other node has", "other nodes have"),
				strings.Join(nodes, ", "))
		}
		f := check.New(meta, fmt.Sprintf("%s of %s on %s cannot mount volumes of CSI driver %s, which the %s not registered; %s",
			check.Plural(len(pods), "pod", "pods"), g.owner.Describe(), check.PluralForm(len(nodes), "node ", "nodes ")+strings.Join(nodes, ", "),
			g.driver, check.PluralForm(len(nodes), "node has", "nodes have"), cause), g.owner)
		f.Severity = m.impact(g.owner)
		f.Incident = true
		f.Evidence = check.LimitEvidence(evidence)
		var registered []string
		for _, n := range nodes {
			if m.csiNodes[n] != nil {
				registered = append(registered, n)
			}
		}
		f.Fix = append(check.FixNames(registered, "nodes", func(names string) string { return "kubectl get csinode " + names + " -o yaml" }),
			"kubectl get pods -A -o wide | grep -i "+check.Quote(driverWord(g.driver)),
			check.Comment("run the node plugin of "+g.driver+" (usually a DaemonSet) on "+strings.Join(nodes, ", ")+": check its tolerations and nodeSelector"))
		findings = append(findings, f)
	}
	return findings
}

// drivers are the CSI drivers a pod's volumes need: the driver of each bound claim's volume,
// and of each inline CSI volume.
func (m *model) drivers(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		if v.CSI != nil {
			out = append(out, v.CSI.Driver)
		}
	}
	for _, name := range claimNames(pod) {
		claim := m.claims[key{pod.Namespace, name}]
		if claim == nil || claim.Spec.VolumeName == "" {
			continue
		}
		if pv := m.volumes[claim.Spec.VolumeName]; pv != nil && pv.Spec.CSI != nil {
			out = append(out, pv.Spec.CSI.Driver)
		}
	}
	return out
}

func driverList(drivers []storagev1.CSINodeDriver) string {
	if len(drivers) == 0 {
		return "no driver"
	}
	names := make([]string, len(drivers))
	for i, d := range drivers {
		names[i] = d.Name
	}
	return "only " + strings.Join(names, ", ")
}
