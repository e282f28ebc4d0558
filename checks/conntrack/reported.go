package conntrack

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// recentReport is how old a kernel report may be and still mean "now": the API server's default
// event TTL, so on most clusters every event still stored counts.
const recentReport = time.Hour

// kubeletConditions are the node conditions the kubelet itself sets; any other condition type
// shows that node-problem-detector, or an agent like it, reports on the nodes.
func kubeletConditions() []corev1.NodeConditionType {
	return []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure,
		corev1.NodePIDPressure, corev1.NodeNetworkUnavailable}
}

// isConntrackCondition matches the conditions that node-problem-detector rules for the table
// set (ConntrackFull, for example).
func isConntrackCondition(c *corev1.NodeCondition) bool {
	return c.Status == corev1.ConditionTrue && strings.Contains(strings.ToLower(string(c.Type)), "conntrack")
}

// isConntrackEvent matches the kernel's "nf_conntrack: table full, dropping packet", as
// node-problem-detector's kernel monitor forwards it, and events whose reason names the table.
func isConntrackEvent(e *corev1.Event) bool {
	if e.InvolvedObject.Kind != "Node" {
		return false
	}
	message := strings.ToLower(e.Message)
	return (strings.Contains(message, "nf_conntrack") && strings.Contains(message, "table full")) ||
		strings.Contains(strings.ToLower(e.Reason), "conntrack")
}

