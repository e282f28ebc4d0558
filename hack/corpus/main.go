// Command corpus measures how the checks agree with other projects' labelled fixtures in
// ../shared/corpus (polaris, kubescape's regolibrary), case by case. `make corpus` runs it; the
// test beside it pins the disagreements that are deliberate, so a new one fails CI.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// mapping says which of our checks answer a rule of another tool; none means we deliberately
// have no such check.
type mapping struct {
	rule   string
	checks []string
	// together loads a case's files as one cluster: a policy and the pods it selects live in
	// different files.
	together bool
	// subjects compares the subjects a finding names (users, groups, service accounts), as
	// subject-centric RBAC rules report them, rather than every object.
	subjects bool
}

func polarisRules() []mapping {
	return []mapping{
		{"memoryLimitsMissing", []string{"memory-limit-missing"}, false, false},
		{"memoryRequestsMissing", []string{"memory-request-missing"}, false, false},
		{"cpuRequestsMissing", []string{"cpu-request-missing"}, false, false},
		{"cpuLimitsMissing", nil, false, false},
		{"missingNetworkPolicy", []string{"netpol-ingress-unisolated", "netpol-egress-unisolated"}, true, false},
		{"clusterrolebindingClusterAdmin", []string{"rbac-cluster-admin"}, true, false},
		{"rolebindingClusterAdminClusterRole", []string{"rbac-cluster-admin"}, true, false},
		{"rolebindingClusterAdminRole", []string{"rbac-cluster-admin"}, true, false},
		{"clusterrolePodExecAttach", []string{"rbac-pod-exec"}, true, false},
		{"clusterrolebindingPodExecAttach", []string{"rbac-pod-exec"}, true, false},
		{"rolePodExecAttach", []string{"rbac-pod-exec"}, true, false},
		{"rolebindingClusterRolePodExecAttach", []string{"rbac-pod-exec"}, true, false},
		{"rolebindingRolePodExecAttach", []string{"rbac-pod-exec"}, true, false},
		{"hostIPCSet", []string{"pod-security-baseline"}, false, false},
		{"hostNetworkSet", []string{"pod-security-baseline"}, false, false},
		{"hostPIDSet", []string{"pod-security-baseline"}, false, false},
		{"hostPathSet", []string{"pod-security-baseline"}, false, false},
		{"hostPortSet", []string{"pod-security-baseline"}, false, false},
		{"hostProcess", []string{"pod-security-baseline"}, false, false},
		{"runAsPrivileged", []string{"pod-security-baseline"}, false, false},
		{"procMount", []string{"pod-security-baseline"}, false, false},
		{"dangerousCapabilities", []string{"pod-security-baseline"}, false, false},
		{"insecureCapabilities", []string{"pod-security-restricted"}, false, false},
		{"privilegeEscalationAllowed", []string{"pod-security-restricted"}, false, false},
		{"runAsRootAllowed", []string{"pod-security-restricted"}, false, false},
		{"linuxHardening", []string{"pod-security-restricted"}, false, false},
		{"readinessProbeMissing", []string{"readiness-probe-missing"}, false, false},
		{"livenessProbeMissing", nil, false, false},
		{"missingPodDisruptionBudget", nil, false, false},
		{"deploymentMissingReplicas", nil, false, false},
	}
}

