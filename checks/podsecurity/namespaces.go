package podsecurity

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// NamespaceUnlabelled finds namespaces that run workloads and enforce no Pod Security level.
type NamespaceUnlabelled struct{ Opts Options }

func (c NamespaceUnlabelled) Meta() check.Meta {
	return check.Meta{
		ID:       "namespace-pod-security-unlabelled",
		Title:    "Namespaces enforce no Pod Security level",
		Category: check.CategorySecurity,
		Severity: check.Medium,
		Requires: append(templateKinds(), snapshot.KindNamespaces),
		Optional: optionalKinds(),
		Description: "Lists the namespaces, other than the system namespaces (--system-namespaces), that run workloads " +
			"and have no pod-security.kubernetes.io/enforce label, or enforce=privileged. The evidence says which level " +
			"their workloads meet today, and the fix labels the namespace with the strictest level they all meet (after " +
			"a server-side dry run, which lists every pod the level would refuse), or with warn and audit first where " +
			"some do not meet baseline. With -f, only the Namespace objects in the input are judged. A cluster-wide " +
			"default set in the API server's admission configuration is not visible to alertmend.",
		Why: "Without an enforced level, nothing stops a pod from being privileged, sharing the node's namespaces or " +
			"mounting its disk: anyone who may create a pod or a Deployment in the namespace may take over the node.",
		Remediation: "Label the namespace with the level its workloads meet (restricted where they can, else baseline). " +
			"Where some do not meet baseline yet, label warn and audit first: the API server then warns about every " +
			"violating pod without refusing it, until the workloads are fixed and enforce can follow.",
		References: []string{referenceAdmission, referenceMigrate},
	}
}

func (c NamespaceUnlabelled) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	a := analyse(s)
	var byNamespace check.Groups[string, assessment]
	for _, w := range a.workloads {
		byNamespace.Add(w.workload.Ref.Namespace, w)
	}
	var findings []check.Finding
	for i := range s.Namespaces {
		ns := &s.Namespaces[i]
		workloads := byNamespace.Get(ns.Name)
		if len(workloads) == 0 || c.Opts.isSystem(ns.Name) {
			continue
		}
		p := a.policy(ns.Name)
		if p.policy.Enforce.Level != api.LevelPrivileged {
			continue
		}
		how := "has no " + api.EnforceLevelLabel + " label"
		if p.labelled {
			how = "is labelled " + api.EnforceLevelLabel + "=privileged"
		}
		f := check.New(meta, fmt.Sprintf("namespace %s runs %s and %s: nothing stops a privileged pod there", ns.Name,
			check.Plural(len(workloads), "workload", "workloads"), how), snapshot.RefTo(snapshot.KindNamespaces, "", ns.Name))
		f.Scope = check.ScopeNamespace
		f.Evidence, f.Fix = namespaceAdvice(ns, p, workloads)
		findings = append(findings, f)
	}
	return findings
}

// namespaceAdvice says which level the namespace's workloads meet and how to enforce the
// strictest of them.
func namespaceAdvice(ns *corev1.Namespace, p nsPolicy, workloads []assessment) (evidence, fix []string) {
	var notBaseline, notRestricted []assessment
	for _, w := range workloads {
		if !w.baseline.Allowed {
			notBaseline = append(notBaseline, w)
		}
		if !w.restricted.Allowed {
			notRestricted = append(notRestricted, w)
		}
	}
	meets := func(level api.Level, failing []assessment, why func(assessment) string) string {
		if len(failing) == 0 {
			return fmt.Sprintf("%s: all %s meet it", level, check.Plural(len(workloads), "workload", "workloads"))
		}
		names := make([]string, 0, min(len(failing), 3))
		for _, w := range failing[:min(len(failing), 3)] {
			names = append(names, fmt.Sprintf("%s (%s)", w.workload.Ref.Describe(), why(w)))
		}
		if len(failing) > 3 {
			names = append(names, fmt.Sprintf("%d more", len(failing)-3))
		}
		return fmt.Sprintf("%s: %d of %d workloads meet it; not %s", level, len(workloads)-len(failing), len(workloads), strings.Join(names, ", "))
	}
	evidence = []string{
		meets(api.LevelBaseline, notBaseline, func(w assessment) string { return reasons(w.baselineViolations) }),
		meets(api.LevelRestricted, notRestricted, func(w assessment) string {
			return reasons(append(slices.Clip(w.baselineViolations), w.restrictedOnly...))
		}),
	}
	var others []string
	for _, key := range []string{api.WarnLevelLabel, api.AuditLevelLabel} {
		if v, ok := ns.Labels[key]; ok {
			others = append(others, key+"="+v)
		}
	}
	if len(others) > 0 {
		evidence = append(evidence, "labelled "+strings.Join(others, ", ")+": these report violations but refuse nothing")
	}
	if p.invalid != "" {
		evidence = append(evidence, "invalid labels: "+p.invalid)
	}
	label := func(labels ...string) string {
		return fmt.Sprintf("kubectl label --overwrite namespace %s %s", check.Quote(ns.Name), strings.Join(labels, " "))
	}
	dryRun := func(labels ...string) string {
		return fmt.Sprintf("kubectl label --dry-run=server --overwrite namespace %s %s   # the API server warns about every pod the level would refuse",
			check.Quote(ns.Name), strings.Join(labels, " "))
	}
	enforce := func(level api.Level) string { return api.EnforceLevelLabel + "=" + string(level) }
	switch {
	case len(notRestricted) == 0:
		fix = []string{dryRun(enforce(api.LevelRestricted)), label(enforce(api.LevelRestricted))}
	case len(notBaseline) == 0:
		toward := []string{api.WarnLevelLabel + "=restricted", api.AuditLevelLabel + "=restricted"}
		fix = []string{dryRun(enforce(api.LevelBaseline)), label(append([]string{enforce(api.LevelBaseline)}, toward...)...)}
	default:
		fix = []string{label(api.WarnLevelLabel+"=baseline", api.AuditLevelLabel+"=baseline") +
			"   # warns about each violating pod without refusing it; enforce baseline once the workloads above are fixed"}
	}
	return evidence, fix
}

