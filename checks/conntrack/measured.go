package conntrack

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Usage thresholds: kube-prometheus alerts at 75%; at 90% a burst fills the table; at 98% new
// connections are about to be dropped.
const (
	usageMedium   = 0.75
	usageHigh     = 0.90
	usageCritical = 0.98
)

func usageSeverity(ratio float64) check.Severity {
	switch {
	case ratio >= usageCritical:
		return check.Critical
	case ratio >= usageHigh:
		return check.High
	case ratio >= usageMedium:
		return check.Medium
	}
	return ""
}

// TableUsage reports nodes whose connection-tracking table is filling up.
type TableUsage struct{}

func (TableUsage) Meta() check.Meta {
	return check.Meta{
		ID:       "conntrack-table-usage",
		Title:    "Nodes' connection-tracking tables are filling up",
		Category: check.CategoryConntrack,
		Severity: check.Medium,
		Requires: []snapshot.Kind{snapshot.KindConntrack},
		Optional: measurementContext(),
		LiveOnly: true,
		Links:    []check.Link{measuredLink()},
		Description: fmt.Sprintf("Reads node_exporter's node_nf_conntrack_entries and node_nf_conntrack_entries_limit per node, "+
			"from Prometheus (--prometheus-url, or a Prometheus Service found in the cluster and queried through the API "+
			"server's service proxy) or else from the node-exporter pods through the pod proxy, all with GETs. One finding "+
			"lists every node at %.0f%% or more: medium, high from %.0f%%, critical from %.0f%%.",
			usageMedium*100, usageHigh*100, usageCritical*100),
		Why: "When a node's table is full, the kernel drops the first packet of every new connection it cannot track: " +
			"connects time out and DNS lookups fail intermittently, on that node only, which looks like an application " +
			"or DNS bug.",
		Remediation: "Raise the node's nf_conntrack_max: kube-proxy sets it at start to conntrack.maxPerCore × CPUs (at " +
			"least conntrack.min), so raise those in its configuration and restart it; where kube-proxy leaves the table " +
			"alone (maxPerCore 0) set the sysctl net.netfilter.nf_conntrack_max. Then look at what opens so many " +
			"connections on those nodes (clients without connection reuse, UDP floods).",
		References: []string{referenceKubeProxy, "https://github.com/prometheus-operator/kube-prometheus"},
	}
}

func (TableUsage) NotEvaluable(s *snapshot.Snapshot) string {
	if s.Conntrack == nil {
		return ""
	}
	if !slices.ContainsFunc(s.Conntrack.Nodes, func(n snapshot.ConntrackNode) bool { return n.Measured() }) {
		return "node_exporter reported no table limit (node_nf_conntrack_entries_limit missing or 0) for any node, " +
			"so no usage ratio can be computed"
	}
	return ""
}

