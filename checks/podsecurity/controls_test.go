package podsecurity

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const violatesAnnotation = "fixture.alertmend.io/violates"

// versions the agreement is held at: the oldest, where each check changed, and the newest.
func versions() []api.Version {
	var out []api.Version
	for _, minor := range []int{0, 18, 19, 22, 23, 25, 27, 29, 31, 32, 34, 35} {
		out = append(out, api.MajorMinorVersion(1, minor))
	}
	return append(out, api.LatestVersion())
}

// controlsPods are the pods of testdata/controls.yaml, each with the checks it fails at latest.
func controlsPods(t *testing.T) (*snapshot.Snapshot, []corev1.Pod) {
	s := fixture.Load(t, "controls.yaml")
	if len(s.Pods) < 40 {
		t.Fatalf("controls.yaml holds %d pods", len(s.Pods))
	}
	return s, s.Pods
}

func expectedViolations(pod *corev1.Pod) []string {
	if v := pod.Annotations[violatesAnnotation]; v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// Every check of the evaluator has a pod that violates it, and every pod fails exactly the
// checks its annotation names: the fixture covers every control, in both forms.
func TestControlsFixtureCoversEveryCheck(t *testing.T) {
	_, pods := controlsPods(t)
	e := newEvaluator()
	violated := map[policy.CheckID]bool{}
	for i := range pods {
		pod := &pods[i]
		var got []string
		for _, c := range e.controls {
			if !c.result(api.LatestVersion(), template{meta: &pod.ObjectMeta, spec: &pod.Spec}).Allowed {
				got = append(got, string(c.id))
				violated[c.id] = true
			}
		}
		want := expectedViolations(pod)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("pod %s fails %q, its annotation says %q", pod.Name, got, want)
		}
	}
	for _, c := range policy.DefaultChecks() {
		if !violated[c.ID] {
			t.Errorf("no pod of controls.yaml violates %s", c.ID)
		}
		if aboutControl(c.ID).fix == nil {
			t.Errorf("check %s has no repair: its findings would carry no field paths and no patch", c.ID)
		}
	}
}

// overridden lists the baseline checks restricted's checks replace at v, as the evaluator's
// registry computes them.
func overridden(v api.Version) map[policy.CheckID]bool {
	out := map[policy.CheckID]bool{}
	for _, c := range policy.DefaultChecks() {
		var active *policy.VersionedCheck
		for i := range c.Versions {
			if !v.Older(c.Versions[i].MinimumVersion) {
				active = &c.Versions[i]
			}
		}
		if active != nil {
			for _, id := range active.OverrideCheckIDs {
				out[id] = true
			}
		}
	}
	return out
}

// The controls, asked one by one, give exactly the evaluator's verdict and message at each level
// and version: attributing a failure to a control never adds, drops or rewords a reason.
func TestControlsAgreeWithTheEvaluator(t *testing.T) {
	_, pods := controlsPods(t)
	e := newEvaluator()
	for _, v := range versions() {
		skip := overridden(v)
		for i := range pods {
			tmpl := template{meta: &pods[i].ObjectMeta, spec: &pods[i].Spec}
			for _, level := range []api.Level{api.LevelBaseline, api.LevelRestricted} {
				var parts []policy.CheckResult
				for _, c := range e.controls {
					if c.level == api.LevelBaseline && level == api.LevelRestricted && skip[c.id] {
						continue
					}
					if api.CompareLevels(c.level, level) <= 0 {
						parts = append(parts, c.result(v, tmpl))
					}
				}
				whole := e.verdict(api.LevelVersion{Level: level, Version: v}, tmpl)
				if byControl := policy.AggregateCheckResults(parts); whole.ForbiddenDetail() != byControl.ForbiddenDetail() || whole.Allowed != byControl.Allowed {
					t.Errorf("%s at %s:%s: the evaluator says %q, the controls %q", pods[i].Name, level, v, whole.ForbiddenDetail(), byControl.ForbiddenDetail())
				}
			}
		}
	}
}

// Each control a pod fails names at least one field, and its repair makes the control allow the
// pod; repairing every control of a level makes the evaluator admit the pod at that level, and
// so does the patch built from the repair, applied as kubectl would apply it. At every version.
func TestRepairsSatisfyTheEvaluator(t *testing.T) {
	_, pods := controlsPods(t)
	e := newEvaluator()
	for _, v := range versions() {
		for i := range pods {
			pod := &pods[i]
			tmpl := template{meta: &pod.ObjectMeta, spec: &pod.Spec}
			for _, c := range e.controls {
				if c.result(v, tmpl).Allowed {
					continue
				}
				repaired := tmpl.deepCopy()
				if fields := c.repair(v, repaired); len(fields) == 0 {
					t.Errorf("%s at %s: %s fails but no field is named", pod.Name, v, c.id)
				}
				if r := c.result(v, repaired); !r.Allowed {
					t.Errorf("%s at %s: %s still fails after its repair: %s", pod.Name, v, c.id, r.ForbiddenDetail)
				}
			}
			for _, level := range []api.Level{api.LevelBaseline, api.LevelRestricted} {
				lv := api.LevelVersion{Level: level, Version: v}
				fixed, ok := e.fixed(level, v, tmpl)
				if !ok {
					still := e.verdict(lv, fixed)
					t.Errorf("%s at %s: the repaired pod is still refused: %s", pod.Name, lv, still.ForbiddenDetail())
					continue
				}
				if still := e.verdict(lv, applyPatch(t, tmpl, fixed)); !still.Allowed {
					t.Errorf("%s at %s: the patched pod is refused: %s", pod.Name, lv, still.ForbiddenDetail())
				}
			}
		}
	}
}

