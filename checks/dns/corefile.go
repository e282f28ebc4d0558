package dns

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/coredns/caddy/caddyfile"
	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// corefileSource is the Corefile a DNS server reads, as found in its ConfigMap.
type corefileSource struct {
	configMap snapshot.Ref
	key       string
	// parsed is nil when the text does not parse; err then holds the parser's message, which
	// names the line. It is nil too when the tool will not judge the Corefile: unjudgeable says why.
	parsed      *corefile
	err         error
	unjudgeable string
}

// name is how findings refer to the Corefile: "configmap kube-system/coredns, key Corefile".
func (c *corefileSource) name() string {
	return fmt.Sprintf("%s, key %s", c.configMap.Describe(), c.key)
}

// corefileOf finds the Corefile of a CoreDNS server: the ConfigMap its pods mount (the key the
// mount selects, else "Corefile"), or the ConfigMap named coredns when no mount says. It returns
// nil for a server that is not CoreDNS; missing explains a Corefile that should be there and is not.
// The family's checks share one parse per server; they must not modify what it returns.
func corefileOf(s *snapshot.Snapshot, srv server) (source *corefileSource, missing string) {
	found := snapshot.Derived(s, corefileKey{server: srv.ref}, func() foundCorefile {
		source, missing := readCorefile(s, srv)
		return foundCorefile{source: source, missing: missing}
	})
	return found.source, found.missing
}

type corefileKey struct{ server snapshot.Ref }

type foundCorefile struct {
	source  *corefileSource
	missing string
}

func readCorefile(s *snapshot.Snapshot, srv server) (source *corefileSource, missing string) {
	if !srv.isCoreDNS() {
		return nil, ""
	}
	name, key := corefileMount(srv.template)
	ref := snapshot.RefTo(snapshot.KindConfigMaps, srv.ref.Namespace, name)
	var cm *corev1.ConfigMap
	for i := range s.ConfigMaps {
		if s.ConfigMaps[i].Namespace == ref.Namespace && s.ConfigMaps[i].Name == name {
			cm = &s.ConfigMaps[i]
		}
	}
	if cm == nil {
		return nil, fmt.Sprintf("%s, which %s reads its Corefile from, does not exist", ref.Describe(), srv.ref.Describe())
	}
	text, ok := cm.Data[key]
	if !ok {
		return nil, fmt.Sprintf("%s has no key %s, which %s reads as its Corefile", ref.Describe(), key, srv.ref.Describe())
	}
	source = &corefileSource{configMap: ref, key: key}
	source.parsed, source.err = parseCorefile(text, fmt.Sprintf("%s/%s:%s", ref.Namespace, name, key))
	var unjudgeable *unjudgeableError
	if errors.As(source.err, &unjudgeable) {
		source.unjudgeable, source.err = unjudgeable.reason, nil
	}
	return source, ""
}

// corefileMount is the ConfigMap volume holding the Corefile and the key mounted as it.
func corefileMount(template *corev1.PodTemplateSpec) (name, key string) {
	name, key = "coredns", "Corefile"
	for _, v := range template.Spec.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		for _, item := range v.ConfigMap.Items {
			if item.Path == "Corefile" {
				return v.ConfigMap.Name, item.Key
			}
		}
		if len(v.ConfigMap.Items) == 0 && !strings.Contains(v.Name, "custom") {
			name = v.ConfigMap.Name
		}
	}
	return name, key
}

// corefile is a parsed Corefile: its server blocks and the file imports that were not followed.
type corefile struct {
	// cleaned is the text that was parsed: the Corefile without its file imports.
	cleaned string
	blocks  []serverBlock
	// imports are `import <file>` lines: they name files inside the pod (mounted from other
	// ConfigMaps, or absent), which the tool neither sees nor reads from the local disk.
	imports []string
}

type serverBlock struct {
	keys    []string
	plugins []plugin
}

type plugin struct {
	name    string
	args    []string
	options [][]string
	line    int
}

func (c *corefile) text() string { return c.cleaned }

func (c *corefile) has(name string) bool {
	return slices.ContainsFunc(c.blocks, func(b serverBlock) bool { return b.plugin(name) != nil })
}

