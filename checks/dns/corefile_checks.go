package dns

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/coredns/corefile-migration/migration"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilversion "k8s.io/apimachinery/pkg/util/version"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const corefileReference = "https://coredns.io/manual/toc/#configuration"

func corefileKinds() []snapshot.Kind { return withKinds(snapshot.KindConfigMaps) }

// parsedCorefiles runs fn on each DNS server whose Corefile was found and parses; the checks
// of its content share it, and dns-corefile-invalid reports the rest.
func parsedCorefiles(s *snapshot.Snapshot, fn func(srv server, src *corefileSource)) {
	for _, srv := range findServers(s) {
		if src, _ := corefileOf(s, srv); src != nil && src.parsed != nil {
			fn(srv, src)
		}
	}
}

// corefileNotEvaluable adds, to why no DNS check can see, a Corefile this tool will not judge.
func corefileNotEvaluable(s *snapshot.Snapshot) string {
	if reason := notEvaluable(s); reason != "" {
		return reason
	}
	for _, srv := range findServers(s) {
		if src, _ := corefileOf(s, srv); src != nil && src.unjudgeable != "" {
			return src.unjudgeable
		}
	}
	return ""
}

func editCorefile(src *corefileSource) string {
	return fmt.Sprintf("kubectl edit configmap -n %s %s", check.Quote(src.configMap.Namespace), check.Quote(src.configMap.Name))
}

// CorefileInvalid reports a Corefile that does not parse, or that is missing.
type CorefileInvalid struct{}

func (CorefileInvalid) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-corefile-invalid",
		Title:               "The CoreDNS Corefile is missing or does not parse",
		Category:            check.CategoryDNS,
		Severity:            check.Critical,
		Requires:            corefileKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Description: "Parses the Corefile (from the ConfigMap the CoreDNS pods mount) with the Caddyfile parser " +
			"CoreDNS itself uses, and reports the parser's error and line. On a live cluster, a missing ConfigMap " +
			"or key is reported too, and so are directives that are no plugin of stock CoreDNS (which refuses to " +
			"start on them). File imports are not followed: they name files inside the pod. A Corefile over 1 MiB, " +
			"more than a ConfigMap may hold, is reported without being parsed.",
		Why: "CoreDNS exits at start on a Corefile it cannot parse. Running pods keep their last good configuration " +
			"(the reload plugin refuses the new one), but every pod that restarts or is rescheduled fails: DNS " +
			"disappears replica by replica.",
		Remediation: "Fix the Corefile at the line shown (kubectl edit configmap -n kube-system coredns); an unclosed " +
			"brace or a directive on the wrong line is the usual cause.",
		References: []string{corefileReference},
	}
}

func (c CorefileInvalid) NotEvaluable(s *snapshot.Snapshot) string { return corefileNotEvaluable(s) }

func (c CorefileInvalid) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for _, srv := range findServers(s) {
		src, missing := corefileOf(s, srv)
		var f check.Finding
		switch {
		case missing != "" && s.Source != snapshot.SourceManifests:
			f = check.New(meta, "The Corefile is missing: "+missing+".", srv.ref)
			f.Fix = []string{fmt.Sprintf("kubectl get configmaps -n %s", check.Quote(srv.ref.Namespace))}
		case src != nil && errors.As(src.err, new(*oversizeError)):
			f = check.New(meta, fmt.Sprintf("The Corefile in %s is too large: %v.", src.name(), src.err), src.configMap, srv.ref)
			f.Evidence = []string{src.err.Error()}
			f.Fix = []string{editCorefile(src)}
		case src != nil && src.err != nil:
			f = check.New(meta, fmt.Sprintf("The Corefile in %s does not parse: %v.", src.name(), src.err), src.configMap, srv.ref)
			f.Evidence = []string{src.err.Error()}
			f.Fix = []string{editCorefile(src)}
		case src != nil && len(src.parsed.unknownDirectives()) > 0:
			unknown := src.parsed.unknownDirectives()
			f = check.New(meta, fmt.Sprintf("The Corefile in %s has %s that CoreDNS does not know: it refuses to start "+
				"with it, unless this build adds such a plugin. A misplaced brace is the usual cause.",
				src.name(), check.Plural(len(unknown), "directive", "directives")), src.configMap, srv.ref)
			f.Evidence = unknown
			f.Fix = []string{editCorefile(src)}
		default:
			continue
		}
		f.Scope = check.ScopeCluster
		f.Incident = crashLooping(srv.pods) || (srv.statusKnown && srv.available < srv.desired)
		if f.Incident {
			f.Since = srv.troubleSince()
		}
		findings = append(findings, f)
	}
	return findings
}

