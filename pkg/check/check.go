// Package check defines the contract between the engine and every check: what a check declares
// about itself (Meta), what it needs from the cluster (snapshot kinds), and what it reports (Finding).
package check

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Check is one rule. Run must be a pure function of the snapshot: no I/O, no mutation of s, and a
// deterministic order of findings.
type Check interface {
	Meta() Meta
	Run(s *snapshot.Snapshot) []Finding
}

// Applicability is implemented by checks that can tell from the snapshot that what they judge
// is not there to see, for example a managed control plane that shows no API server pods. A
// non-empty reason makes the check "not evaluated" instead of passing.
type Applicability interface {
	NotEvaluable(s *snapshot.Snapshot) string
}

// Relevance is implemented by checks that can tell from the snapshot that what they judge is
// absent from this cluster by design: no kube-proxy, a managed control plane, nothing that
// reports node problems. A non-empty reason makes the check "not applicable": listed with the
// reason, like a check that could not see, but the run stays complete (no exit 3 for it).
type Relevance interface {
	NotApplicable(s *snapshot.Snapshot) string
}

// WhyNot says why c cannot judge s, once the kinds it requires have been read: what it judges
// is absent by design (notApplicable), or it cannot see enough; "" when it can judge.
func WhyNot(c Check, s *snapshot.Snapshot) (reason string, notApplicable bool) {
	if r, ok := c.(Relevance); ok {
		if reason := r.NotApplicable(s); reason != "" {
			return reason, true
		}
	}
	if a, ok := c.(Applicability); ok {
		return a.NotEvaluable(s), false
	}
	return "", false
}

// Meta describes a check for the catalog, for `explain`, and for the engine's scheduling.
type Meta struct {
	// ID is stable kebab-case, written by hand; users put it in ignore lists, so it never changes.
	ID       string
	Title    string
	Category Category
	Severity Severity
	// Requires lists the kinds without which the check cannot see; if any could not be read the
	// check is reported as not evaluated.
	Requires []snapshot.Kind
	// Optional lists kinds that sharpen the result (for example owners of pods) but whose absence
	// does not blind the check.
	Optional []snapshot.Kind
	// LiveOnly marks checks that judge live status (conditions, restarts); manifests carry none,
	// so such checks are left out when diagnosing files.
	LiveOnly bool
	// WholeCluster marks checks whose answer needs every namespace (a node's total, for
	// example); limited to one namespace with -n, they are not evaluated rather than wrong.
	WholeCluster bool
	// ComponentNamespaces names where the cluster components the check judges run (the cluster
	// DNS server's namespaces, kube-proxy's); a run limited with -n to another namespace does
	// not read them, so the check does not apply to it.
	ComponentNamespaces []string
	// Supersedes names generic checks whose findings this check's findings explain better: a
	// finding of one of them about objects this check also reports on is folded into this one,
	// so one outage is not reported three times. Only checks that both run are folded.
	Supersedes []string
	// Absorbs names checks whose findings about the same objects are parts of this check's
	// finding (a Deployment is unavailable because its pods crash loop because their container
	// is OOMKilled): they are folded in with their messages as evidence and their fixes after
	// this one's, so the outage reads as one finding that still says what to do about each part.
	//
	// An absorbed finding about other objects than the absorbing finding's own (its first
	// object: a webhook that refuses Deployments' pods, a quota that keeps them short) is not
	// folded: it stays a finding of its own, linked as a symptom of the absorbing one, as a Link
	// over the absorbing finding's objects would.
	Absorbs []string
	// Links declare the findings of other checks that this check's findings cause (their
	// symptoms), and how the objects connect; see Link.
	Links []Link
	// Description says what the check looks at; Why says what goes wrong when it fires.
	Description string
	Why         string
	Remediation string
	References  []string
}