// firstSeen is when an event first occurred, as the API records it.
func firstSeen(e *corev1.Event) time.Time {
	switch {
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// TableFullReported reports nodes whose own reports say the table is full: a node condition set
// by node-problem-detector, or the kernel's message surfaced as an event.
type TableFullReported struct{}

func (TableFullReported) Meta() check.Meta {
	return check.Meta{
		ID:       "conntrack-table-full-reported",
		Title:    "Nodes report a full connection-tracking table",
		Category: check.CategoryConntrack,
		Severity: check.Critical,
		Requires: []snapshot.Kind{snapshot.KindNodes},
		Optional: []snapshot.Kind{snapshot.KindEvents, snapshot.KindPods, snapshot.KindDaemonSets},
		LiveOnly: true,
		Links:    []check.Link{fullTableLink()},
		Description: fmt.Sprintf("Reads node conditions whose type names conntrack (ConntrackFull, as node-problem-detector "+
			"rules set it) and node events carrying the kernel's \"nf_conntrack: table full, dropping packet\". Critical "+
			"when a condition is true or such an event was seen within %s, medium for older events. Not evaluated when "+
			"nothing on the cluster reports node problems beyond the kubelet.", recentReport),
		Why: "The kernel says it is dropping packets: new connections from and to pods on that node fail until entries " +
			"expire, and the failures look random.",
		Remediation: "Raise the node's nf_conntrack_max (kube-proxy's conntrack.maxPerCore and min, or the sysctl), and " +
			"find what opens so many connections on that node.",
		References: []string{referenceKubeProxy, "https://github.com/kubernetes/node-problem-detector"},
	}
}

// NotApplicable: without node-problem-detector or a similar agent, no node would say so even
// with a full table, and silence proves nothing; the agent is absent, so the check does not apply.
func (c TableFullReported) NotApplicable(s *snapshot.Snapshot) string {
	if c.reporterUnseen(s) != "" {
		return "" // it may be there: NotEvaluable says why it cannot be told
	}
	return c.noReporter(s)
}

// NotEvaluable: events or pods that could not be read may hide the reporter, and its reports.
func (c TableFullReported) NotEvaluable(s *snapshot.Snapshot) string {
	if c.noReporter(s) == "" {
		return ""
	}
	return c.reporterUnseen(s)
}

// reporterUnseen says why a node problem reporter could be there unseen: its pods or its
// events could not be read (absent is not unseen).
func (TableFullReported) reporterUnseen(s *snapshot.Snapshot) string {
	for _, k := range []snapshot.Kind{snapshot.KindEvents, snapshot.KindPods} {
		if why, unread := s.Unavailable[k]; unread && !s.Absent[k] {
			return "whether anything reports node problems cannot be told: cannot read " + string(k) + ": " + why
		}
	}
	return ""
}

// noReporter says nothing reports node problems beyond the kubelet, in what was read.
func (TableFullReported) noReporter(s *snapshot.Snapshot) string {
	for i := range s.Nodes {
		for j := range s.Nodes[i].Status.Conditions {
			if !slices.Contains(kubeletConditions(), s.Nodes[i].Status.Conditions[j].Type) {
				return ""
			}
		}
	}
	if slices.ContainsFunc(s.Events, func(e corev1.Event) bool { return isConntrackEvent(&e) }) {
		return ""
	}
	if slices.ContainsFunc(s.Pods, func(p corev1.Pod) bool { return strings.Contains(p.Name, "node-problem-detector") }) {
		return ""
	}
	return "nothing reports node problems beyond the kubelet's own conditions (no node-problem-detector conditions " +
		"or kernel events): install node-problem-detector with a rule for \"nf_conntrack: table full\""
}

func (c TableFullReported) Run(s *snapshot.Snapshot) []check.Finding {
	var reports check.Groups[string, string]
	recent := map[string]bool{}
	// began is when each current report says the table filled up: a condition's transition, or
	// the first of a recent event's occurrences.
	var began []time.Time
	for i := range s.Nodes {
		node := &s.Nodes[i]
		for j := range node.Status.Conditions {
			cond := &node.Status.Conditions[j]
			if isConntrackCondition(cond) {
				line := fmt.Sprintf("condition %s=True", cond.Type)
				if !cond.LastTransitionTime.IsZero() {
					line += " " + check.For(cond.LastTransitionTime.Time, s.CollectedAt)
				}
				reports.Add(node.Name, line+fmt.Sprintf(": %s %s", cond.Reason, cond.Message))
				recent[node.Name] = true
				began = append(began, cond.LastTransitionTime.Time)
			}
		}
	}
	for i := range s.Events {
		e := &s.Events[i]
		if !isConntrackEvent(e) {
			continue
		}
		seen := snapshot.LastSeen(e)
		age := s.CollectedAt.Sub(seen)
		times := max(e.Count, 1)
		if e.Series != nil {
			times = max(times, e.Series.Count)
		}
		when := "last " + check.Ago(seen, s.CollectedAt)
		if first := firstSeen(e); times > 1 && !first.IsZero() && first.Before(seen) {
			when = "first " + check.Ago(first, s.CollectedAt) + ", " + when
		}
		reports.Add(e.InvolvedObject.Name, fmt.Sprintf("event %s from %s, %s, %s: %s", e.Reason,
			eventSource(e), check.Plural(int(times), "time", "times"), when, strings.TrimSpace(e.Message)))
		if s.CollectedAt.IsZero() || age <= recentReport {
			recent[e.InvolvedObject.Name] = true
			began = append(began, firstSeen(e))
		}
	}
	nodes := reports.Keys()
	if len(nodes) == 0 {
		return nil
	}
	slices.Sort(nodes)
	var refs []snapshot.Ref
	var evidence []string
	anyRecent := false
	for _, name := range nodes {
		refs = append(refs, nodeRef(name))
		anyRecent = anyRecent || recent[name]
		for _, line := range reports.Get(name) {
			evidence = append(evidence, "node "+name+": "+line)
		}
	}
	f := check.New(c.Meta(), fmt.Sprintf("%s that the connection-tracking table is full and packets are dropped.",
		check.Plural(len(nodes), "node reports", "nodes report")), refs...)
	if anyRecent {
		f.Incident = true
		f.Since = check.Earliest(began...)
	} else {
		f.Severity = check.Medium
		f.Message = fmt.Sprintf("%s a full connection-tracking table more than %s ago.",
			check.Plural(len(nodes), "node reported", "nodes reported"), recentReport)
	}
	f.Scope = nodesScope(len(refs))
	f.Evidence = check.LimitEvidence(evidence)
	f.Fix = append(append([]string{"kubectl get events -A --field-selector involvedObject.kind=Node | grep -i conntrack"},
		showTableFix(nodes)...), kubeProxyFix(s)...)
	return []check.Finding{f}
}

func eventSource(e *corev1.Event) string {
	switch {
	case e.Source.Component != "":
		return e.Source.Component
	case e.ReportingController != "":
		return e.ReportingController
	}
	return "an unnamed reporter"
}