// blockRule reports server blocks that forward or serve the cluster zone without a plugin.
type blockRule struct {
	meta   check.Meta
	plugin string
	// advice is the line to add, e.g. "cache 30".
	advice string
}

func (r blockRule) Run(s *snapshot.Snapshot) []check.Finding {
	var findings []check.Finding
	parsedCorefiles(s, func(srv server, src *corefileSource) {
		var lacking []string
		for _, b := range src.parsed.blocks {
			if (len(b.forwarders()) > 0 || b.plugin("kubernetes") != nil) && b.plugin(r.plugin) == nil {
				lacking = append(lacking, b.zones())
			}
		}
		if len(lacking) == 0 {
			return
		}
		f := check.New(r.meta, fmt.Sprintf("The Corefile in %s has no %s plugin in server block %s.%s",
			src.name(), r.plugin, strings.Join(lacking, ", "), importNote(src.parsed)), src.configMap, srv.ref)
		f.Scope = check.ScopeCluster
		f.Fix = []string{editCorefile(src) + "   # add a line: " + r.advice}
		findings = append(findings, f)
	})
	return findings
}

// NoCache reports server blocks without the cache plugin.
type NoCache struct{}

func (NoCache) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-corefile-no-cache",
		Title:               "The Corefile does not cache answers",
		Category:            check.CategoryDNS,
		Severity:            check.Medium,
		Requires:            corefileKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Description: "Reports each server block that forwards queries or serves the cluster zone (kubernetes) " +
			"without the cache plugin.",
		Why: "Without cache every query is answered anew: upstream resolvers see the cluster's full query rate " +
			"(multiplied by ndots:5 search paths), latency rises and upstream rate limits are hit.",
		Remediation: "Add `cache 30` to the server block, as in the default Corefile.",
		References:  []string{"https://coredns.io/plugins/cache/"},
	}
}

func (c NoCache) NotEvaluable(s *snapshot.Snapshot) string { return corefileNotEvaluable(s) }
func (c NoCache) Run(s *snapshot.Snapshot) []check.Finding {
	return blockRule{meta: c.Meta(), plugin: "cache", advice: "cache 30"}.Run(s)
}

// NoLoop reports forwarding server blocks without the loop plugin.
type NoLoop struct{}

func (NoLoop) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-corefile-no-loop",
		Title:               "The Corefile does not detect forwarding loops",
		Category:            check.CategoryDNS,
		Severity:            check.Medium,
		Requires:            corefileKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Description:         "Reports each server block that forwards queries or serves the cluster zone without the loop plugin.",
		Why: "If the upstream leads back to CoreDNS (a node resolver that is a loopback stub, say), queries circle " +
			"until they time out, burning CPU and memory until CoreDNS is OOMKilled. With loop, CoreDNS stops at " +
			"start with a clear message instead.",
		Remediation: "Add `loop` to the server block, as in the default Corefile.",
		References:  []string{"https://coredns.io/plugins/loop/"},
	}
}

func (c NoLoop) NotEvaluable(s *snapshot.Snapshot) string { return corefileNotEvaluable(s) }
func (c NoLoop) Run(s *snapshot.Snapshot) []check.Finding {
	return blockRule{meta: c.Meta(), plugin: "loop", advice: "loop"}.Run(s)
}

// ProbePluginMissing reports probes that point at an endpoint the Corefile does not serve.
type ProbePluginMissing struct{}

func (ProbePluginMissing) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-probe-plugin-missing",
		Title:               "CoreDNS probes point at an endpoint the Corefile does not serve",
		Category:            check.CategoryDNS,
		Severity:            check.High,
		Requires:            corefileKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Description: "Matches the liveness and readiness probes of the CoreDNS container (HTTP GET /health and /ready) " +
			"with the health plugin (default :8080) and the ready plugin (default :8181): the plugin must be in the " +
			"Corefile and listen on the probe's port, on an address the kubelet can reach.",
		Why: "Nothing answers a probe whose plugin is absent: a failing liveness probe restarts CoreDNS over and " +
			"over, and a failing readiness probe keeps every replica out of the DNS Service.",
		Remediation: "Add `health` and `ready` to the Corefile (as in the default), or point the probes at the " +
			"ports the plugins listen on.",
		References: []string{"https://coredns.io/plugins/health/", "https://coredns.io/plugins/ready/"},
	}
}

