// Package podsecurity judges pod templates and live pods against the Pod Security Standards with
// the Kubernetes project's own evaluator (k8s.io/pod-security-admission, the PodSecurity
// admission plugin's checks, versions and messages), and namespaces by the level they enforce.
package podsecurity

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const (
	referenceStandards = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
	referenceAdmission = "https://kubernetes.io/docs/concepts/security/pod-security-admission/"
	referenceMigrate   = "https://kubernetes.io/docs/tasks/configure-pod-container/enforce-standards-namespace-labels/"
)

// Options say which namespaces hold the cluster's own components.
type Options struct {
	// SystemNamespaces run components that need privileges by design (network plugins, storage
	// node plugins, kube-proxy, node exporters): their baseline violations are reported once,
	// together, at info, and their namespaces are asked for no enforce label.
	SystemNamespaces []string
}

// DefaultOptions takes the namespaces Kubernetes itself creates as the system ones.
func DefaultOptions() Options {
	return Options{SystemNamespaces: []string{"kube-system", "kube-public", "kube-node-lease"}}
}

func (o Options) isSystem(ns string) bool { return slices.Contains(o.SystemNamespaces, ns) }

// Checks is every check of the family, configured by opts, as the catalog lists it.
func Checks(opts Options) []check.Check {
	return []check.Check{Baseline{opts}, Restricted{opts}, NamespaceUnlabelled{opts}, EnforceDrift{}}
}

// templateKinds are what the template checks read; namespaces (their enforce labels) and the
// server's version sharpen the verdict.
func templateKinds() []snapshot.Kind { return snapshot.WorkloadKinds() }

func optionalKinds() []snapshot.Kind {
	return append(snapshot.LegacyWorkloadKinds(), snapshot.KindNamespaces, snapshot.KindServerVersion)
}

// analysis is what every check of the family reads: each workload's assessment at the cluster's
// version, and the namespaces' policies. It is built once per snapshot.
type analysis struct {
	// manifests says the objects are to be applied, not running.
	manifests  bool
	e          *evaluator
	cluster    api.Version
	workloads  []assessment
	byRef      map[snapshot.Ref]int
	namespaces map[string]*corev1.Namespace
}

type analysisKey struct{}

func analyse(s *snapshot.Snapshot) *analysis {
	return snapshot.Derived(s, analysisKey{}, func() *analysis {
		a := &analysis{manifests: s.Source == snapshot.SourceManifests, e: newEvaluator(), cluster: clusterVersion(s), byRef: map[snapshot.Ref]int{}, namespaces: map[string]*corev1.Namespace{}}
		for _, w := range s.Workloads() {
			a.byRef[w.Ref] = len(a.workloads)
			a.workloads = append(a.workloads, a.e.assess(w, a.cluster))
		}
		for i := range s.Namespaces {
			a.namespaces[s.Namespaces[i].Name] = &s.Namespaces[i]
		}
		return a
	})
}

// nsPolicy is a namespace's Pod Security labels as the admission plugin reads them.
type nsPolicy struct {
	// labelled says the enforce label is set, whatever its value.
	labelled bool
	policy   api.Policy
	// invalid describes labels the plugin cannot parse (it then enforces restricted).
	invalid string
}

func (a *analysis) policy(namespace string) nsPolicy {
	ns, ok := a.namespaces[namespace]
	privileged := api.LevelVersion{Level: api.LevelPrivileged, Version: api.LatestVersion()}
	defaults := api.Policy{Enforce: privileged, Audit: privileged, Warn: privileged}
	if !ok {
		return nsPolicy{policy: defaults}
	}
	p, errs := api.PolicyToEvaluate(ns.Labels, defaults)
	_, labelled := ns.Labels[api.EnforceLevelLabel]
	out := nsPolicy{labelled: labelled, policy: p}
	if len(errs) > 0 {
		out.invalid = errs.ToAggregate().Error()
	}
	return out
}

// enforced is the level the namespace enforces, at the version its cluster runs for "latest";
// ok is false for privileged, which refuses nothing.
func (a *analysis) enforced(namespace string) (label, judged api.LevelVersion, ok bool) {
	p := a.policy(namespace).policy.Enforce
	if p.Level == api.LevelPrivileged {
		return p, p, false
	}
	return p, api.LevelVersion{Level: p.Level, Version: resolve(p.Version, a.cluster)}, true
}

// refusal says, for a template its namespace's enforce level refuses, what the API server does
// about it ("" when it admits it), and the level enforced.
func (a *analysis) refusal(w assessment) (string, api.Level) {
	label, judged, ok := a.enforced(w.workload.Ref.Namespace)
	if !ok || a.e.verdict(judged, w.t).Allowed {
		return "", ""
	}
	what := "the API server refuses its new pods, so the next rollout, restart or reschedule fails"
	switch {
	case a.manifests && w.workload.Ref.Kind == "Pod":
		what = "the API server refuses to create this pod"
	case a.manifests:
		what = "the API server refuses its pods, so it never runs"
	case w.workload.Ref.Kind == "Pod":
		what = "the API server will refuse this pod once it is deleted or evicted"
	}
	return fmt.Sprintf("namespace %s enforces %s: %s", w.workload.Ref.Namespace, label, what), label.Level
}

// admissionMessage is the warning the API server gives for t at lv, in its words.
func admissionMessage(lv api.LevelVersion, result string) string {
	return fmt.Sprintf("would violate PodSecurity %q: %s", lv.String(), result)
}

// latest is how the admission plugin names the version a level is judged at by default.
func latest(level api.Level) api.LevelVersion {
	return api.LevelVersion{Level: level, Version: api.LatestVersion()}
}

// fix is the patch that makes w's template meet level at version v, as one command for the
// object that owns it; none when no repair makes the evaluator admit it.
func (a *analysis) fix(w assessment, level api.Level, v api.Version) []string {
	fixed, ok := a.e.fixed(level, v, w.t)
	if !ok {
		return []string{}
	}
	if w.workload.Ref.Kind == "Pod" {
		// A pod is created again to change it, and the API server creates none with ephemeral
		// (debugging) containers.
		fixed.spec.EphemeralContainers = nil
	}
	body, err := templatePatch(w.t, fixed)
	if err != nil || len(body) == 0 {
		return []string{}
	}
	return []string{check.TemplatePatch(w.workload, body, fixNote(level, w.t, fixed))}
}

// levelViolations lists what t fails at level: the baseline controls, and for restricted the
// restricted controls' failures that baseline does not already name.
func (e *evaluator) levelViolations(level api.Level, v api.Version, t template) []violation {
	vs := e.violations(api.LevelBaseline, v, t)
	if level == api.LevelRestricted {
		vs = append(vs, withoutFields(e.violations(api.LevelRestricted, v, t), vs)...)
	}
	return vs
}

// hasLevel tells whether any violation is of the given level.
func hasLevel(vs []violation, level api.Level) bool {
	return slices.ContainsFunc(vs, func(v violation) bool { return v.control.level == level })
}