// EnforceDrift finds live pods that their namespace's enforce level would refuse now.
type EnforceDrift struct{}

func (EnforceDrift) Meta() check.Meta {
	return check.Meta{
		ID:       "pod-security-enforce-drift",
		Title:    "Running pods break their namespace's enforced Pod Security level",
		Category: check.CategorySecurity,
		Severity: check.Medium,
		Requires: []snapshot.Kind{snapshot.KindPods, snapshot.KindNamespaces},
		// The workloads' templates, for the patch; the ReplicaSets and Jobs also name the pods' owners.
		Optional: append(slices.DeleteFunc(snapshot.WorkloadKinds(), func(k snapshot.Kind) bool { return k == snapshot.KindPods }),
			append(snapshot.LegacyWorkloadKinds(), snapshot.KindServerVersion)...),
		LiveOnly: true,
		Absorbs:  []string{"pod-security-baseline", "pod-security-restricted"},
		Description: "Evaluates every live pod in a namespace labelled pod-security.kubernetes.io/enforce with the " +
			"PodSecurity admission plugin's own evaluator, at the level and version the labels give (latest being the " +
			"API server's version), and reports the pods it would refuse, by the workload that owns them: they were " +
			"admitted before the label was set or raised, or by an exemption in the API server's admission " +
			"configuration, which alertmend cannot see. High when they break baseline, else medium.",
		Why: "The pods run only because they already exist: once one is deleted, evicted, rescheduled or rolled, the API " +
			"server refuses its replacement and the workload loses that replica for good.",
		Remediation: "Fix the workload's pod template so that it meets the enforced level (the patch) and roll it out; " +
			"where the template already meets it, restart the workload so that its pods are created again from it.",
		References: []string{referenceAdmission, referenceMigrate},
	}
}

func (c EnforceDrift) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	a := analyse(s)
	type refused struct {
		pod    *corev1.Pod
		result string
	}
	var byOwner check.Groups[snapshot.Ref, refused]
	for i := range s.Pods {
		pod := &s.Pods[i]
		if !snapshot.IsLive(pod) {
			continue
		}
		_, judged, ok := a.enforced(pod.Namespace)
		if !ok {
			continue
		}
		if r := a.e.verdict(judged, template{meta: &pod.ObjectMeta, spec: &pod.Spec}); !r.Allowed {
			byOwner.Add(s.TopOwner(pod), refused{pod, r.ForbiddenDetail()})
		}
	}
	var findings []check.Finding
	for _, owner := range byOwner.Keys() {
		pods := byOwner.Get(owner)
		label, judged, _ := a.enforced(owner.Namespace)
		first := pods[0].pod
		vs := a.e.levelViolations(judged.Level, judged.Version, template{meta: &first.ObjectMeta, spec: &first.Spec})
		what := fmt.Sprintf("%s of %s", check.Plural(len(pods), "running pod", "running pods"), owner.Describe())
		if owner.Kind == "Pod" {
			what = owner.Describe()
		}
		f := check.New(meta, fmt.Sprintf("%s would be refused by namespace %s's enforce level %s: admitted before the level was set or "+
			"raised, %s", what, owner.Namespace, label, pluralWord(len(pods), "it cannot be created again once it is deleted or evicted",
			"they cannot be created again once deleted, evicted or rolled")), owner)
		if hasLevel(vs, api.LevelBaseline) {
			f.Severity = check.High
		}
		f.Evidence = check.LimitEvidence(append(evidence(vs), check.EvidenceOf(len(pods), func(i int) string {
			return fmt.Sprintf("pod %s: violates PodSecurity %q: %s", pods[i].pod.Name, label.String(), pods[i].result)
		})...))
		f.Fix = a.driftFix(owner, judged, pods[0].pod)
		findings = append(findings, f)
	}
	return findings
}

// driftFix is the patch of the owner's template for the enforced level, or, where the template
// already meets it, what creates the pods again from it.
func (a *analysis) driftFix(owner snapshot.Ref, judged api.LevelVersion, pod *corev1.Pod) []string {
	i, ok := a.byRef[owner]
	if !ok {
		return []string{}
	}
	w := a.workloads[i]
	if !a.e.verdict(judged, w.t).Allowed {
		return a.fix(w, judged.Level, judged.Version)
	}
	switch owner.Kind {
	case "Deployment", "StatefulSet", "DaemonSet":
		return []string{fmt.Sprintf("kubectl rollout restart %s   # its template meets the level: new pods are admitted", check.InNamespace(owner))}
	}
	return []string{fmt.Sprintf("kubectl delete %s   # its owner's template meets the level: the pod it creates instead is admitted",
		check.InNamespace(snapshot.RefTo(snapshot.KindPods, pod.Namespace, pod.Name)))}
}
