package netpol

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// cni is a network plugin as recognised from its DaemonSet.
type cni struct {
	name string
	// enforces is whether it enforces NetworkPolicy as deployed.
	enforces bool
	// how says what the verdict rests on.
	how string
}

// recogniseCNI tells a network plugin (or policy agent) from its DaemonSet's name and images.
func recogniseCNI(ds *appsv1.DaemonSet) (cni, bool) {
	images := ""
	for _, c := range ds.Spec.Template.Spec.Containers {
		images += " " + c.Image
	}
	has := func(names ...string) bool {
		return slices.ContainsFunc(names, func(n string) bool {
			return ds.Name == n || strings.Contains(images, "/"+n+":") || strings.Contains(images, "/"+n+"@")
		})
	}
	switch {
	case has("calico-node") || strings.Contains(images, "calico/node:") || strings.Contains(images, "calico/node@"):
		return cni{"Calico", true, "calico-node enforces NetworkPolicy"}, true
	case has("cilium", "cilium-agent"):
		return cni{"Cilium", true, "the cilium agent enforces NetworkPolicy"}, true
	case ds.Name == "anetd":
		return cni{"GKE Dataplane V2", true, "anetd (Cilium) enforces NetworkPolicy"}, true
	case has("canal"):
		return cni{"Canal", true, "Canal's Calico enforces NetworkPolicy"}, true
	case has("weave-net", "weave-kube"):
		return cni{"Weave Net", true, "weave-npc enforces NetworkPolicy"}, true
	case has("antrea-agent"):
		return cni{"Antrea", true, "antrea-agent enforces NetworkPolicy"}, true
	case has("kube-router"):
		return cni{"kube-router", true, "kube-router's firewall enforces NetworkPolicy"}, true
	case has("azure-npm"):
		return cni{"Azure NPM", true, "Azure Network Policy Manager enforces NetworkPolicy"}, true
	case has("ovnkube-node"):
		return cni{"OVN-Kubernetes", true, "OVN-Kubernetes enforces NetworkPolicy"}, true
	case ds.Name == "aws-node":
		if awsPolicyAgentEnabled(ds) {
			return cni{"Amazon VPC CNI", true, "the aws-eks-nodeagent container runs with --enable-network-policy=true"}, true
		}
		return cni{"Amazon VPC CNI", false, "aws-node has no network policy agent enabled (aws-eks-nodeagent with --enable-network-policy=true)"}, true
	case has("kube-flannel-ds", "kube-flannel", "flannel"):
		return cni{"Flannel", false, "flannel only routes pod traffic; it enforces no NetworkPolicy"}, true
	}
	return cni{}, false
}

// awsPolicyAgentEnabled reads the node agent's --enable-network-policy flag as Go's flag package
// does: bare, or with a boolean value.
func awsPolicyAgentEnabled(ds *appsv1.DaemonSet) bool {
	for _, c := range ds.Spec.Template.Spec.Containers {
		if c.Name != "aws-eks-nodeagent" {
			continue
		}
		for _, arg := range c.Args {
			name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
			if name != "enable-network-policy" {
				continue
			}
			if enabled, err := strconv.ParseBool(value); !hasValue || (err == nil && enabled) {
				return true
			}
		}
	}
	return false
}

// CNINotEnforcing reports NetworkPolicies on a cluster whose network plugin does not enforce them.
type CNINotEnforcing struct{}

func (CNINotEnforcing) Meta() check.Meta {
	return check.Meta{
		ID:       "netpol-cni-not-enforcing",
		Title:    "NetworkPolicies exist but the network plugin does not enforce them",
		Category: check.CategoryNetpol,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindNetworkPolicies, snapshot.KindDaemonSets},
		LiveOnly: true, WholeCluster: true,
		Description: "Recognises the network plugin from its DaemonSet (Calico, Cilium, GKE Dataplane V2, Canal, " +
			"Weave Net, Antrea, kube-router, Azure NPM, OVN-Kubernetes, Amazon VPC CNI, Flannel) and, when the cluster " +
			"has NetworkPolicies, reports it if none of the plugins found enforces them (Flannel alone; the Amazon " +
			"VPC CNI without its network policy agent). When no known plugin is in view (k3s runs its own, " +
			"managed clusters may hide theirs), it is not evaluated.",
		Why: "Policies that nobody enforces give a false sense of safety: every pod can still reach every other, " +
			"whatever the policies say.",
		Remediation: "Install a policy engine beside the plugin (Calico in policy-only mode over Flannel, i.e. " +
			"Canal), or enable the Amazon VPC CNI's network policy agent.",
		References: []string{"https://kubernetes.io/docs/concepts/extend-kubernetes/compute-storage-net/network-plugins/"},
	}
}

// NotApplicable: a network plugin that runs outside pods (k3s, some managed clusters) cannot be
// recognised, and there is nothing in view to judge.
func (c CNINotEnforcing) NotApplicable(s *snapshot.Snapshot) string {
	if len(s.NetworkPolicies) > 0 && len(cnis(s)) == 0 {
		return "no known network plugin's DaemonSet is in view (k3s and some managed clusters run theirs outside pods)"
	}
	return ""
}

func cnis(s *snapshot.Snapshot) []cni {
	var found []cni
	for i := range s.DaemonSets {
		ds := &s.DaemonSets[i]
		if ds.Status.ObservedGeneration > 0 && ds.Status.DesiredNumberScheduled == 0 {
			continue // scheduled on no node: whatever it is, it runs nowhere
		}
		if c, ok := recogniseCNI(&s.DaemonSets[i]); ok && !slices.ContainsFunc(found, func(f cni) bool { return f.name == c.name }) {
			found = append(found, c)
		}
	}
	return found
}

func (c CNINotEnforcing) Run(s *snapshot.Snapshot) []check.Finding {
	found := cnis(s)
	if len(s.NetworkPolicies) == 0 || len(found) == 0 || slices.ContainsFunc(found, func(c cni) bool { return c.enforces }) {
		return nil
	}
	var names, evidence []string
	for _, p := range found {
		names = append(names, p.name)
		evidence = append(evidence, p.name+": "+p.how)
	}
	f := check.New(c.Meta(), fmt.Sprintf("The cluster has %s, but its network plugin (%s) enforces none of them "+
		"and no policy engine this tool recognises runs beside it: every pod can likely still reach every other.",
		check.Plural(len(s.NetworkPolicies), "NetworkPolicy", "NetworkPolicies"), strings.Join(names, ", ")))
	f.Scope = check.ScopeCluster
	f.Evidence = evidence
	f.Fix = []string{"kubectl get daemonsets -A -o wide   # the network plugin and any policy agent"}
	return []check.Finding{f}
}
