package podsecurity

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// evaluator is the PodSecurity admission plugin's own evaluator: all its checks together, as the
// API server runs them, for each level's verdict and message; and each check alone, to say which
// control a pod fails and to ask whether one value is allowed.
type evaluator struct {
	all      policy.Evaluator
	controls []*control
}

// control is one check of the evaluator, with what alertmend adds: the standard's name for it
// and how to find and change the fields it judges.
type control struct {
	id    policy.CheckID
	level api.Level
	alone policy.Evaluator
	about
}

func newEvaluator() *evaluator {
	checks := policy.DefaultChecks()
	all, err := policy.NewEvaluator(checks, nil)
	if err != nil {
		// The library's own checks are valid, or its tests fail.
		panic(fmt.Sprintf("pod-security-admission's checks: %v", err))
	}
	e := &evaluator{all: all}
	for _, c := range checks {
		alone, err := policy.NewEvaluator([]policy.Check{c}, nil)
		if err != nil {
			panic(fmt.Sprintf("pod-security-admission's check %s: %v", c.ID, err))
		}
		e.controls = append(e.controls, &control{id: c.ID, level: c.Level, alone: alone, about: aboutControl(c.ID)})
	}
	// The admission plugin's order: baseline checks by ID, then restricted ones, so that messages
	// list reasons as the API server's do.
	slices.SortStableFunc(e.controls, func(a, b *control) int {
		if a.level != b.level {
			return api.CompareLevels(a.level, b.level)
		}
		return strings.Compare(string(a.id), string(b.id))
	})
	return e
}

// template is what the evaluator judges: a pod's metadata and spec, or a pod template's.
type template struct {
	meta *metav1.ObjectMeta
	spec *corev1.PodSpec
}

func templateOf(annotations map[string]string, spec *corev1.PodSpec) template {
	return template{meta: &metav1.ObjectMeta{Annotations: annotations}, spec: spec}
}

func (t template) deepCopy() template {
	return template{meta: t.meta.DeepCopy(), spec: t.spec.DeepCopy()}
}

// verdict is the evaluator's answer at one level and version, as the admission plugin aggregates it.
func (e *evaluator) verdict(lv api.LevelVersion, t template) policy.AggregateCheckResult {
	return policy.AggregateCheckResults(e.all.EvaluatePod(lv, t.meta, t.spec))
}

// result is the control's answer on t at version v, at the control's own level. A control that
// does not exist at v allows everything.
func (c *control) result(v api.Version, t template) policy.CheckResult {
	for _, r := range c.alone.EvaluatePod(api.LevelVersion{Level: c.level, Version: v}, t.meta, t.spec) {
		if !r.Allowed {
			return r
		}
	}
	return policy.CheckResult{Allowed: true}
}

// violation is a control a template fails: the evaluator's reason and detail, and the fields
// that make it fail.
type violation struct {
	control *control
	result  policy.CheckResult
	fields  []field
}

// field is one setting a control refuses: a path in the pod (spec.containers[app].securityContext.privileged)
// and what it is (=true, " unset").
type field struct{ path, state string }

func (f field) String() string { return f.path + f.state }

// violations lists the controls of level that t fails at v, with the fields each refuses, in
// the admission plugin's order. For restricted, only the restricted checks: the baseline ones
// are the baseline level's.
func (e *evaluator) violations(level api.Level, v api.Version, t template) []violation {
	var out []violation
	for _, c := range e.controls {
		if c.level != level {
			continue
		}
		if r := c.result(v, t); !r.Allowed {
			out = append(out, violation{control: c, result: r, fields: c.repair(v, t.deepCopy())})
		}
	}
	return out
}

// repair changes t so that the control allows it, and returns the fields it changed.
func (c *control) repair(v api.Version, t template) []field {
	if c.fix == nil {
		return nil
	}
	return c.fix(fixer{t: t, allows: func(probe template) bool { return c.result(v, probe).Allowed }})
}

