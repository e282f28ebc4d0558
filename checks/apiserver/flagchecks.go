package apiserver

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// flagRule is one check of the API server's flags.
type flagRule struct {
	id       string
	title    string
	severity check.Severity
	// cis are the CIS Kubernetes Benchmark 1.12 recommendations the rule covers.
	cis         []string
	description string
	why         string
	remediation string
	// judge says what is wrong with the flags and the flag to set instead, or "" when nothing is.
	judge func(f Flags) (problem, set string)
	// unjudgeable, when set, says why the flags alone cannot decide (a configuration file the
	// cluster does not show), or "".
	unjudgeable func(f Flags) string
}

// FlagCheck applies one flagRule to every API server pod.
type FlagCheck struct{ rule flagRule }

func (c FlagCheck) Meta() check.Meta {
	r := c.rule
	desc := r.description
	if len(r.cis) > 0 {
		desc += " CIS Kubernetes Benchmark 1.12: " + strings.Join(r.cis, ", ") + "."
	}
	return check.Meta{
		ID:           r.id,
		Title:        r.title,
		Category:     check.CategoryAPIServer,
		Severity:     r.severity,
		Requires:     []snapshot.Kind{snapshot.KindPods},
		WholeCluster: true,
		Description:  desc + " Read from the kube-apiserver static pods in kube-system; on managed clusters, not evaluated.",
		Why:          r.why,
		Remediation:  r.remediation,
		References: []string{
			"https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/",
			"https://www.cisecurity.org/benchmark/kubernetes",
		},
	}
}

// NotApplicable says the control plane is not visible: its flags are the provider's business.
func (c FlagCheck) NotApplicable(s *snapshot.Snapshot) string {
	return notVisible(s, serverPods(s))
}

// NotEvaluable says that on every API server pod the decision lies in a file the cluster does
// not show.
func (c FlagCheck) NotEvaluable(s *snapshot.Snapshot) string {
	pods := serverPods(s)
	if c.rule.unjudgeable == nil || len(pods) == 0 {
		return ""
	}
	var reason string
	for _, p := range pods {
		if reason = c.rule.unjudgeable(p.flags); reason == "" {
			return ""
		}
	}
	return reason
}

func (c FlagCheck) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	type group struct {
		problem, set string
		pods         []snapshot.Ref
	}
	var groups []*group
	for _, p := range serverPods(s) {
		if c.rule.unjudgeable != nil && c.rule.unjudgeable(p.flags) != "" {
			continue
		}
		problem, set := c.rule.judge(p.flags)
		if problem == "" {
			continue
		}
		var g *group
		for _, existing := range groups {
			if existing.problem == problem {
				g = existing
			}
		}
		if g == nil {
			g = &group{problem: problem, set: set}
			groups = append(groups, g)
		}
		g.pods = append(g.pods, p.ref)
	}
	var findings []check.Finding
	for _, g := range groups {
		f := check.New(meta, fmt.Sprintf("%s (%s)", g.problem, check.Plural(len(g.pods), "API server pod", "API server pods")), g.pods...)
		f.Scope = check.ScopeCluster
		for _, p := range g.pods {
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s: %s", p.Describe(), g.problem))
		}
		f.Evidence = check.LimitEvidence(f.Evidence)
		f.Fix = []string{fmt.Sprintf("# on each control-plane node, in /etc/kubernetes/manifests/kube-apiserver.yaml: %s (the kubelet restarts the API server)", g.set)}
		findings = append(findings, f)
	}
	return findings
}

// strongCiphers are the suites the CIS Benchmark (1.2.29) accepts: AEAD only, forward secrecy.
func strongCiphers() map[string]bool {
	set := map[string]bool{}
	for _, c := range []string{
		"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	} {
		set[c] = true
	}
	return set
}

// maxRequestTimeout is where a --request-timeout stops being a tuning choice and becomes an
// invitation to hold connections open.
const maxRequestTimeout = 5 * time.Minute

