// Package checks is the catalog: one explicit list of every check, in a stable order.
package checks

import (
	"sort"

	"github.com/alertmend/kubectl-alertmend/checks/admission"
	"github.com/alertmend/kubectl-alertmend/checks/aggregated"
	"github.com/alertmend/kubectl-alertmend/checks/apiserver"
	"github.com/alertmend/kubectl-alertmend/checks/capacity"
	"github.com/alertmend/kubectl-alertmend/checks/certificates"
	"github.com/alertmend/kubectl-alertmend/checks/conntrack"
	"github.com/alertmend/kubectl-alertmend/checks/disruption"
	"github.com/alertmend/kubectl-alertmend/checks/dns"
	"github.com/alertmend/kubectl-alertmend/checks/hygiene"
	"github.com/alertmend/kubectl-alertmend/checks/netpol"
	"github.com/alertmend/kubectl-alertmend/checks/podsecurity"
	"github.com/alertmend/kubectl-alertmend/checks/rbac"
	"github.com/alertmend/kubectl-alertmend/checks/resources"
	"github.com/alertmend/kubectl-alertmend/checks/storage"
	"github.com/alertmend/kubectl-alertmend/checks/traffic"
	"github.com/alertmend/kubectl-alertmend/checks/workloads"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Options are the thresholds of every family.
type Options struct {
	Resources   resources.Options
	Netpol      netpol.Options
	PodSecurity podsecurity.Options
}

// DefaultOptions are the thresholds used unless the user sets others.
func DefaultOptions() Options {
	return Options{Resources: resources.DefaultOptions(), Netpol: netpol.DefaultOptions(), PodSecurity: podsecurity.DefaultOptions()}
}

// ConfigMapKeys names every piece of ConfigMap data some check reads in s; the rest need not
// leave the cluster when a snapshot is recorded.
func ConfigMapKeys(s *snapshot.Snapshot) []snapshot.ConfigMapKey {
	return append(dns.ConfigMapKeys(s), conntrack.ConfigMapKeys(s)...)
}

// All returns every check, configured by opts, sorted by category (in catalog order) and then by ID.
// Each family lists its own checks; its tests run that same list, so nothing is catalogued
// that its family's fixtures do not assert.
func All(opts Options) []check.Check {
	var all []check.Check
	for _, family := range [][]check.Check{
		apiserver.Checks(),
		aggregated.Checks(),
		admission.Checks(),
		rbac.Checks(),
		resources.Checks(opts.Resources),
		workloads.Checks(),
		capacity.Checks(),
		dns.Checks(),
		conntrack.Checks(),
		netpol.Checks(opts.Netpol),
		podsecurity.Checks(opts.PodSecurity),
		traffic.Checks(),
		certificates.Checks(),
		hygiene.Checks(),
		storage.Checks(),
		disruption.Checks(),
	} {
		all = append(all, family...)
	}
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
