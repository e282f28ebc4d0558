package check

import (
	"fmt"
	"strings"
)

// Severity is one of five plain levels; there are no scores to decode.
type Severity string

const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// Severities lists every level, most severe first.
func Severities() []Severity { return []Severity{Critical, High, Medium, Low, Info} }

// Rank is 0 for critical up to 4 for info.
func (s Severity) Rank() int {
	for i, v := range Severities() {
		if v == s {
			return i
		}
	}
	return len(Severities())
}

func (s Severity) Valid() bool { return s.Rank() < len(Severities()) }

// AtLeast reports whether s is as severe as threshold or more.
func (s Severity) AtLeast(threshold Severity) bool { return s.Rank() <= threshold.Rank() }

// ParseSeverity accepts a level name in any case.
func ParseSeverity(v string) (Severity, error) {
	s := Severity(strings.ToLower(strings.TrimSpace(v)))
	if !s.Valid() {
		return "", fmt.Errorf("unknown severity %q (want one of critical, high, medium, low, info)", v)
	}
	return s, nil
}

// Category is a check family.
type Category string

const (
	CategoryAPIServer Category = "apiserver"
	// CategoryAdmission judges the admission webhooks every write passes through.
	CategoryAdmission Category = "admission"
	CategoryResources Category = "resources"
	CategoryWorkloads Category = "workloads"
	CategoryDNS       Category = "dns"
	CategoryConntrack Category = "conntrack"
	CategoryNetpol    Category = "netpol"
	CategoryRBAC      Category = "rbac"
	// CategorySecurity judges pods against the Pod Security Standards.
	CategorySecurity Category = "security"
	// CategoryTraffic follows the path requests take: Ingress or route, Service, endpoints, pods.
	CategoryTraffic Category = "traffic"
	// CategoryCertificates judges certificates: the API server's, CA bundles, cert-manager's,
	// and the kubelets' requests for theirs.
	CategoryCertificates Category = "certificates"
	// CategoryReliability judges workloads' hygiene: probes, images, structure, disruption.
	CategoryReliability Category = "reliability"
	// CategoryCapacity judges whether workloads fit and keep running: quotas, scheduling, disruption, autoscaling.
	CategoryCapacity Category = "capacity"
)

// Categories lists every family in the order the catalog shows them.
func Categories() []Category {
	return []Category{CategoryAPIServer, CategoryAdmission, CategoryResources, CategoryWorkloads, CategoryCapacity, CategoryReliability, CategoryTraffic, CategoryDNS, CategoryConntrack, CategoryNetpol, CategoryRBAC, CategorySecurity, CategoryCertificates}
}

func (c Category) Valid() bool {
	for _, v := range Categories() {
		if v == c {
			return true
		}
	}
	return false
}