// atLeast reads an integer flag: its value, and whether it is at least min.
func atLeast(f Flags, name string, min int) (int, bool) {
	v, ok := f.Get(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= min
}

// authorizationInFile is why the authorization flags cannot be judged alone.
func authorizationInFile(f Flags) string {
	if v, _ := f.Get("authorization-config"); v != "" {
		return "authorization is configured in --authorization-config, a file the cluster does not show"
	}
	return ""
}

// requireFlags judges flags that must all be set to a non-empty value.
func requireFlags(names ...string) func(Flags) (string, string) {
	return func(f Flags) (string, string) {
		var missing []string
		for _, n := range names {
			if v, _ := f.Get(n); v == "" {
				missing = append(missing, "--"+n)
			}
		}
		if len(missing) == 0 {
			return "", ""
		}
		return strings.Join(missing, ", ") + " not set", "set " + strings.Join(missing, ", ")
	}
}

// FlagChecks are every check of the API server's flags, in the order of the CIS Benchmark.
func FlagChecks() []check.Check {
	rules := []flagRule{
		{
			id: "apiserver-anonymous-auth", title: "The API server accepts anonymous requests", severity: check.Low, cis: []string{"1.2.1"},
			description: "Reports --anonymous-auth left at its default (true) or set to true.",
			why: "Requests without credentials are served as system:anonymous. With RBAC this reaches only what is bound to " +
				"system:anonymous or system:unauthenticated (by default, the health and version endpoints), so on its own " +
				"it is low; apiserver-anonymous-access and apiserver-anonymous-binding report what is actually exposed.",
			remediation: "Set --anonymous-auth=false if nothing (load balancer health checks included) needs anonymous access.",
			unjudgeable: func(f Flags) string {
				if _, set := f.Get("anonymous-auth"); !set {
					if v, _ := f.Get("authentication-config"); v != "" {
						return "anonymous access is configured in --authentication-config, a file the cluster does not show"
					}
				}
				return ""
			},
			judge: func(f Flags) (string, string) {
				// With AlwaysAllow the server turns anonymous authentication off itself.
				if f.Bool("anonymous-auth", true) && !f.Has("authorization-mode", "AlwaysAllow") {
					return "--anonymous-auth is not false", "set --anonymous-auth=false"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-token-auth-file", title: "The API server accepts static tokens from a file", severity: check.High, cis: []string{"1.2.2"},
			description: "Reports --token-auth-file.",
			why:         "Static tokens never expire and cannot be revoked without editing the file and restarting the API server; a leaked one is a permanent key.",
			remediation: "Move those clients to certificates, service account tokens or an OIDC provider, and remove --token-auth-file.",
			judge: func(f Flags) (string, string) {
				if v, ok := f.Get("token-auth-file"); ok && v != "" {
					return "--token-auth-file is set to " + v, "remove --token-auth-file"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-kubelet-certificate-authority", title: "The API server does not verify kubelets' certificates", severity: check.Medium, cis: []string{"1.2.5"},
			description: "Reports a missing --kubelet-certificate-authority.",
			why:         "Without it, the API server's connections to kubelets (exec, logs, port-forward) can be intercepted by anyone who can impersonate a node's address.",
			remediation: "Set --kubelet-certificate-authority to the CA that signs the kubelets' serving certificates (and enable serving certificate rotation on the kubelets).",
			judge:       requireFlags("kubelet-certificate-authority"),
		},
		{
			id: "apiserver-authorization-always-allow", title: "The API server authorizes every request", severity: check.Critical, cis: []string{"1.2.6"},
			description: "Reports --authorization-mode containing AlwaysAllow, or no authorization mode and no --authorization-config (the default is AlwaysAllow).",
			why: "Every authenticated caller may do anything: read Secrets, create privileged pods, take over the nodes. " +
				"(The server turns anonymous authentication off in this mode, so credentials of any kind are enough.)",
			remediation: "Set --authorization-mode=Node,RBAC.",
			unjudgeable: authorizationInFile,
			judge: func(f Flags) (string, string) {
				if f.Has("authorization-mode", "AlwaysAllow") {
					return "--authorization-mode includes AlwaysAllow", "set --authorization-mode=Node,RBAC"
				}
				if len(f.List("authorization-mode")) == 0 {
					return "no --authorization-mode (it defaults to AlwaysAllow)", "set --authorization-mode=Node,RBAC"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-authorization-node-rbac", title: "The API server's authorization lacks Node or RBAC", severity: check.High, cis: []string{"1.2.7", "1.2.8"},
			description: "Reports an --authorization-mode that is set but lacks Node or RBAC. A structured --authorization-config is a file the cluster does not show: then not evaluated.",
			why:         "Without RBAC, roles and bindings mean nothing; without Node, every kubelet may read every Secret and pod in the cluster, not just those of its own pods.",
			remediation: "Set --authorization-mode=Node,RBAC (with the NodeRestriction admission plugin).",
			unjudgeable: authorizationInFile,
			judge: func(f Flags) (string, string) {
				if len(f.List("authorization-mode")) == 0 {
					return "", "" // no mode is AlwaysAllow: apiserver-authorization-always-allow
				}
				var missing []string
				for _, m := range []string{"Node", "RBAC"} {
					if !f.Has("authorization-mode", m) {
						missing = append(missing, m)
					}
				}
				if len(missing) > 0 {
					return "--authorization-mode lacks " + strings.Join(missing, " and "), "set --authorization-mode=Node,RBAC"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-always-admit", title: "The deprecated AlwaysAdmit admission plugin is enabled", severity: check.Low, cis: []string{"1.2.10"},
			description: "Reports the AlwaysAdmit admission plugin in --enable-admission-plugins.",
			why: "AlwaysAdmit is deprecated and does nothing: it admits what it sees, while every other plugin still runs. It " +
				"usually means a configuration copied from long ago, worth reviewing as a whole.",
			remediation: "Remove AlwaysAdmit from --enable-admission-plugins.",
			judge: func(f Flags) (string, string) {
				if f.Has("enable-admission-plugins", "AlwaysAdmit") {
					return "--enable-admission-plugins includes AlwaysAdmit", "remove AlwaysAdmit from --enable-admission-plugins"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-admission-disabled", title: "Essential admission plugins are disabled", severity: check.Medium, cis: []string{"1.2.12", "1.2.13"},
			description: "Reports ServiceAccount or NamespaceLifecycle in --disable-admission-plugins.",
			why: "Without ServiceAccount, pods are not tied to accounts and tokens are not managed; without NamespaceLifecycle, objects " +
				"can be created in namespaces being deleted or in the system namespaces' place.",
			remediation: "Remove them from --disable-admission-plugins.",
			judge: func(f Flags) (string, string) {
				var off []string
				for _, p := range []string{"ServiceAccount", "NamespaceLifecycle"} {
					if f.Has("disable-admission-plugins", p) {
						off = append(off, p)
					}
				}
				if len(off) > 0 {
					return "--disable-admission-plugins includes " + strings.Join(off, ", "), "remove " + strings.Join(off, ", ") + " from --disable-admission-plugins"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-node-restriction", title: "The NodeRestriction admission plugin is off", severity: check.Medium, cis: []string{"1.2.14"},
			description: "Reports --enable-admission-plugins without NodeRestriction (it is not on by default).",
			why:         "Without it a compromised kubelet may label any node and change any node's or pod's status: one node becomes the whole cluster.",
			remediation: "Add NodeRestriction to --enable-admission-plugins.",
			judge: func(f Flags) (string, string) {
				if !f.Has("enable-admission-plugins", "NodeRestriction") {
					return "--enable-admission-plugins lacks NodeRestriction", "add NodeRestriction to --enable-admission-plugins"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-profiling", title: "The API server exposes profiling", severity: check.Low, cis: []string{"1.2.15"},
			description: "Reports --profiling left at its default (true) or set to true.",
			why:         "The /debug/pprof endpoints reveal the program's internals and can be used to load the server; few clusters need them in production.",
			remediation: "Set --profiling=false.",
			judge: func(f Flags) (string, string) {
				if f.Bool("profiling", true) {
					return "--profiling is not false", "set --profiling=false"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-audit-log", title: "The API server keeps no audit log", severity: check.Medium, cis: []string{"1.2.16"},
			description: "Reports a missing --audit-log-path (an audit webhook, --audit-webhook-config-file, counts as an audit trail).",
			why:         "Without an audit log, nobody can tell after an incident who read which Secret or created which pod.",
			remediation: "Set --audit-log-path and --audit-policy-file (or an audit webhook).",
			judge: func(f Flags) (string, string) {
				_, path := f.Get("audit-log-path")
				_, hook := f.Get("audit-webhook-config-file")
				if !path && !hook {
					return "no --audit-log-path and no audit webhook", "set --audit-log-path=/var/log/kubernetes/audit.log and --audit-policy-file"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-audit-log-retention", title: "The audit log is kept too briefly", severity: check.Low, cis: []string{"1.2.17", "1.2.18", "1.2.19"},
			description: "When --audit-log-path is a file, reports --audit-log-maxage below 30 days, --audit-log-maxbackup below 10 or --audit-log-maxsize below 100 MB. Unset or 0 keeps more (no deletion by age or count; 100 MB files) and is not reported.",
			why:         "An audit log rotated away within days cannot answer what happened a month ago, which is when most breaches are found.",
			remediation: "Set --audit-log-maxage=30, --audit-log-maxbackup=10 and --audit-log-maxsize=100 or more (or ship the log elsewhere).",
			judge: func(f Flags) (string, string) {
				if path, ok := f.Get("audit-log-path"); !ok || path == "-" {
					return "", ""
				}
				var short []string
				for _, limit := range []struct {
					flag string
					min  int
				}{{"audit-log-maxage", 30}, {"audit-log-maxbackup", 10}, {"audit-log-maxsize", 100}} {
					// Unset or 0 keeps more, not less: no deletion by age or count, 100 MB files.
					if n, ok := atLeast(f, limit.flag, limit.min); !ok && n > 0 {
						short = append(short, fmt.Sprintf("--%s %d (want %d or more)", limit.flag, n, limit.min))
					}
				}
				if len(short) > 0 {
					return strings.Join(short, ", "), "set --audit-log-maxage=30 --audit-log-maxbackup=10 --audit-log-maxsize=100"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-request-timeout", title: "The API server's request timeout is excessive", severity: check.Low, cis: []string{"1.2.20"},
			description: fmt.Sprintf("Reports a --request-timeout above %s (the default is 1m).", maxRequestTimeout),
			why:         "Long-held requests let a few clients exhaust the server's in-flight request limits.",
			remediation: "Leave --request-timeout at its default unless a measured need says otherwise.",
			judge: func(f Flags) (string, string) {
				v, ok := f.Get("request-timeout")
				if !ok {
					return "", ""
				}
				if d, err := time.ParseDuration(v); err == nil && d > maxRequestTimeout {
					return "--request-timeout is " + v, "set --request-timeout=1m or remove it"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-service-account-lookup", title: "The API server accepts deleted service accounts' tokens", severity: check.Medium, cis: []string{"1.2.21"},
			description: "Reports --service-account-lookup=false.",
			why:         "Tokens of deleted service accounts keep working until they expire, so deleting a compromised account does not lock it out.",
			remediation: "Set --service-account-lookup=true (the default).",
			judge: func(f Flags) (string, string) {
				if !f.Bool("service-account-lookup", true) {
					return "--service-account-lookup is false", "set --service-account-lookup=true"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-encryption-at-rest", title: "Secrets are stored unencrypted in etcd", severity: check.Medium, cis: []string{"1.2.27"},
			description: "Reports a missing --encryption-provider-config.",
			why:         "Secrets are kept in etcd in plain text: anyone with an etcd backup or disk snapshot has every password and token.",
			remediation: "Configure encryption at rest (--encryption-provider-config with a KMS, aescbc or secretbox provider) and rewrite existing Secrets.",
			judge:       requireFlags("encryption-provider-config"),
		},
		{
			id: "apiserver-weak-tls", title: "The API server accepts weak TLS", severity: check.Medium, cis: []string{"1.2.29"},
			description: "Reports --tls-min-version below VersionTLS12, and --tls-cipher-suites outside the strong list of the CIS Benchmark (AEAD with forward secrecy).",
			why:         "Old protocol versions and CBC or RSA-key-exchange suites allow downgrade and decryption attacks on the cluster's most powerful credentials.",
			remediation: "Set --tls-min-version=VersionTLS12 (or 13) and list only strong suites in --tls-cipher-suites, or leave it unset.",
			judge: func(f Flags) (string, string) {
				var weak []string
				if v, ok := f.Get("tls-min-version"); ok && (v == "VersionTLS10" || v == "VersionTLS11") {
					weak = append(weak, "--tls-min-version is "+v)
				}
				strong := strongCiphers()
				var bad []string
				for _, c := range f.List("tls-cipher-suites") {
					if !strong[c] {
						bad = append(bad, c)
					}
				}
				sort.Strings(bad)
				if len(bad) > 0 {
					weak = append(weak, "--tls-cipher-suites allows "+strings.Join(bad, ", "))
				}
				if len(weak) > 0 {
					return strings.Join(weak, "; "), "set --tls-min-version=VersionTLS12 and only strong --tls-cipher-suites"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-insecure-port", title: "The API server serves an unauthenticated port", severity: check.Critical,
			description: "Reports a non-zero --insecure-port or an --insecure-bind-address, from versions before 1.24 that still had them (no CIS number in 1.12: the flags are gone).",
			why:         "The insecure port skips authentication and authorization: whoever reaches it is cluster-admin.",
			remediation: "Remove --insecure-port and --insecure-bind-address (or set --insecure-port=0), and upgrade.",
			judge: func(f Flags) (string, string) {
				if v, ok := f.Get("insecure-port"); ok && v != "0" {
					return "--insecure-port is " + v, "set --insecure-port=0"
				}
				if v, ok := f.Get("insecure-bind-address"); ok && !f.IsSet("insecure-port") {
					// Before 1.20 the insecure port defaulted to 8080; with --insecure-port=0 nothing is served.
					return "--insecure-bind-address is " + v + " with the insecure port at its default", "remove --insecure-bind-address"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-secure-port-disabled", title: "The API server's secure port is off", severity: check.High,
			description: "Reports --secure-port=0.",
			why:         "With no TLS port the server is either unreachable or reachable only without encryption and authentication.",
			remediation: "Remove --secure-port=0 (the default is 6443).",
			judge: func(f Flags) (string, string) {
				if v, ok := f.Get("secure-port"); ok && v == "0" {
					return "--secure-port is 0", "remove --secure-port=0"
				}
				return "", ""
			},
		},
		{
			id: "apiserver-service-account-key", title: "The API server has no key to verify service account tokens", severity: check.Medium, cis: []string{"1.2.22"},
			description: "Reports a missing --service-account-key-file.",
			why: "Without its own verification keys, token verification is tied to whatever key happens to sign them, and " +
				"rotating signing keys without an overlap of verification keys breaks every running workload's token.",
			remediation: "Set --service-account-key-file to the public key(s) matching --service-account-signing-key-file.",
			judge: func(f Flags) (string, string) {
				// An external signer (--service-account-signing-endpoint) serves its own keys.
				if v, _ := f.Get("service-account-signing-endpoint"); v != "" {
					return "", ""
				}
				return requireFlags("service-account-key-file")(f)
			},
		},
		{
			id: "apiserver-etcd-tls", title: "The API server talks to etcd without TLS client authentication", severity: check.High, cis: []string{"1.2.23", "1.2.26"},
			description: "Reports a missing --etcd-certfile, --etcd-keyfile or --etcd-cafile.",
			why:         "etcd holds every Secret. Without client certificates anyone who reaches etcd can read or rewrite the cluster; without the CA the API server cannot tell a real etcd from an impostor.",
			remediation: "Set --etcd-certfile, --etcd-keyfile and --etcd-cafile, and require client certificates on etcd.",
			judge:       requireFlags("etcd-certfile", "etcd-keyfile", "etcd-cafile"),
		},
		{
			id: "apiserver-serving-certificate", title: "The API server serves a self-signed certificate", severity: check.Low, cis: []string{"1.2.24"},
			description: "Reports a missing --tls-cert-file or --tls-private-key-file (the server then generates a self-signed pair).",
			why:         "Clients cannot verify a self-signed serving certificate, so they are configured to skip verification, which invites interception.",
			remediation: "Set --tls-cert-file and --tls-private-key-file to a certificate signed by the cluster CA.",
			judge:       requireFlags("tls-cert-file", "tls-private-key-file"),
		},
		{
			id: "apiserver-client-ca", title: "The API server does not accept client certificates", severity: check.Medium, cis: []string{"1.2.25"},
			description: "Reports a missing --client-ca-file.",
			why:         "Without it, kubelets and administrators cannot authenticate with certificates, and the API server cannot verify the kubelets' client identities.",
			remediation: "Set --client-ca-file to the cluster CA.",
			judge:       requireFlags("client-ca-file"),
		},
		{
			id: "apiserver-token-expiration-extended", title: "Service account tokens live longer than they say", severity: check.Low, cis: []string{"1.2.30"},
			description: "Reports --service-account-extend-token-expiration left at its default (true) or set to true.",
			why:         "Projected tokens then stay valid for a year regardless of the expiration requested, so a stolen token stays useful long after it should have expired.",
			remediation: "Set --service-account-extend-token-expiration=false once workloads refresh their tokens (current client libraries do).",
			judge: func(f Flags) (string, string) {
				if f.Bool("service-account-extend-token-expiration", true) {
					return "--service-account-extend-token-expiration is not false", "set --service-account-extend-token-expiration=false"
				}
				return "", ""
			},
		},
	}
	out := make([]check.Check, len(rules))
	for i, r := range rules {
		out[i] = FlagCheck{rule: r}
	}
	return out
}

// Checks is every check of the family, as the catalog lists it.
func Checks() []check.Check {
	return append(FlagChecks(), AnonymousAccess{}, AnonymousBinding{}, VersionSupport{}, KubeletSkew{})
}
