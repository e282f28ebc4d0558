package snapshot

import "time"

// Conntrack is what node_exporter reports of each node's connection-tracking table, gathered
// from whichever sources answered.
type Conntrack struct {
	// Sources describes each source that measured at least one node, e.g.
	// "Prometheus at http://127.0.0.1:9090".
	Sources []string `json:"sources"`
	// Unused says, for each source that was tried and measured nothing, why; it tells the user
	// how to make more nodes measurable.
	Unused []string `json:"unused,omitempty"`
	// Nodes holds one measurement per node, sorted by node name.
	Nodes []ConntrackNode `json:"nodes"`
}

// ConntrackNode is one node's table: node_exporter's node_nf_conntrack_* series.
type ConntrackNode struct {
	Node string `json:"node"`
	// Source names where these numbers came from.
	Source string `json:"source"`
	// Entries and Limit are node_nf_conntrack_entries and node_nf_conntrack_entries_limit; a
	// Limit of 0 means the limit was not reported, so no ratio can be judged.
	Entries float64 `json:"entries"`
	Limit   float64 `json:"limit"`
	// Counters are node_nf_conntrack_stat_* since the node booted; nil when not reported.
	Counters *ConntrackCounters `json:"counters,omitempty"`
	// Rates are the same counters per second over RateWindow; nil when not measured.
	Rates      *ConntrackCounters `json:"rates,omitempty"`
	RateWindow time.Duration      `json:"rateWindow,omitempty"`
}

// ConntrackCounters are the kernel's counts of connections it could not track: packets dropped
// because the table was full (drop), entries evicted early to make room (early_drop), and
// entries that could not be inserted, the race behind lost DNS packets (insert_failed).
type ConntrackCounters struct {
	Drop         float64 `json:"drop"`
	EarlyDrop    float64 `json:"earlyDrop"`
	InsertFailed float64 `json:"insertFailed"`
}

// Any reports whether any counter is above zero.
func (c *ConntrackCounters) Any() bool {
	return c != nil && (c.Drop > 0 || c.EarlyDrop > 0 || c.InsertFailed > 0)
}

// Measured tells whether the node's usage ratio can be judged.
func (n *ConntrackNode) Measured() bool { return n.Limit > 0 }

// Ratio is the share of the table in use; 0 when not measured.
func (n *ConntrackNode) Ratio() float64 {
	if !n.Measured() {
		return 0
	}
	return n.Entries / n.Limit
}