func regoRules() []mapping {
	return []mapping{
		{"resources-memory-limits", []string{"memory-limit-missing"}, false, false},
		{"resources-memory-requests", []string{"memory-request-missing"}, false, false},
		{"resources-cpu-requests", []string{"cpu-request-missing"}, false, false},
		{"resources-memory-limit-and-request", []string{"memory-limit-missing", "memory-request-missing"}, false, false},
		{"resources-cpu-limit-and-request", []string{"cpu-request-missing"}, false, false},
		{"resources-cpu-limits", nil, false, false},
		{"resource-policies", []string{"memory-limit-missing", "memory-request-missing", "cpu-request-missing"}, false, false},
		{"anonymous-access-enabled", []string{"apiserver-anonymous-binding"}, false, false},
		{"insecure-port-flag", []string{"apiserver-insecure-port"}, false, false},
		{"ensure-that-the-admission-control-plugin-AlwaysAdmit-is-not-set", []string{"apiserver-always-admit"}, false, false},
		{"ensure-that-the-admission-control-plugin-AlwaysPullImages-is-set", nil, false, false},
		{"ensure-that-the-admission-control-plugin-EventRateLimit-is-set", nil, false, false},
		{"ensure-that-the-admission-control-plugin-NamespaceLifecycle-is-set", []string{"apiserver-admission-disabled"}, false, false},
		{"ensure-that-the-admission-control-plugin-NodeRestriction-is-set", []string{"apiserver-node-restriction"}, false, false},
		{"ensure-that-the-admission-control-plugin-SecurityContextDeny-is-set-if-PodSecurityPolicy-is-not-used", nil, false, false},
		{"ensure-that-the-admission-control-plugin-ServiceAccount-is-set", []string{"apiserver-admission-disabled"}, false, false},
		{"ensure-that-the-api-server-DenyServiceExternalIPs-is-not-set", nil, false, false},
		{"ensure-that-the-api-server-DenyServiceExternalIPs-is-set", nil, false, false},
		{"ensure-that-the-api-server-anonymous-auth-argument-is-set-to-false", []string{"apiserver-anonymous-auth"}, false, false},
		{"ensure-that-the-api-server-audit-log-maxage-argument-is-set-to-30-or-as-appropriate", []string{"apiserver-audit-log-retention"}, false, false},
		{"ensure-that-the-api-server-audit-log-maxbackup-argument-is-set-to-10-or-as-appropriate", []string{"apiserver-audit-log-retention"}, false, false},
		{"ensure-that-the-api-server-audit-log-maxsize-argument-is-set-to-100-or-as-appropriate", []string{"apiserver-audit-log-retention"}, false, false},
		{"ensure-that-the-api-server-audit-log-path-argument-is-set", []string{"apiserver-audit-log"}, false, false},
		{"ensure-that-the-api-server-authorization-mode-argument-includes-Node", []string{"apiserver-authorization-node-rbac"}, false, false},
		{"ensure-that-the-api-server-authorization-mode-argument-includes-RBAC", []string{"apiserver-authorization-node-rbac"}, false, false},
		{"ensure-that-the-api-server-authorization-mode-argument-is-not-set-to-AlwaysAllow", []string{"apiserver-authorization-always-allow"}, false, false},
		{"ensure-that-the-api-server-client-ca-file-argument-is-set-as-appropriate", []string{"apiserver-client-ca"}, false, false},
		{"ensure-that-the-api-server-encryption-provider-config-argument-is-set-as-appropriate", []string{"apiserver-encryption-at-rest"}, false, false},
		{"ensure-that-the-api-server-encryption-providers-are-appropriately-configured", nil, false, false},
		{"ensure-that-the-api-server-etcd-cafile-argument-is-set-as-appropriate", []string{"apiserver-etcd-tls"}, false, false},
		{"ensure-that-the-api-server-etcd-certfile-and-etcd-keyfile-arguments-are-set-as-appropriate", []string{"apiserver-etcd-tls"}, false, false},
		{"ensure-that-the-api-server-profiling-argument-is-set-to-false", []string{"apiserver-profiling"}, false, false},
		{"ensure-that-the-api-server-request-timeout-argument-is-set-as-appropriate", []string{"apiserver-request-timeout"}, false, false},
		{"ensure-that-the-api-server-secure-port-argument-is-not-set-to-0", []string{"apiserver-secure-port-disabled"}, false, false},
		{"ensure-that-the-api-server-service-account-extend-token-expiration-is-set-to-false", []string{"apiserver-token-expiration-extended"}, false, false},
		{"ensure-that-the-api-server-service-account-key-file-argument-is-set-as-appropriate", []string{"apiserver-service-account-key"}, false, false},
		{"ensure-that-the-api-server-service-account-lookup-argument-is-set-to-true", []string{"apiserver-service-account-lookup"}, false, false},
		{"ensure-that-the-api-server-tls-cert-file-and-tls-private-key-file-arguments-are-set-as-appropriate", []string{"apiserver-serving-certificate"}, false, false},
		{"ensure-that-the-api-server-token-auth-file-parameter-is-not-set", []string{"apiserver-token-auth-file"}, false, false},
		{"ingress-and-egress-blocked", []string{"netpol-ingress-unisolated", "netpol-egress-unisolated"}, true, false},
		{"internal-networking", []string{"netpol-no-default-deny"}, true, false},
		{"ensure_network_policy_configured_in_labels", []string{"netpol-ingress-unisolated"}, true, false},
		{"dangling-networkpolicy", []string{"netpol-dangling"}, true, false},
		{"rule-list-all-cluster-admins-v1", []string{"rbac-cluster-admin"}, true, true},
		{"rule-can-bind-escalate", []string{"rbac-escalate-bind"}, true, true},
		{"rule-can-impersonate-users-groups-v1", []string{"rbac-impersonate"}, true, true},
		{"rule-can-list-get-secrets-v1", []string{"rbac-secrets-read"}, true, true},
		{"rule-can-create-pod", []string{"rbac-create-workloads"}, true, true},
		{"rule-can-create-service-account-token", []string{"rbac-token-create"}, true, true},
		{"rule-can-modify-admission-webhooks", []string{"rbac-webhook-write"}, true, true},
		{"rule-can-portforward-v1", []string{"rbac-pod-exec"}, true, true},
		{"exec-into-container-v1", []string{"rbac-pod-exec"}, true, true},
		{"rule-excessive-delete-rights-v1", []string{"rbac-delete-collection"}, true, true},
		{"rule-can-access-proxy-subresource", []string{"rbac-nodes-proxy"}, true, true},
		{"rule-can-approve-cert-signing-request", []string{"rbac-csr-approve"}, true, true},
		{"alert-any-hostpath", []string{"pod-security-baseline"}, false, false},
		{"alert-rw-hostpath", []string{"pod-security-baseline"}, false, false},
		{"container-hostPort", []string{"pod-security-baseline"}, false, false},
		{"host-ipc-privileges", []string{"pod-security-baseline"}, false, false},
		{"host-network-access", []string{"pod-security-baseline"}, false, false},
		{"host-pid-ipc-privileges", []string{"pod-security-baseline"}, false, false},
		{"host-pid-privileges", []string{"pod-security-baseline"}, false, false},
		{"insecure-capabilities", []string{"pod-security-baseline"}, false, false},
		{"rule-privileged-container", []string{"pod-security-baseline"}, false, false},
		{"set-hostprocess-true", []string{"pod-security-baseline"}, false, false},
		{"set-procmount-default", []string{"pod-security-baseline"}, false, false},
		{"set-seLinuxOptions", []string{"pod-security-baseline"}, false, false},
		{"set-sysctls-params", []string{"pod-security-baseline"}, false, false},
		{"drop-capability-netraw", []string{"pod-security-restricted"}, false, false},
		{"linux-hardening", []string{"pod-security-restricted"}, false, false},
		{"non-root-containers", []string{"pod-security-restricted"}, false, false},
		{"rule-allow-privilege-escalation", []string{"pod-security-restricted"}, false, false},
		{"set-seccomp-profile", []string{"pod-security-restricted"}, false, false},
		{"set-seccomp-profile-RuntimeDefault", []string{"pod-security-restricted"}, false, false},
		{"pod-security-admission-applied-1", []string{"namespace-pod-security-unlabelled"}, true, false},
		{"pod-security-admission-applied-2", []string{"namespace-pod-security-unlabelled"}, true, false},
		{"pod-security-admission-baseline-applied-1", []string{"namespace-pod-security-unlabelled"}, true, false},
		{"pod-security-admission-baseline-applied-2", []string{"namespace-pod-security-unlabelled"}, true, false},
		{"pod-security-admission-restricted-applied-1", nil, false, false},
		{"pod-security-admission-restricted-applied-2", nil, false, false},
		// ensure-that-the-cni-in-use-supports-network-policies is not measured: its cases are
		// kubescape's host-sensor CNIInfo documents, where alertmend reads the CNI's DaemonSet.
	}
}