func (c ProbePluginMissing) NotEvaluable(s *snapshot.Snapshot) string { return corefileNotEvaluable(s) }

func (c ProbePluginMissing) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	parsedCorefiles(s, func(srv server, src *corefileSource) {
		container := dnsContainer(srv.template)
		if container == nil {
			return
		}
		var problems []string
		probes := []struct {
			kind  string
			probe *corev1.Probe
		}{{"liveness", container.LivenessProbe}, {"readiness", container.ReadinessProbe}}
		for _, p := range probes {
			if p.probe == nil || p.probe.HTTPGet == nil {
				continue
			}
			var pluginName, defaultAddress string
			switch p.probe.HTTPGet.Path {
			case "/health":
				pluginName, defaultAddress = "health", ":8080"
			case "/ready":
				pluginName, defaultAddress = "ready", ":8181"
			default:
				continue
			}
			port := probePort(container, p.probe.HTTPGet.Port)
			served := false
			var listening []string
			for _, b := range src.parsed.blocks {
				pl := b.plugin(pluginName)
				if pl == nil {
					continue
				}
				address := defaultAddress
				if len(pl.args) > 0 {
					address = pl.args[0]
				}
				listening = append(listening, address)
				host, portText, err := net.SplitHostPort(address)
				reachable := host == "" || !isLoopback(host)
				if err == nil && portText == strconv.Itoa(port) && reachable {
					served = true
				}
			}
			switch {
			case served:
			case len(listening) == 0:
				problems = append(problems, fmt.Sprintf("the %s probe GETs %s on port %d, but the Corefile has no %s plugin",
					p.kind, p.probe.HTTPGet.Path, port, pluginName))
			default:
				problems = append(problems, fmt.Sprintf("the %s probe GETs %s on port %d, but the %s plugin listens on %s",
					p.kind, p.probe.HTTPGet.Path, port, pluginName, strings.Join(listening, ", ")))
			}
		}
		if len(problems) == 0 {
			return
		}
		f := check.New(meta, fmt.Sprintf("%s probes CoreDNS where nothing answers: %s.", srv.ref.Describe(),
			strings.Join(problems, "; ")), src.configMap, srv.ref)
		f.Scope = check.ScopeCluster
		f.Incident = crashLooping(srv.pods) || (srv.statusKnown && srv.available < srv.desired)
		if f.Incident {
			f.Since = srv.troubleSince()
		}
		f.Evidence = problems
		f.Fix = []string{editCorefile(src) + "   # add the lines: health and ready"}
		findings = append(findings, f)
	})
	return findings
}

// probePort resolves a probe's port, which may name a container port.
func probePort(c *corev1.Container, port intstr.IntOrString) int {
	if port.Type == intstr.Int {
		return port.IntValue()
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort)
		}
	}
	return 0
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// upstreamHost is the host of a forward destination ("dns://127.0.0.1:53", "tls://1.1.1.1",
// "10.0.0.2:5353", "/etc/resolv.conf"); a file path yields "".
func upstreamHost(to string) string {
	if strings.HasPrefix(to, "/") {
		return ""
	}
	if strings.Contains(to, "://") {
		if u, err := url.Parse(to); err == nil {
			return u.Hostname()
		}
	}
	if host, _, err := net.SplitHostPort(to); err == nil {
		return host
	}
	return strings.Trim(to, "[]")
}

// ForwardLoopback reports forwarding to a loopback address.
type ForwardLoopback struct{}

func (ForwardLoopback) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-forward-loopback",
		Title:               "CoreDNS forwards to a loopback address",
		Category:            check.CategoryDNS,
		Severity:            check.High,
		Requires:            corefileKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Description: "Reports forward (or proxy) destinations that are loopback addresses (127.0.0.0/8, ::1, " +
			"localhost). Inside the CoreDNS pod, loopback is the pod itself (not so for CoreDNS on the host network, " +
			"which is not judged).",
		Why: "Queries sent to loopback come back to CoreDNS (a loop, which the loop plugin turns into a crash) or " +
			"to nothing at all: either way names outside the cluster stop resolving.",
		Remediation: "Forward to the real upstream resolvers' addresses, or to /etc/resolv.conf with the kubelet's " +
			"resolvConf pointing at a file that lists them.",
		References: []string{"https://coredns.io/plugins/forward/"},
	}
}