func (b serverBlock) plugin(name string) *plugin {
	for i := range b.plugins {
		if b.plugins[i].name == name {
			return &b.plugins[i]
		}
	}
	return nil
}

func (b serverBlock) zones() string { return strings.Join(b.keys, " ") }

// forwarders are the plugins that send queries upstream: forward, and proxy before CoreDNS 1.5.
func (b serverBlock) forwarders() []plugin {
	var out []plugin
	for _, p := range b.plugins {
		if p.name == "forward" || p.name == "proxy" {
			out = append(out, p)
		}
	}
	return out
}

// upstreams are a forwarder's destinations: its arguments after the zone.
func (p plugin) upstreams() []string {
	if len(p.args) < 2 {
		return nil
	}
	return p.args[1:]
}

// stockPlugins are the directives of CoreDNS's own plugins (plugin.cfg of recent releases), with
// those since removed, which dns-corefile-removed-plugin judges. CoreDNS refuses to start on any
// other directive unless it was built with an external plugin of that name.
func stockPlugins() []string {
	return []string{"acl", "any", "auto", "autopath", "azure", "bind", "bufsize", "cache", "cancel", "chaos",
		"clouddns", "debug", "dns64", "dnssec", "dnstap", "erratic", "errors", "etcd", "federation", "file",
		"forward", "geoip", "grpc", "grpc_server", "header", "health", "hosts", "https", "https3", "k8s_external",
		"kubernetes", "loadbalance", "local", "log", "loop", "metadata", "minimal", "multisocket", "nomad", "nsid",
		"on", "pprof", "prometheus", "proxy", "quic", "ready", "reload", "reverse", "rewrite", "root", "route53",
		"secondary", "sign", "template", "timeouts", "tls", "trace", "transfer", "tsig", "view", "whoami"}
}

// unknownDirectives lists the directives that are no stock plugin, with their lines.
func (c *corefile) unknownDirectives() []string {
	var out []string
	for _, b := range c.blocks {
		for _, p := range b.plugins {
			if !slices.Contains(stockPlugins(), p.name) {
				out = append(out, fmt.Sprintf("line %d: unknown directive %q in server block %s", p.line, p.name, b.zones()))
			}
		}
	}
	return out
}

var snippetName = regexp.MustCompile(`^\(.+\)$`)

// unjudgeableError is a Corefile this tool will not parse, though CoreDNS may well accept it:
// the checks of its content are then not evaluated, rather than failed or passed.
type unjudgeableError struct{ reason string }

func (e *unjudgeableError) Error() string { return e.reason }

// maxCorefileSize is the most a Corefile can hold: the API server refuses a ConfigMap whose data
// adds up to more than 1 MiB (ConfigMap validation uses the Secret limit). A larger one is only
// found in manifests, which cannot be applied; it is not parsed, as parsing costs about 100
// bytes of memory per byte of Corefile.
const maxCorefileSize = corev1.MaxSecretSize

// oversizeError is a Corefile larger than any ConfigMap may hold.
type oversizeError struct{ size int }

func (e *oversizeError) Error() string {
	return fmt.Sprintf("%.1f MiB, more than the %d MiB the API server accepts in a ConfigMap, so it cannot be applied "+
		"and CoreDNS never reads it", float64(e.size)/(1<<20), maxCorefileSize>>20)
}