// fixed is t with every control of level (and, for restricted, of baseline first) repaired,
// and whether the evaluator then admits it. It is false only if a future evaluator refuses
// something no repair knows of; the finding then gives no patch.
func (e *evaluator) fixed(level api.Level, v api.Version, t template) (template, bool) {
	out := t.deepCopy()
	for _, c := range e.controls {
		if api.CompareLevels(c.level, level) > 0 {
			continue
		}
		if !c.result(v, out).Allowed {
			c.repair(v, out)
		}
	}
	return out, e.verdict(api.LevelVersion{Level: level, Version: v}, out).Allowed
}

// assessment is what the evaluator makes of one workload's pod template at the cluster's version.
type assessment struct {
	workload snapshot.Workload
	t        template
	version  api.Version
	// baseline is the admission plugin's verdict at baseline, and its failing controls;
	// restricted likewise at restricted, with restrictedOnly the restricted checks' failures
	// less the fields baseline already names.
	baseline, restricted policy.AggregateCheckResult
	baselineViolations   []violation
	restrictedOnly       []violation
}

func (e *evaluator) assess(w snapshot.Workload, v api.Version) assessment {
	t := templateOf(w.Annotations, w.Spec)
	a := assessment{workload: w, t: t, version: v,
		baseline:   e.verdict(api.LevelVersion{Level: api.LevelBaseline, Version: v}, t),
		restricted: e.verdict(api.LevelVersion{Level: api.LevelRestricted, Version: v}, t),
	}
	if !a.baseline.Allowed {
		a.baselineViolations = e.violations(api.LevelBaseline, v, t)
	}
	if !a.restricted.Allowed {
		a.restrictedOnly = withoutFields(e.violations(api.LevelRestricted, v, t), a.baselineViolations)
	}
	return a
}

// withoutFields drops from vs the fields already named by others (a restricted check that
// overrides a baseline one refuses what the baseline check refused, and more), and the
// violations left with none.
func withoutFields(vs, others []violation) []violation {
	named := map[field]bool{}
	for _, o := range others {
		for _, f := range o.fields {
			named[f] = true
		}
	}
	var out []violation
	for _, v := range vs {
		var kept []field
		for _, f := range v.fields {
			if !named[f] {
				kept = append(kept, f)
			}
		}
		// A violation whose fields could not be told still stands: the evaluator said so.
		if len(kept) > 0 || len(v.fields) == 0 {
			v.fields = kept
			out = append(out, v)
		}
	}
	return out
}

// reasons lists the admission plugin's short reasons of violations, as its messages do.
func reasons(vs []violation) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.result.ForbiddenReason
	}
	return strings.Join(out, ", ")
}

// evidence is one line per violation: the standard's control, and the fields it refuses, or the
// evaluator's detail where no field could be told.
func evidence(vs []violation) []string {
	lines := make([]string, 0, len(vs))
	for _, v := range vs {
		what := v.result.ForbiddenDetail
		if len(v.fields) > 0 {
			parts := make([]string, len(v.fields))
			for i, f := range v.fields {
				parts[i] = f.String()
			}
			what = strings.Join(parts, ", ")
		}
		lines = append(lines, fmt.Sprintf("%s (%s): %s", v.control.name, v.control.level, what))
	}
	return lines
}

// clusterVersion is the policy version "latest" means on this cluster: the API server's minor
// version where it is known (an older server's admission plugin knows only its own checks),
// else the newest the evaluator knows.
func clusterVersion(s *snapshot.Snapshot) api.Version {
	major, rest, ok := strings.Cut(strings.TrimPrefix(s.ServerVersion, "v"), ".")
	if !ok || major != "1" {
		return api.LatestVersion()
	}
	digits := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		digits = rest[:i]
	}
	minor, err := strconv.Atoi(digits)
	if err != nil {
		return api.LatestVersion()
	}
	return api.MajorMinorVersion(1, minor)
}

// resolve makes "latest" the cluster's version, as the cluster's own admission plugin reads it.
func resolve(v, cluster api.Version) api.Version {
	if v.Latest() {
		return cluster
	}
	return v
}