func (c TableUsage) Run(s *snapshot.Snapshot) []check.Finding {
	if s.Conntrack == nil {
		return nil
	}
	var full []*snapshot.ConntrackNode
	measured := 0
	for i := range s.Conntrack.Nodes {
		n := &s.Conntrack.Nodes[i]
		if !n.Measured() {
			continue
		}
		measured++
		if n.Ratio() >= usageMedium {
			full = append(full, n)
		}
	}
	if len(full) == 0 {
		return nil
	}
	slices.SortStableFunc(full, func(a, b *snapshot.ConntrackNode) int {
		return cmp.Or(cmp.Compare(b.Ratio(), a.Ratio()), cmp.Compare(a.Node, b.Node))
	})
	worst := full[0]
	bands := []struct {
		from  float64
		nodes int
	}{{usageCritical, 0}, {usageHigh, 0}, {usageMedium, 0}}
	for _, n := range full {
		for i := range bands {
			if n.Ratio() >= bands[i].from {
				bands[i].nodes++
				break
			}
		}
	}
	var parts []string
	for _, b := range bands {
		if b.nodes > 0 {
			parts = append(parts, fmt.Sprintf("%d at %.0f%% or more", b.nodes, b.from*100))
		}
	}
	message := fmt.Sprintf("%d of %d measured nodes have their connection-tracking table %.0f%% full or more (%s); "+
		"the fullest, %s, holds %s of %s entries (%.1f%%).", len(full), measured, usageMedium*100, strings.Join(parts, ", "),
		worst.Node, count(worst.Entries), count(worst.Limit), 100*worst.Ratio())
	if worst.Ratio() >= usageCritical {
		message += " New connections on it are about to be dropped."
	}

	loads := podsOnNodes(s)
	var refs []snapshot.Ref
	var evidence []string
	for _, n := range full {
		refs = append(refs, nodeRef(n.Node))
		evidence = append(evidence, fmt.Sprintf("node %s: %s of %s entries (%.1f%%); %s; from %s",
			n.Node, count(n.Entries), count(n.Limit), 100*n.Ratio(), loads[n.Node].describe(), n.Source))
	}
	evidence = check.LimitEvidence(evidence)
	evidence = append(evidence, sourcesEvidence(s, unmeasuredNodes(s, (*snapshot.ConntrackNode).Measured))...)

	f := check.New(c.Meta(), message, refs...)
	f.Severity = usageSeverity(worst.Ratio())
	f.Incident = f.Severity == check.Critical
	f.Scope = nodesScope(len(refs))
	f.Evidence = evidence
	f.Fix = raiseTableFix(s, full)
	return []check.Finding{f}
}

// Drops reports nodes whose kernel drops packets because it cannot track their connections.
type Drops struct{}

func (Drops) Meta() check.Meta {
	return check.Meta{
		ID:       "conntrack-drops",
		Title:    "Nodes drop packets they cannot track",
		Category: check.CategoryConntrack,
		Severity: check.Critical,
		Requires: []snapshot.Kind{snapshot.KindConntrack},
		Optional: measurementContext(),
		LiveOnly: true,
		Links:    []check.Link{measuredLink()},
		Description: "Reads node_exporter's node_nf_conntrack_stat_drop, _early_drop and _insert_failed counters per node: " +
			"their rate over 5 minutes from Prometheus, or two scrapes of the node-exporter pod a few seconds apart. " +
			"Critical when any of them rises, whatever the table's usage; medium when they only show drops since the " +
			"node booted.",
		Why: "drop counts packets the kernel threw away because the table was full; early_drop counts entries it evicted " +
			"to make room, cutting connections not yet established; insert_failed counts new flows it could not track " +
			"because two packets raced through DNAT at once, the cause of the well-known 5-second DNS lookups. " +
			"Applications see timeouts and retries that no log explains.",
		Remediation: "For drop and early_drop, raise the table (see conntrack-table-usage). For insert_failed, stop " +
			"parallel DNS queries racing: run NodeLocal DNSCache, or give pods `options single-request-reopen` " +
			"(glibc) in dnsConfig, or use TCP for DNS.",
		References: []string{referenceRace, "https://kubernetes.io/docs/tasks/administer-cluster/nodelocaldns/"},
	}
}

func (Drops) NotEvaluable(s *snapshot.Snapshot) string {
	if s.Conntrack == nil {
		return ""
	}
	if !slices.ContainsFunc(s.Conntrack.Nodes, func(n snapshot.ConntrackNode) bool { return n.Rates != nil || n.Counters != nil }) {
		reason := "no node's drop counters (node_nf_conntrack_stat_*) could be read"
		for _, why := range s.Conntrack.Unused {
			if strings.Contains(why, "drop rates are unknown") {
				return reason + ": " + why
			}
		}
		return reason + ": node_exporter before 1.3, or without netlink access to the kernel's conntrack statistics"
	}
	return ""
}

// inWindow is how many events a per-second rate makes over the window: "<1" where Prometheus'
// extrapolation gives a fraction.
func inWindow(rate float64, window time.Duration) string {
	n := rate * window.Seconds()
	switch {
	case n == 0:
		return "0"
	case n < 1:
		return "<1"
	}
	return count(math.Round(n))
}

