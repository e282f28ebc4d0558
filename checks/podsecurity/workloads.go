package podsecurity

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const templateScope = "every pod template (Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, " +
	"Jobs, CronJobs) and every pod no controller in view templates"

// Baseline finds workloads whose pods the baseline Pod Security Standard refuses.
type Baseline struct{ Opts Options }

func (c Baseline) Meta() check.Meta {
	return check.Meta{
		ID:       "pod-security-baseline",
		Title:    "Workloads break the baseline Pod Security Standard",
		Category: check.CategorySecurity,
		Severity: check.High,
		Requires: templateKinds(),
		Optional: optionalKinds(),
		Absorbs:  []string{"pod-security-restricted"},
		Description: "Evaluates " + templateScope + " with the PodSecurity admission plugin's own evaluator " +
			"(k8s.io/pod-security-admission) at the baseline level, at the API server's version (the newest for " +
			"manifests): privileged containers, host namespaces, hostPath volumes, host ports, added capabilities " +
			"beyond the default set, unsafe sysctls, AppArmor, SELinux, seccomp and /proc mount overrides, Windows " +
			"HostProcess, probe and lifecycle hosts. The evidence names each control and the fields it refuses " +
			"(spec.containers[app].securityContext.privileged=true) after the API server's own warning. Workloads in " +
			fmt.Sprintf("the system namespaces (%s; see --system-namespaces) are reported together, once, at info: ",
				strings.Join(DefaultOptions().SystemNamespaces, ", ")) +
			"network plugins, storage node plugins, kube-proxy and node exporters need these privileges by design.",
		Why: "Each of these gives a container a way out to its node: a privileged container or a hostPath mount of / is " +
			"root on the node, host namespaces see its processes and network. Whoever controls the workload's image " +
			"or can exec into it controls the node and every pod on it. Where the namespace enforces the level, the " +
			"API server refuses the pods outright, and the next rollout, restart or reschedule fails.",
		Remediation: "Apply the patch, which changes only the fields named, and check that the workload still starts. " +
			"A volume of the node is replaced by a PersistentVolumeClaim to create (its UPPER_CASE name). If the " +
			"workload is a node agent that needs these privileges by design, run it in a namespace of its own and " +
			"name that namespace in --system-namespaces.",
		References: []string{referenceStandards + "#baseline", referenceAdmission},
	}
}

func (c Baseline) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	a := analyse(s)
	var findings []check.Finding
	var system []assessment
	for _, w := range a.workloads {
		if w.baseline.Allowed {
			continue
		}
		if c.Opts.isSystem(w.workload.Ref.Namespace) {
			system = append(system, w)
			continue
		}
		f := a.templateFinding(meta, w, api.LevelBaseline, w.baselineViolations, w.baseline)
		if refused, _ := a.refusal(w); refused != "" {
			f.Message += "; " + refused
		}
		findings = append(findings, f)
	}
	if len(system) > 0 {
		findings = append(findings, systemFinding(meta, system))
	}
	return findings
}

// templateFinding reports what w's template fails at level: the API server's own warning (result
// is its verdict), then each control's fields, and the patch that meets the level.
func (a *analysis) templateFinding(meta check.Meta, w assessment, level api.Level, vs []violation, result policy.AggregateCheckResult) check.Finding {
	f := check.New(meta, fmt.Sprintf("%s does not meet the %s Pod Security Standard: %s", w.workload.Ref.Describe(), level, reasons(vs)), w.workload.Ref)
	f.Evidence = check.LimitEvidence(append([]string{admissionMessage(latest(level), result.ForbiddenDetail())}, evidence(vs)...))
	f.Fix = a.fix(w, level, w.version)
	return f
}

// systemFinding reports the system namespaces' privileged components once, calmly: they are
// what runs the nodes' network, storage and proxy, and need their privileges by design.
func systemFinding(meta check.Meta, system []assessment) check.Finding {
	slices.SortFunc(system, func(a, b assessment) int { return strings.Compare(a.workload.Ref.String(), b.workload.Ref.String()) })
	var refs []snapshot.Ref
	var namespaces []string
	for _, w := range system {
		refs = append(refs, w.workload.Ref)
		if !slices.Contains(namespaces, w.workload.Ref.Namespace) {
			namespaces = append(namespaces, w.workload.Ref.Namespace)
		}
	}
	f := check.New(meta, fmt.Sprintf("%s in system namespaces (%s) %s the baseline level forbids, as network plugins, storage node "+
		"plugins, kube-proxy and node exporters do by design", check.Plural(len(system), "workload", "workloads"),
		strings.Join(namespaces, ", "), pluralWord(len(system), "uses privileges", "use privileges")), refs...)
	f.Severity = check.Info
	f.Scope = check.ScopeCluster
	f.Evidence = check.EvidenceOf(len(system), func(i int) string {
		return fmt.Sprintf("%s: %s", system[i].workload.Ref, system[i].baseline.ForbiddenDetail())
	})
	f.Remediation = "Check that each is a component you installed and keep these namespaces for such components: " +
		"anything else running there inherits the same trust. A namespace that is not a system one can be left out " +
		"of --system-namespaces to have its workloads judged one by one."
	return f
}

// Restricted finds workloads that meet baseline's controls but not restricted's hardening.
type Restricted struct{ Opts Options }

func (c Restricted) Meta() check.Meta {
	return check.Meta{
		ID:       "pod-security-restricted",
		Title:    "Workloads break the restricted Pod Security Standard",
		Category: check.CategorySecurity,
		Severity: check.Low,
		Requires: templateKinds(),
		Optional: optionalKinds(),
		Description: "Evaluates " + templateScope + " with the PodSecurity admission plugin's own evaluator at the " +
			"restricted level, and reports the controls only restricted asks for: allowPrivilegeEscalation=false, " +
			"runAsNonRoot, no runAsUser 0, capabilities dropping ALL (adding at most NET_BIND_SERVICE), a RuntimeDefault " +
			"or Localhost seccomp profile, and only configMap, secret, projected, downwardAPI, emptyDir, CSI, " +
			"persistentVolumeClaim, ephemeral and image volumes. Low; medium where the namespace's " +
			"pod-security.kubernetes.io/enforce label asks for restricted, because the API server then refuses the " +
			"workload's new pods. The system namespaces (--system-namespaces) are left out.",
		Why: "Restricted is the hardening that turns a compromised process into a contained one: without it, a bug in " +
			"the application can gain privileges through setuid binaries, run as root in the container, and use every " +
			"system call and capability a container runtime allows. Where the namespace enforces restricted, the pods " +
			"are refused, and the next rollout, restart or reschedule fails.",
		Remediation: "Apply the patch (it also fixes what baseline refuses) and check that the workload still starts: " +
			"runAsNonRoot needs an image whose user is not root, and dropping ALL capabilities needs an application " +
			"that does not change file ownership or bind ports below 1024 without NET_BIND_SERVICE.",
		References: []string{referenceStandards + "#restricted", referenceAdmission},
	}
}

func (c Restricted) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	a := analyse(s)
	var findings []check.Finding
	for _, w := range a.workloads {
		if len(w.restrictedOnly) == 0 || c.Opts.isSystem(w.workload.Ref.Namespace) {
			continue
		}
		f := a.templateFinding(meta, w, api.LevelRestricted, w.restrictedOnly, w.restricted)
		if refused, level := a.refusal(w); level == api.LevelRestricted {
			f.Message += "; " + refused
			f.Severity = check.Medium
		}
		findings = append(findings, f)
	}
	return findings
}