func (c ForwardLoopback) NotEvaluable(s *snapshot.Snapshot) string { return corefileNotEvaluable(s) }

func (c ForwardLoopback) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	parsedCorefiles(s, func(srv server, src *corefileSource) {
		if srv.template.Spec.HostNetwork {
			return // on the host network, loopback is the node's own resolver, not CoreDNS
		}
		var evidence []string
		for _, b := range src.parsed.blocks {
			for _, p := range b.forwarders() {
				for _, to := range p.upstreams() {
					if host := upstreamHost(to); host != "" && isLoopback(host) {
						evidence = append(evidence, fmt.Sprintf("line %d, server block %s: %s %s", p.line, b.zones(), p.name, strings.Join(p.args, " ")))
						break
					}
				}
			}
		}
		if len(evidence) == 0 {
			return
		}
		f := check.New(meta, fmt.Sprintf("The Corefile in %s forwards to a loopback address, which inside the pod is "+
			"CoreDNS itself.", src.name()), src.configMap, srv.ref)
		f.Scope = check.ScopeCluster
		f.Evidence = evidence
		f.Fix = []string{editCorefile(src) + "   # forward . /etc/resolv.conf, or the upstream resolvers' IPs"}
		findings = append(findings, f)
	})
	return findings
}

// RemovedPlugin reports plugins and options that the running CoreDNS version no longer
// supports, ignores, or has deprecated, from CoreDNS's own migration table.
type RemovedPlugin struct{}

func (RemovedPlugin) Meta() check.Meta {
	return check.Meta{
		ID:                  "dns-corefile-removed-plugin",
		Title:               "The Corefile uses plugins the running CoreDNS removed or deprecated",
		Category:            check.CategoryDNS,
		Severity:            check.High,
		Requires:            corefileKinds(),
		ComponentNamespaces: snapshot.ClusterDNSNamespaces(),
		Description: "Reads the CoreDNS version from the image tag and checks the Corefile against CoreDNS's " +
			"migration table (github.com/coredns/corefile-migration, the library kubeadm upgrades with): high for " +
			"a removed plugin or option (CoreDNS refuses to start), medium for an ignored one, low for a deprecated one.",
		Why: "A Corefile written for an older CoreDNS (proxy, kubernetes upstream or resyncperiod) works until the " +
			"image is upgraded; then CoreDNS exits at start, or silently drops the setting.",
		Remediation: "Replace each plugin or option as the evidence says (proxy becomes forward; drop upstream and " +
			"resyncperiod).",
		References: []string{"https://github.com/coredns/corefile-migration"},
	}
}

// NotEvaluable: without a version in the image tag there is nothing to compare the Corefile with.
func (c RemovedPlugin) NotEvaluable(s *snapshot.Snapshot) string {
	if reason := corefileNotEvaluable(s); reason != "" {
		return reason
	}
	var reason string
	parsedCorefiles(s, func(srv server, src *corefileSource) {
		if srv.coreDNSVersion() == "" {
			reason = fmt.Sprintf("the CoreDNS image of %s (%s) names no version in its tag", srv.ref.Describe(), dnsContainer(srv.template).Image)
		} else if _, _, err := serverMigrationNotices(s, srv, src); err != nil {
			reason = err.Error()
		}
	})
	return reason
}

func (c RemovedPlugin) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	parsedCorefiles(s, func(srv server, src *corefileSource) {
		running := srv.coreDNSVersion()
		notices, judgedAgainst, err := serverMigrationNotices(s, srv, src)
		if err != nil || len(notices) == 0 {
			return // NotEvaluable said why
		}
		f := check.New(meta, fmt.Sprintf("The Corefile in %s uses %s that CoreDNS %s no longer supports as written.",
			src.name(), check.Plural(len(notices), "plugin or option", "plugins or options"), running), src.configMap, srv.ref)
		f.Scope = check.ScopeCluster
		f.Severity = check.Low
		for _, n := range notices {
			f.Evidence = append(f.Evidence, noticeText(n))
			switch n.Severity {
			case migration.SevRemoved:
				f.Severity = check.High
			case migration.SevIgnored:
				if f.Severity != check.High {
					f.Severity = check.Medium
				}
			}
		}
		if judgedAgainst != running {
			f.Evidence = append(f.Evidence, fmt.Sprintf("CoreDNS %s is newer than the migration table; judged against %s", running, judgedAgainst))
		}
		f.Fix = []string{editCorefile(src)}
		findings = append(findings, f)
	})
	return findings
}