// applyPatch applies the strategic merge patch from t to fixed onto t, as the API server applies
// kubectl patch's.
func applyPatch(t *testing.T, original, fixed template) template {
	t.Helper()
	body, err := templatePatch(original, fixed)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(corev1.PodTemplateSpec{ObjectMeta: *original.meta, Spec: *original.spec})
	if err != nil {
		t.Fatal(err)
	}
	out, err := strategicpatch.StrategicMergePatch(doc, patch, corev1.PodTemplateSpec{})
	if err != nil {
		t.Fatalf("patch %s: %v", patch, err)
	}
	var patched corev1.PodTemplateSpec
	if err := json.Unmarshal(out, &patched); err != nil {
		t.Fatal(err)
	}
	return template{meta: &patched.ObjectMeta, spec: &patched.Spec}
}

// applyPrintedPatch reads the patch of a fix's here-document (YAML, as kubectl patch reads it)
// and applies it to object as a strategic merge patch of its type.
func applyPrintedPatch(t *testing.T, fix string, object, into any) {
	t.Helper()
	lines := strings.Split(fix, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "<<'EOF'") })
	for start >= 0 && strings.HasSuffix(lines[start], "\\") {
		start++ // the command goes on; the document begins after it
	}
	end := slices.Index(lines, "EOF")
	if start < 0 || end < start {
		t.Fatalf("no here-document in %q", fix)
	}
	body := strings.Join(lines[start+1:end], "\n")
	patch, err := sigsyaml.YAMLToJSON([]byte(body))
	if err != nil {
		t.Fatalf("patch %q: %v", body, err)
	}
	doc, err := json.Marshal(object)
	if err != nil {
		t.Fatal(err)
	}
	out, err := strategicpatch.StrategicMergePatch(doc, patch, into)
	if err != nil {
		t.Fatalf("patch %s onto %s: %v", patch, doc, err)
	}
	if err := json.Unmarshal(out, into); err != nil {
		t.Fatal(err)
	}
}

// The findings agree with the evaluator pod by pod: a pod is reported by pod-security-baseline
// exactly when the evaluator refuses it at baseline, by pod-security-restricted exactly when a
// restricted check refuses something baseline does not already name, and each finding's
// evidence names the controls the evaluator names, in its order, after its own message.
func TestFindingsAgreeWithTheEvaluator(t *testing.T) {
	s, pods := controlsPods(t)
	e := newEvaluator()
	opts := DefaultOptions()
	for _, c := range []struct {
		level api.Level
		check check.Check
	}{{api.LevelBaseline, Baseline{opts}}, {api.LevelRestricted, Restricted{opts}}} {
		byPod := map[string]check.Finding{}
		for _, f := range c.check.Run(s) {
			byPod[f.Objects[0].Name] = f
		}
		for i := range pods {
			pod := &pods[i]
			tmpl := template{meta: &pod.ObjectMeta, spec: &pod.Spec}
			var want []violation
			if c.level == api.LevelBaseline {
				want = e.violations(api.LevelBaseline, api.LatestVersion(), tmpl)
			} else {
				want = withoutFields(e.violations(api.LevelRestricted, api.LatestVersion(), tmpl), e.violations(api.LevelBaseline, api.LatestVersion(), tmpl))
			}
			f, reported := byPod[pod.Name]
			if reported != (len(want) > 0) {
				t.Errorf("%s: reported at %s: %v, but the evaluator's failing controls are %d", pod.Name, c.level, reported, len(want))
				continue
			}
			if !reported {
				continue
			}
			lv := latest(c.level)
			if whole := e.verdict(lv, tmpl); f.Evidence[0] != admissionMessage(lv, whole.ForbiddenDetail()) {
				t.Errorf("%s: first evidence %q is not the API server's warning", pod.Name, f.Evidence[0])
			}
			for j, v := range want {
				if line := f.Evidence[1+j]; !strings.HasPrefix(line, v.control.name+" ("+string(v.control.level)+"): ") {
					t.Errorf("%s: evidence %q does not name %s", pod.Name, line, v.control.name)
				}
			}
			if len(f.Fix) != 1 || !strings.HasPrefix(f.Fix[0], "kubectl patch --local -f POD_MANIFEST -o yaml --patch-file=/dev/stdin <<'EOF'   "+
				"# a pod cannot change in place: patch its manifest (POD_MANIFEST, from kubectl get -n controls pod/"+pod.Name+" -o yaml)") {
				t.Errorf("%s: fix %q", pod.Name, f.Fix)
				continue
			}
			// The patch as printed, applied to the pod as kubectl applies it, gives a pod the
			// evaluator admits at the level.
			var patched corev1.Pod
			applyPrintedPatch(t, f.Fix[0], pod, &patched)
			if still := e.verdict(lv, template{meta: &patched.ObjectMeta, spec: &patched.Spec}); !still.Allowed {
				t.Errorf("%s: the printed patch leaves it refused at %s: %s", pod.Name, lv, still.ForbiddenDetail())
			}
		}
	}
}
