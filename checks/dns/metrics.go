package dns

import (
	"fmt"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// SERVFAIL shares of all answers: from servfailMedium a real share of lookups fail, from
// servfailHigh applications are visibly broken. Below minAnswers the ratio means little.
const (
	servfailMedium = 0.01
	servfailHigh   = 0.05
	minAnswers     = 1000
)

// healthFailureThreshold is how many failed upstream health checks are worth reporting; a few
// are normal across restarts of upstream resolvers.
const healthFailureThreshold = 10

func metricsKinds() []snapshot.Kind { return withKinds(snapshot.KindDNSMetrics) }

// scrapeErrors lists the pods whose metrics could not be read.
func scrapeErrors(s *snapshot.Snapshot) []string {
	var out []string
	for _, m := range s.DNSMetrics {
		if m.Error != "" {
			out = append(out, "not read: "+m.Error)
		}
	}
	return out
}

// ServfailRatio reports a high share of SERVFAIL answers.
type ServfailRatio struct{}

func (ServfailRatio) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-servfail-ratio",
		Title:               "CoreDNS answers many queries with SERVFAIL",
		Category:            check.CategoryDNS,
		Severity:            check.Medium,
		Requires:            metricsKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		LiveOnly:            true,
		Description: fmt.Sprintf("Reads coredns_dns_responses_total by rcode from each CoreDNS pod's metrics "+
			"endpoint (:9153) through the API server's pod proxy, with a GET, and computes the SERVFAIL share since "+
			"the pods started: medium from %.0f%%, high from %.0f%%, once at least %d answers were given.",
			servfailMedium*100, servfailHigh*100, minAnswers),
		Why: "SERVFAIL means CoreDNS could not get an answer: upstream resolvers failing or unreachable, a forwarding " +
			"loop, or DNSSEC failures. Applications see failed lookups that no retry fixes.",
		Remediation: "Check the upstream resolvers (forward health in CoreDNS's metrics and logs) and the loop and " +
			"forward findings; `kubectl logs` of the CoreDNS pods with the errors plugin shows the failing names.",
		References: []string{"https://coredns.io/plugins/metrics/"},
	}
}

func (c ServfailRatio) NotEvaluable(s *snapshot.Snapshot) string { return notEvaluable(s) }

func (c ServfailRatio) Run(s *snapshot.Snapshot) []check.Finding {
	var total, servfail float64
	var evidence []string
	var pods []snapshot.Ref
	for _, m := range s.DNSMetrics {
		if m.Error != "" {
			continue
		}
		podTotal := 0.0
		for _, n := range m.Responses {
			podTotal += n
		}
		total += podTotal
		servfail += m.Responses["SERVFAIL"]
		pods = append(pods, m.Pod)
		if podTotal > 0 {
			evidence = append(evidence, fmt.Sprintf("pod %s: %.0f SERVFAIL of %.0f answers (%.1f%%)",
				m.Pod.Name, m.Responses["SERVFAIL"], podTotal, 100*m.Responses["SERVFAIL"]/podTotal))
		}
	}
	if total < minAnswers || servfail/total < servfailMedium {
		return nil
	}
	ratio := servfail / total
	f := check.New(c.Meta(), fmt.Sprintf("%.1f%% of CoreDNS's answers since its pods started were SERVFAIL "+
		"(%.0f of %.0f): lookups are failing.", 100*ratio, servfail, total), pods...)
	if ratio >= servfailHigh {
		f.Severity = check.High
	}
	f.Incident = true
	f.Scope = check.ScopeCluster
	f.Evidence = check.LimitEvidence(append(evidence, scrapeErrors(s)...))
	f.Fix = serverLogs(s, "grep -i servfail")
	return []check.Finding{f}
}

// ForwardUnhealthy reports upstream resolvers failing CoreDNS's health checks.
type ForwardUnhealthy struct{}

func (ForwardUnhealthy) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-forward-unhealthy",
		Title:               "CoreDNS's upstream resolvers fail health checks",
		Category:            check.CategoryDNS,
		Severity:            check.Medium,
		Requires:            metricsKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		LiveOnly:            true,
		Description: fmt.Sprintf("Reads the forward plugin's health-check counters from each CoreDNS pod's metrics "+
			"endpoint through the API server's pod proxy: high when every upstream was down at once "+
			"(coredns_forward_healthcheck_broken_total), medium from %d failed health checks "+
			"(coredns_forward_healthcheck_failures_total, or coredns_proxy_healthcheck_failures_total{proxy_name=\"forward\"}).",
			healthFailureThreshold),
		Why: "When upstreams fail their health checks, CoreDNS sends queries for names outside the cluster to servers " +
			"that do not answer: external lookups time out or SERVFAIL, and with every upstream down CoreDNS picks " +
			"one at random and hopes.",
		Remediation: "Check that the upstream resolvers (in the Corefile's forward line, or the nodes' resolv.conf) " +
			"are reachable from the CoreDNS pods, and replace those that are not.",
		References: []string{"https://coredns.io/plugins/forward/#metrics"},
	}
}

func (c ForwardUnhealthy) NotEvaluable(s *snapshot.Snapshot) string { return notEvaluable(s) }

func (c ForwardUnhealthy) Run(s *snapshot.Snapshot) []check.Finding {
	var failures, broken float64
	var evidence []string
	var pods []snapshot.Ref
	for _, m := range s.DNSMetrics {
		if m.Error != "" || (m.ForwardHealthcheckFailures == 0 && m.ForwardHealthcheckBroken == 0) {
			continue
		}
		failures += m.ForwardHealthcheckFailures
		broken += m.ForwardHealthcheckBroken
		pods = append(pods, m.Pod)
		evidence = append(evidence, fmt.Sprintf("pod %s: %.0f failed upstream health checks, all upstreams down %.0f times",
			m.Pod.Name, m.ForwardHealthcheckFailures, m.ForwardHealthcheckBroken))
	}
	if broken == 0 && failures < healthFailureThreshold {
		return nil
	}
	f := check.New(c.Meta(), fmt.Sprintf("CoreDNS's upstream resolvers failed %.0f health checks since its pods "+
		"started.", failures), pods...)
	if broken > 0 {
		f.Severity = check.High
		f.Message = fmt.Sprintf("Every upstream resolver of CoreDNS was down at once %.0f times since its pods started "+
			"(%.0f failed health checks): names outside the cluster did not resolve.", broken, failures)
	}
	f.Incident = true
	f.Scope = check.ScopeCluster
	f.Evidence = check.LimitEvidence(append(evidence, scrapeErrors(s)...))
	for _, srv := range findServers(s) {
		name, _ := corefileMount(srv.template)
		f.Fix = append(f.Fix, fmt.Sprintf("kubectl get configmap -n %s %s -o yaml | grep -A3 forward", check.Quote(srv.ref.Namespace), check.Quote(name)))
	}
	f.Fix = append(f.Fix, serverLogs(s, `grep -i 'unhealthy\|timeout'`)...)
	return []check.Finding{f}
}

// serverLogs are the commands that search the recent logs of each DNS server's pods with grep.
func serverLogs(s *snapshot.Snapshot, grep string) []string {
	var fixes []string
	for _, srv := range findServers(s) {
		command := fmt.Sprintf("kubectl logs -n %s -l %s", check.Quote(srv.ref.Namespace), srv.podSelector())
		if c := dnsContainer(srv.template); c != nil {
			command += " -c " + check.Quote(c.Name)
		}
		fixes = append(fixes, command+" --tail=200 | "+grep)
	}
	return fixes
}