// parseCorefile parses a Corefile with the Caddyfile parser CoreDNS itself uses. File imports
// are taken out first (their lines blanked, so line numbers stay true): the parser would
// otherwise read files of that name from this machine's disk.
func parseCorefile(text, filename string) (*corefile, error) {
	if len(text) > maxCorefileSize {
		return nil, &oversizeError{size: len(text)}
	}
	if strings.Contains(text, "{$") || strings.Contains(text, "{%") {
		// The parser would fill these in from this machine's environment (leaking it into the
		// report); CoreDNS fills them in from its pod's, which the API does not show.
		return nil, &unjudgeableError{fmt.Sprintf("the Corefile in %s uses environment variables ({$NAME}), "+
			"which CoreDNS fills in from its pod's environment", filename)}
	}
	cleaned, imports := withoutFileImports(text, filename)
	if strayImport(cleaned, filename) {
		// Whatever the shape of what remains, it must not reach the parser's file reading.
		return nil, &unjudgeableError{fmt.Sprintf("the Corefile in %s has an import this tool cannot tell apart "+
			"from a file import (one that is not alone on its line)", filename)}
	}
	blocks, err := caddyfile.Parse(filename, strings.NewReader(cleaned), nil)
	if err != nil {
		return nil, err
	}
	cf := &corefile{cleaned: cleaned, imports: imports}
	for _, block := range blocks {
		sb := serverBlock{keys: block.Keys}
		for name, tokens := range block.Tokens {
			d := caddyfile.NewDispenserTokens(filename, tokens)
			for d.Next() {
				if d.Val() != name {
					continue
				}
				p := plugin{name: name, line: d.Line(), args: d.RemainingArgs()}
				for d.NextBlock() {
					p.options = append(p.options, append([]string{d.Val()}, d.RemainingArgs()...))
				}
				sb.plugins = append(sb.plugins, p)
			}
		}
		// Tokens come from a map; snippets can give two plugins one line: order fully.
		slices.SortFunc(sb.plugins, func(a, b plugin) int {
			return cmp.Or(a.line-b.line, strings.Compare(a.name, b.name),
				strings.Compare(strings.Join(a.args, " "), strings.Join(b.args, " ")))
		})
		cf.blocks = append(cf.blocks, sb)
	}
	if len(cf.blocks) == 0 {
		return nil, fmt.Errorf("%s: no server block: CoreDNS would serve nothing", filename)
	}
	return cf, nil
}

// withoutFileImports blanks each line that imports a file rather than a snippet defined in the
// Corefile, and returns what those lines imported.
func withoutFileImports(text, filename string) (string, []string) {
	tokens, snippets := lex(text, filename)
	lines := strings.Split(text, "\n")
	var imports []string
	for i, t := range tokens {
		firstOnLine := i == 0 || tokens[i-1].line != t.line
		if t.text != "import" || !firstOnLine || i+1 >= len(tokens) || tokens[i+1].line != t.line {
			continue
		}
		if target := tokens[i+1].text; !snippets[target] && t.line <= len(lines) {
			imports = append(imports, target)
			lines[t.line-1] = ""
		}
	}
	return strings.Join(lines, "\n"), imports
}

// strayImport reports an "import" token anywhere that is not followed by a snippet's name.
func strayImport(text, filename string) bool {
	tokens, snippets := lex(text, filename)
	for i, t := range tokens {
		if t.text == "import" && (i+1 >= len(tokens) || !snippets[tokens[i+1].text]) {
			return true
		}
	}
	return false
}

type token struct {
	text string
	line int
}

// lex splits a Corefile into the Caddyfile lexer's tokens and names the snippets it defines.
func lex(text, filename string) ([]token, map[string]bool) {
	var tokens []token
	snippets := map[string]bool{}
	d := caddyfile.NewDispenser(filename, strings.NewReader(text))
	for d.Next() {
		tokens = append(tokens, token{d.Val(), d.Line()})
		if snippetName.MatchString(d.Val()) {
			snippets[strings.Trim(d.Val(), "()")] = true
		}
	}
	return tokens, snippets
}

// importNote tells, when a Corefile imports files, that they may hold what a check misses.
func importNote(cf *corefile) string {
	if len(cf.imports) == 0 {
		return ""
	}
	return fmt.Sprintf(" The Corefile also imports %s, which the API does not show; check that they do not add it.",
		strings.Join(cf.imports, ", "))
}

// ConfigMapKeys names the ConfigMap data this family reads: each CoreDNS server's Corefile. A
// snapshot recorded for sharing keeps only such keys.
func ConfigMapKeys(s *snapshot.Snapshot) []snapshot.ConfigMapKey {
	var keys []snapshot.ConfigMapKey
	for _, srv := range findServers(s) {
		if srv.isCoreDNS() {
			name, key := corefileMount(srv.template)
			keys = append(keys, snapshot.ConfigMapKey{Namespace: srv.ref.Namespace, Name: name, Key: key})
		}
	}
	return keys
}
