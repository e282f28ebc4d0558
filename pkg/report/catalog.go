package report

import (
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// CatalogEntry is one check as `checks -o json|yaml` prints it; the catalog is a list of them.
type CatalogEntry struct {
	ID          string          `json:"id"`
	Category    check.Category  `json:"category"`
	Severity    check.Severity  `json:"severity"`
	Title       string          `json:"title"`
	LiveOnly    bool            `json:"liveOnly"`
	Requires    []snapshot.Kind `json:"requires"`
	Description string          `json:"description"`
}
