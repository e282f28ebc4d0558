// Package checks is the catalog: one explicit list of every check, in a stable order.
package checks

import (
	"sort"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/alertmend/kubectl-alertmend/checks/apiserver"
	"github.com/alertmend/kubectl-alertmend/checks/conntrack"
	"github.com/alertmend/kubectl-alertmend/checks/dns"
	"github.com/alertmend/kubectl-alertmend/checks/netpol"
	"github.com/alertmend/kubectl-alertmend/checks/rbac"
	"github.com/alertmend/kubectl-alertmend/checks/resources"
	"github.com/alertmend/kubectl-alertmend/checks/workloads"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Options are the thresholds of every family.
type Options struct {
	Resources resources.Options
	Netpol    netpol.Options
}

// DefaultOptions are the thresholds used unless the user sets others.
func DefaultOptions() Options {
	return Options{Resources: resources.DefaultOptions(), Netpol: netpol.DefaultOptions()}
}

// ConfigMapKeys names every piece of ConfigMap data some check reads in s; the rest need not
// leave the cluster when a snapshot is recorded.
func ConfigMapKeys(s *snapshot.Snapshot) []snapshot.ConfigMapKey {
	return append(dns.ConfigMapKeys(s), conntrack.ConfigMapKeys(s)...)
}

// All returns every check, configured by opts, sorted by category (in catalog order) and then by ID.
func All(opts Options) []check.Check {
	all := append(append(apiserver.FlagChecks(), rbac.All()...),
		apiserver.AnonymousAccess{},
		apiserver.AnonymousBinding{},
		apiserver.VersionSupport{},
		apiserver.KubeletSkew{},
		resources.OOMKilled{},
		resources.MemoryLimitMissing{},
		resources.MemoryRequestMissing{},
		resources.CPURequestMissing{},
		resources.BestEffort{},
		resources.MemoryOvercommit{Ratio: opts.Resources.MemoryOvercommitRatio},
		resources.UsageNearLimit{},
		resources.NodeMemoryOvercommit{},
		resources.PressureWithoutLimits{},
		resources.NamespaceWithoutLimits{},
		workloads.CrashLoop{},
		workloads.ImagePull{},
		workloads.Unschedulable{},
		workloads.NodeNotReady{},
		workloads.NodePressure{},
		workloads.DeploymentUnavailable{},
		workloads.StatefulSetUnavailable{},
		workloads.DaemonSetUnavailable{},
		dns.NotFound{},
		dns.Unavailable{},
		dns.PodsUnhealthy{},
		dns.ServiceNoEndpoints{},
		dns.SingleReplica{},
		dns.Colocated{},
		dns.NoDisruptionBudget{},
		dns.PriorityClass{},
		dns.MemoryLimitLow{},
		dns.CorefileInvalid{},
		dns.NoCache{},
		dns.NoLoop{},
		dns.ProbePluginMissing{},
		dns.ForwardLoopback{},
		dns.ForwardLoopRisk{},
		dns.RemovedPlugin{},
		dns.NodeLocalMissing{},
		dns.NdotsHigh{},
		dns.NdotsDefaultAtScale{},
		dns.ServfailRatio{},
		dns.ForwardUnhealthy{},
		conntrack.TableUsage{},
		conntrack.Drops{},
		conntrack.TableFullReported{},
		conntrack.TableSmall{},
		netpol.Unisolated{Direction: networkingv1.PolicyTypeIngress, Options: opts.Netpol},
		netpol.Unisolated{Direction: networkingv1.PolicyTypeEgress, Options: opts.Netpol},
		netpol.NoDefaultDeny{Options: opts.Netpol},
		netpol.Dangling{},
		netpol.PeerMatchesNothing{},
		netpol.EgressBlocksDNS{},
		netpol.IngressFromAnywhere{},
		netpol.CNINotEnforcing{},
	)
	categoryOrder := map[check.Category]int{}
	for i, c := range check.Categories() {
		categoryOrder[c] = i
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].Meta(), all[j].Meta()
		if a.Category != b.Category {
			return categoryOrder[a.Category] < categoryOrder[b.Category]
		}
		return a.ID < b.ID
	})
	return all
}