func rateText(n *snapshot.ConntrackNode) string {
	return fmt.Sprintf("%s dropped, %s early-dropped, %s insert failures in %s", inWindow(n.Rates.Drop, n.RateWindow),
		inWindow(n.Rates.EarlyDrop, n.RateWindow), inWindow(n.Rates.InsertFailed, n.RateWindow), n.RateWindow)
}

func (c Drops) Run(s *snapshot.Snapshot) []check.Finding {
	if s.Conntrack == nil {
		return nil
	}
	var rising, past []*snapshot.ConntrackNode
	for i := range s.Conntrack.Nodes {
		n := &s.Conntrack.Nodes[i]
		switch {
		case n.Rates.Any():
			rising = append(rising, n)
		case n.Counters.Any():
			past = append(past, n)
		}
	}
	loads := podsOnNodes(s)
	unmeasured := unmeasuredNodes(s, func(n *snapshot.ConntrackNode) bool { return n.Rates != nil || n.Counters != nil })
	if len(rising) > 0 {
		slices.SortStableFunc(rising, func(a, b *snapshot.ConntrackNode) int {
			return cmp.Or(cmp.Compare(b.Rates.Drop+b.Rates.EarlyDrop+b.Rates.InsertFailed, a.Rates.Drop+a.Rates.EarlyDrop+a.Rates.InsertFailed),
				cmp.Compare(a.Node, b.Node))
		})
		var refs []snapshot.Ref
		var evidence []string
		tableFull, race := false, false
		for _, n := range rising {
			refs = append(refs, nodeRef(n.Node))
			tableFull = tableFull || n.Rates.Drop > 0 || n.Rates.EarlyDrop > 0
			race = race || n.Rates.InsertFailed > 0
			line := fmt.Sprintf("node %s: %s", n.Node, rateText(n))
			if n.Measured() {
				line += fmt.Sprintf("; table %.1f%% full", 100*n.Ratio())
			}
			evidence = append(evidence, line+"; "+loads[n.Node].describe()+"; from "+n.Source)
		}
		evidence = append(check.LimitEvidence(evidence), sourcesEvidence(s, unmeasured)...)
		cause := "a full table"
		switch {
		case tableFull && race:
			cause = "a full table, and insert failures from racing packets"
		case race:
			cause = "insert failures: packets of new flows racing through DNAT (the 5-second DNS delays), not a full table"
		}
		f := check.New(c.Meta(), fmt.Sprintf("%s losing connections now that the kernel cannot track, because of %s.",
			check.Plural(len(rising), "node is", "nodes are"), cause), refs...)
		f.Incident = true
		f.Scope = nodesScope(len(refs))
		f.Evidence = evidence
		f.Fix = dropFix(s, rising)
		return []check.Finding{f}
	}
	if len(past) == 0 {
		return nil
	}
	var refs []snapshot.Ref
	var evidence []string
	for _, n := range past {
		refs = append(refs, nodeRef(n.Node))
		line := fmt.Sprintf("node %s: since boot %s dropped, %s early-dropped, %s insert failures", n.Node,
			count(n.Counters.Drop), count(n.Counters.EarlyDrop), count(n.Counters.InsertFailed))
		if n.Rates != nil {
			line += fmt.Sprintf("; none in the %s observed", n.RateWindow)
		} else {
			line += "; not observed whether they still rise"
		}
		evidence = append(evidence, line+"; from "+n.Source)
	}
	evidence = append(check.LimitEvidence(evidence), sourcesEvidence(s, unmeasured)...)
	f := check.New(c.Meta(), fmt.Sprintf("%s dropped packets the kernel could not track since boot; none were seen "+
		"dropping while measured.", check.Plural(len(past), "node has", "nodes have")), refs...)
	f.Severity = check.Medium
	f.Scope = nodesScope(len(refs))
	f.Evidence = evidence
	f.Fix = dropFix(s, past)
	return []check.Finding{f}
}

// dropFix shows the nodes' tables live and how to raise them.
func dropFix(s *snapshot.Snapshot, nodes []*snapshot.ConntrackNode) []string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Node
	}
	return append(showTableFix(names), raiseTableFix(s, nodes)...)
}