// OutOfNamespace says why the check does not apply to a run limited (-n) to namespace: it needs
// the whole cluster, or it judges components that run elsewhere; "" when it applies.
func (m Meta) OutOfNamespace(namespace string) string {
	switch {
	case namespace == "":
		return ""
	case m.WholeCluster:
		return fmt.Sprintf("needs objects beyond namespace %s, to which the run was limited (-n)", namespace)
	case len(m.ComponentNamespaces) > 0 && !slices.Contains(m.ComponentNamespaces, namespace):
		return fmt.Sprintf("judges what runs in %s, beyond namespace %s, to which the run was limited (-n)",
			strings.Join(m.ComponentNamespaces, " or "), namespace)
	}
	return ""
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Validate reports metadata that would break users: a malformed ID, an unknown category or
// severity, or missing documentation.
func (m Meta) Validate() error {
	switch {
	case !idPattern.MatchString(m.ID):
		return fmt.Errorf("check ID %q is not kebab-case", m.ID)
	case !m.Category.Valid():
		return fmt.Errorf("check %s: unknown category %q", m.ID, m.Category)
	case !m.Severity.Valid():
		return fmt.Errorf("check %s: unknown severity %q", m.ID, m.Severity)
	case m.Title == "" || m.Description == "" || m.Why == "" || m.Remediation == "":
		return fmt.Errorf("check %s: title, description, why and remediation are all required", m.ID)
	case len(m.Requires) == 0:
		return fmt.Errorf("check %s: declares no required kinds", m.ID)
	}
	return nil
}

// Scope is the breadth of a finding, used to rank findings of equal severity.
type Scope string

const (
	ScopeCluster   Scope = "cluster"
	ScopeNamespace Scope = "namespace"
	ScopeObject    Scope = "object"
)

func (s Scope) rank() int {
	switch s {
	case ScopeCluster:
		return 0
	case ScopeNamespace:
		return 1
	default:
		return 2
	}
}

// Finding is one problem, possibly spanning many objects that share a cause.
type Finding struct {
	// ID names the finding within a report, for incidents to refer to (FindingID); the engine
	// sets it.
	ID          string         `json:"id,omitempty"`
	Check       string         `json:"check"`
	Category    Category       `json:"category"`
	Severity    Severity       `json:"severity"`
	Title       string         `json:"title"`
	Message     string         `json:"message"`
	Remediation string         `json:"remediation"`
	Fix         []string       `json:"fix"`
	Objects     []snapshot.Ref `json:"objects"`
	Evidence    []string       `json:"evidence,omitempty"`
	// Incident is true when something is broken now, false for a latent risk.
	Incident bool  `json:"incident"`
	Scope    Scope `json:"scope"`
	// Since is when the problem began as far as the cluster records it (a condition's last
	// transition, a container's first failure, an event's first timestamp); nil when unknown or
	// for latent risks. Renderers show it as an age relative to the snapshot's collection time.
	Since *time.Time `json:"since,omitempty"`
	// Locations says where the objects are defined when they came from manifests: one entry per
	// object whose file is known, in the order of Objects.
	Locations []snapshot.Origin `json:"locations,omitempty"`
	// Baselined marks a finding recorded in the --baseline file: reported, but it does not fail
	// the gate.
	Baselined bool `json:"baselined,omitempty"`
}

// New starts a finding from a check's metadata so that category, default severity, title and
// remediation stay consistent with the catalog; the check fills in the rest.
func New(m Meta, message string, objects ...snapshot.Ref) Finding {
	return Finding{
		Check:       m.ID,
		Category:    m.Category,
		Severity:    m.Severity,
		Title:       m.Title,
		Message:     message,
		Remediation: m.Remediation,
		Fix:         []string{},
		Objects:     objects,
		Scope:       ScopeObject,
	}
}

// Less orders findings by priority: severity, then live incidents before latent risks, then
// breadth, then the number of objects affected; the check ID and first object make it total.
func Less(a, b Finding) bool {
	if a.Severity.Rank() != b.Severity.Rank() {
		return a.Severity.Rank() < b.Severity.Rank()
	}
	if a.Incident != b.Incident {
		return a.Incident
	}
	if a.Scope.rank() != b.Scope.rank() {
		return a.Scope.rank() < b.Scope.rank()
	}
	if len(a.Objects) != len(b.Objects) {
		return len(a.Objects) > len(b.Objects)
	}
	if a.Check != b.Check {
		return a.Check < b.Check
	}
	return firstObjectKey(a) < firstObjectKey(b)
}

func firstObjectKey(f Finding) string {
	if len(f.Objects) == 0 {
		return ""
	}
	return f.Objects[0].String()
}