// serverMigrationNotices is migrationNotices for a server's Corefile, worked out once for
// RemovedPlugin's NotEvaluable and Run.
func serverMigrationNotices(s *snapshot.Snapshot, srv server, src *corefileSource) ([]migration.Notice, string, error) {
	result := snapshot.Derived(s, migrationKey{server: srv.ref}, func() migrationResult {
		notices, judgedAgainst, err := migrationNotices(srv.coreDNSVersion(), src)
		return migrationResult{notices: notices, judgedAgainst: judgedAgainst, err: err}
	})
	return result.notices, result.judgedAgainst, result.err
}

type migrationKey struct{ server snapshot.Ref }

type migrationResult struct {
	notices       []migration.Notice
	judgedAgainst string
	err           error
}

// withoutHostsEntries blanks the address lines inside hosts blocks before the migration table
// reads a Corefile. The table matches every option line against regular expressions it compiles
// anew for each CoreDNS version it walks: 0.3 to 0.4 ms and 300 KB of allocations a line
// (measured), so 8 seconds for the 25,000 entries a 1 MiB Corefile holds. An address is no
// option the table could judge; the hosts plugin's own options (fallthrough, ttl, reload...) stay.
// Lines are blanked rather than removed, so the table's line numbers stay true.
func withoutHostsEntries(text string) string {
	lines := strings.Split(text, "\n")
	depth := 0 // inside a hosts block: how deep in braces
	for i, line := range lines {
		fields := strings.Fields(line)
		if depth == 0 {
			if len(fields) > 0 && fields[0] == "hosts" && strings.HasSuffix(fields[len(fields)-1], "{") {
				depth = 1
			}
			continue
		}
		if len(fields) > 0 && net.ParseIP(fields[0]) != nil {
			lines[i] = ""
			continue
		}
		depth += strings.Count(line, "{") - strings.Count(line, "}")
	}
	return strings.Join(lines, "\n")
}

// migrationNotices lists, per plugin and option, the strongest status the migration table gives
// it from the oldest version it knows up to the running one (or the newest it knows). The table's
// own Corefile parser is stricter than CoreDNS's in places and has panicked on odd input; that
// is reported as an error, not as a clean Corefile.
func migrationNotices(running string, src *corefileSource) (notices []migration.Notice, judgedAgainst string, err error) {
	known := migration.ValidVersions()
	runningVersion, verr := utilversion.ParseGeneric(running)
	if verr != nil || len(known) < 2 {
		return nil, running, nil
	}
	target := ""
	for _, v := range known {
		if kv, err := utilversion.ParseGeneric(v); err == nil && !kv.GreaterThan(runningVersion) {
			target = v
		}
	}
	if target == "" || target == known[0] {
		return nil, running, nil
	}
	defer func() {
		if p := recover(); p != nil {
			notices, err = nil, fmt.Errorf("CoreDNS's migration table could not read this Corefile (%v)", p)
		}
	}()
	all, err := migration.Deprecated(known[0], target, withoutHostsEntries(src.parsed.text()))
	if err != nil {
		return nil, target, fmt.Errorf("CoreDNS's migration table could not read this Corefile: %v", err)
	}
	rank := map[string]int{migration.SevDeprecated: 1, migration.SevIgnored: 2, migration.SevRemoved: 3}
	strongest := map[string]migration.Notice{}
	var order []string
	for _, n := range all {
		if rank[n.Severity] == 0 {
			continue
		}
		key := n.Plugin + "/" + n.Option
		prev, seen := strongest[key]
		if !seen {
			order = append(order, key)
		}
		if !seen || rank[n.Severity] > rank[prev.Severity] {
			strongest[key] = n
		}
	}
	for _, key := range order {
		notices = append(notices, strongest[key])
	}
	return notices, target, nil
}

func noticeText(n migration.Notice) string {
	what := fmt.Sprintf("plugin %s", n.Plugin)
	if n.Option != "" {
		what = fmt.Sprintf("option %s of plugin %s", n.Option, n.Plugin)
	}
	text := fmt.Sprintf("%s: %s in CoreDNS %s", what, n.Severity, n.Version)
	if n.ReplacedBy != "" {
		text += fmt.Sprintf(", replaced by %s", n.ReplacedBy)
	}
	return text
}