// podSecurityControls says, for the rules that judge one Pod Security control, which words of the
// PodSecurity admission plugin's message name it: a pod-security finding answers such a rule only
// when its evidence does, since one finding covers every control a workload fails. Kubescape's
// privileged containers include those adding SYS_ADMIN, which the standard calls capabilities.
func podSecurityControls() map[string][]string {
	hostNetwork, hostPID, hostIPC := []string{"hostNetwork=true"}, []string{"hostPID=true"}, []string{"hostIPC=true"}
	hostPath, hostPort, privileged := []string{"hostPath volumes ("}, []string{"hostPort ("}, []string{"privileged ("}
	hostProcess, procMount := []string{"hostProcess ("}, []string{"procMount ("}
	added, dropped := []string{"non-default capabilities ("}, []string{"unrestricted capabilities ("}
	escalation, nonRoot, seccomp := []string{"allowPrivilegeEscalation != false ("}, []string{"runAsNonRoot != true ("}, []string{"seccompProfile ("}
	return map[string][]string{
		"hostIPCSet": hostIPC, "hostNetworkSet": hostNetwork, "hostPIDSet": hostPID, "hostPathSet": hostPath, "hostPortSet": hostPort,
		"hostProcess": hostProcess, "runAsPrivileged": privileged, "procMount": procMount, "dangerousCapabilities": added,
		"insecureCapabilities": dropped, "privilegeEscalationAllowed": escalation, "runAsRootAllowed": nonRoot, "linuxHardening": seccomp,
		"alert-any-hostpath": hostPath, "alert-rw-hostpath": hostPath, "container-hostPort": hostPort, "host-ipc-privileges": hostIPC,
		"host-network-access": hostNetwork, "host-pid-ipc-privileges": append(hostPID, hostIPC...), "host-pid-privileges": hostPID,
		"insecure-capabilities": added, "rule-privileged-container": append(privileged, added...), "set-hostprocess-true": hostProcess,
		"set-procmount-default": procMount, "set-seLinuxOptions": {"seLinuxOptions ("}, "set-sysctls-params": {"forbidden sysctls ("},
		"drop-capability-netraw": dropped, "linux-hardening": seccomp, "non-root-containers": nonRoot,
		"rule-allow-privilege-escalation": escalation, "set-seccomp-profile": seccomp, "set-seccomp-profile-RuntimeDefault": seccomp,
	}
}

