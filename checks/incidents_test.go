package checks

import (
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// rootOf is the summary of the root cause of the incident that holds checkID's finding about
// an object named name: itself when it is a root, "" when it is in no incident.
func rootOf(r *report.Report, checkID, name string) string {
	byID := map[string]check.Finding{}
	var id string
	for _, f := range r.Findings {
		byID[f.ID] = f
		for _, o := range f.Objects {
			if f.Check == checkID && o.Name == name {
				id = f.ID
			}
		}
	}
	for _, inc := range r.Incidents {
		for _, member := range inc.Members() {
			if member == id {
				return summary(byID[inc.Root])
			}
		}
	}
	return ""
}
