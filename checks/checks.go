// Package checks is the catalog: one explicit list of every check, in a stable order.
package checks

import (
	"sort"

	"github.com/alertmend/kubectl-alertmend/checks/workloads"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

// All returns every check, sorted by category (in catalog order) and then by ID.
func All() []check.Check {
	all := []check.Check{
		workloads.CrashLoop{},
		workloads.ImagePull{},
		workloads.Unschedulable{},
		workloads.NodeNotReady{},
		workloads.NodePressure{},
		workloads.DeploymentUnavailable{},
		workloads.StatefulSetUnavailable{},
		workloads.DaemonSetUnavailable{},
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