// Verdict is one labelled case and what our checks said.
type Verdict struct {
	Case  string
	Want  []string
	Got   []string
	Agree bool
	Note  string
}

func main() {
	dir := flag.String("corpus", "../shared/corpus", "the corpus directory")
	flag.Parse()
	verdicts, err := Measure(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		os.Exit(2)
	}
	Report(os.Stdout, verdicts)
}

// Report prints each case and the agreement per source.
func Report(w io.Writer, verdicts []Verdict) {
	totals := map[string][2]int{}
	for _, v := range verdicts {
		mark := "agree"
		if !v.Agree {
			mark = "DIFFER"
		}
		fmt.Fprintf(w, "%-7s %s  want %v got %v%s\n", mark, v.Case, v.Want, v.Got, v.Note)
		source := strings.SplitN(v.Case, "/", 2)[0]
		t := totals[source]
		t[1]++
		if v.Agree {
			t[0]++
		}
		totals[source] = t
	}
	for _, source := range []string{"polaris", "regolibrary"} {
		fmt.Fprintf(w, "%s: %d of %d cases agree\n", source, totals[source][0], totals[source][1])
	}
}

// Measure runs every mapped case of the corpus.
func Measure(dir string) ([]Verdict, error) {
	catalog := map[string]check.Check{}
	for _, c := range checks.All(checks.DefaultOptions()) {
		catalog[c.Meta().ID] = c
	}
	var verdicts []Verdict
	for _, m := range polarisRules() {
		files, _ := filepath.Glob(filepath.Join(dir, "polaris", m.rule, "*.yaml"))
		sort.Strings(files)
		for _, f := range files {
			base := filepath.Base(f)
			if strings.HasPrefix(base, "mutated") {
				continue // polaris's own mutation feature
			}
			got, err := flagged(catalog, m.checks, []string{f}, false, podSecurityControls()[m.rule])
			if err != nil {
				return nil, err
			}
			// Polaris labels a file as a whole: a failure expects a finding, a success none.
			want := []string{}
			if strings.HasPrefix(base, "failure") {
				want = []string{"(any)"}
			}
			agree := (len(got) > 0) == (len(want) > 0)
			verdicts = append(verdicts, Verdict{Case: "polaris/" + m.rule + "/" + base, Want: want, Got: got, Agree: agree, Note: note(m)})
		}
	}
	for _, m := range regoRules() {
		cases, _ := filepath.Glob(filepath.Join(dir, "regolibrary", m.rule, "test", "*"))
		sort.Strings(cases)
		for _, c := range cases {
			if _, err := os.Stat(filepath.Join(c, "data.json")); err == nil {
				continue // depends on the rule's settings
			}
			want, err := regoExpected(filepath.Join(c, "expected.json"), m.subjects)
			if err != nil {
				return nil, err
			}
			input := filepath.Join(c, "input")
			if _, err := os.Stat(input); err != nil {
				input = c
			}
			// Kubescape judges each object alone; some cases hold variants of the same object in
			// several files, so each file is loaded on its own, unless the rule relates objects.
			union := map[string]bool{}
			groups := [][]string{}
			for _, file := range manifestFiles(input) {
				groups = append(groups, []string{file})
			}
			if m.together {
				groups = [][]string{manifestFiles(input)}
			}
			for _, files := range groups {
				objects, err := flagged(catalog, m.checks, files, m.subjects, podSecurityControls()[m.rule])
				if err != nil {
					return nil, err
				}
				for _, o := range objects {
					union[o] = true
				}
			}
			got := sortedSet(union)
			verdicts = append(verdicts, Verdict{Case: "regolibrary/" + m.rule + "/" + filepath.Base(c), Want: want, Got: got,
				Agree: strings.Join(want, ",") == strings.Join(got, ","), Note: note(m)})
		}
	}
	return verdicts, nil
}

func note(m mapping) string {
	if len(m.checks) == 0 {
		return "  (no such check, by design)"
	}
	return ""
}

// flagged loads files as manifests and returns the objects the given checks report, as
// "Kind/name", sorted; with control, only findings whose evidence names one of its words count.
func flagged(catalog map[string]check.Check, ids []string, files []string, subjectsOnly bool, control []string) ([]string, error) {
	if len(ids) == 0 || len(files) == 0 {
		return []string{}, nil
	}
	s, err := (&snapshot.Loader{}).LoadFiles(files)
	if errors.Is(err, snapshot.ErrNothingToCheck) {
		return []string{}, nil // a case's file of other kinds (a tool's own input format) flags nothing
	}
	if err != nil {
		return nil, err
	}
	// A case's files are the whole cluster the other tool judges, as diagnose -f --complete takes them.
	s.Complete = true
	set := map[string]bool{}
	for _, id := range ids {
		for _, f := range catalog[id].Run(s) {
			if len(control) > 0 && !slices.ContainsFunc(f.Evidence, func(line string) bool {
				return slices.ContainsFunc(control, func(word string) bool { return strings.Contains(line, word) })
			}) {
				continue
			}
			for _, o := range f.Objects {
				if subjectsOnly && o.Kind != "User" && o.Kind != "Group" && o.Kind != "ServiceAccount" {
					continue
				}
				set[o.Kind+"/"+o.Name] = true
			}
		}
	}
	return sortedSet(set), nil
}

// manifestFiles lists a case's input files, JSON and YAML alike.
func manifestFiles(dir string) []string {
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml", "*.json"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			if filepath.Base(m) != "expected.json" && filepath.Base(m) != "data.json" {
				files = append(files, m)
			}
		}
	}
	sort.Strings(files)
	return files
}

func regoExpected(path string, subjects bool) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var alerts []struct {
		AlertObject struct {
			// Subject-centric rules name the subject here.
			ExternalObjects *struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"externalObjects"`
			K8sAPIObjects []struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			} `json:"k8sApiObjects"`
		} `json:"alertObject"`
	}
	if err := json.Unmarshal(data, &alerts); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	set := map[string]bool{}
	for _, a := range alerts {
		// Kubescape's expectations often omit the namespace: objects are compared by kind and name.
		for _, o := range a.AlertObject.K8sAPIObjects {
			set[o.Kind+"/"+o.Metadata.Name] = true
		}
		if e := a.AlertObject.ExternalObjects; subjects && e != nil && (e.Kind == "User" || e.Kind == "Group" || e.Kind == "ServiceAccount") {
			set[e.Kind+"/"+e.Name] = true
		}
	}
	return sortedSet(set), nil
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
