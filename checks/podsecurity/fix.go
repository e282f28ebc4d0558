package podsecurity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/pod-security-admission/api"

	yamlv2 "go.yaml.in/yaml/v2"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// templatePatch is the strategic merge patch (kubectl patch's default) that turns the pod
// template t into fixed: containers are matched by name, so it names only what changes.
func templatePatch(t, fixed template) (map[string]any, error) {
	original, err := json.Marshal(corev1.PodTemplateSpec{ObjectMeta: *t.meta, Spec: *t.spec})
	if err != nil {
		return nil, err
	}
	modified, err := json.Marshal(corev1.PodTemplateSpec{ObjectMeta: *fixed.meta, Spec: *fixed.spec})
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(original, modified, corev1.PodTemplateSpec{})
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return nil, err
	}
	return plain(body).(map[string]any), nil
}

// plain drops the directives CreateTwoWayMergePatch adds that change nothing here and would
// make every fix long ($setElementOrder lists restate the order of containers the patch does not
// reorder; $retainKeys on a volume restates the null that removes its old source), and makes
// numbers integers where they are, so that YAML writes them as numbers.
func plain(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if strings.HasPrefix(k, "$setElementOrder/") || k == "$retainKeys" {
				delete(v, k)
				continue
			}
			v[k] = plain(child)
		}
	case []any:
		for i, child := range v {
			v[i] = plain(child)
		}
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

// patchYAML writes a patch as YAML (keys sorted), which kubectl patch reads as it reads JSON.
func patchYAML(v any) string {
	out, err := yamlv2.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

// heredoc is a command that reads the patch from its standard input, with comment after it (if
// any), the patch, and the end of the here-document: quoted, so the shell expands nothing in it.
func heredoc(command, comment string, patch any) string {
	if comment != "" {
		// Names from the cluster in a comment must not start a line of their own.
		command += "   " + check.Comment(comment)
	}
	return command + "\n" + patchYAML(patch) + "\nEOF"
}

// patchCommand is the fix that applies body, a patch of the pod template, to the object that
// owns the template; note is a comment for it, if any.
func patchCommand(w snapshot.Workload, body map[string]any, note string) string {
	ref := w.Ref
	comment := func(more string) string {
		var parts []string
		for _, p := range []string{more, note} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		return strings.Join(parts, "; ")
	}
	const fromStdin = "--patch-file=/dev/stdin <<'EOF'"
	inTemplate := map[string]any{"spec": map[string]any{"template": body}}
	switch ref.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController":
		return heredoc("kubectl patch "+check.InNamespace(ref)+" "+fromStdin, comment(""), inTemplate)
	case "CronJob":
		return heredoc("kubectl patch "+check.InNamespace(ref)+" "+fromStdin, comment(""),
			map[string]any{"spec": map[string]any{"jobTemplate": inTemplate}})
	case "Job":
		return heredoc("kubectl patch --local -f JOB_MANIFEST -o yaml "+fromStdin, comment(fmt.Sprintf(
			"a Job's pod template cannot change: patch the manifest of job %s/%s (JOB_MANIFEST), then delete the Job and create it again",
			ref.Namespace, ref.Name)), inTemplate)
	case "Pod":
		where := fmt.Sprintf("a pod cannot change in place: patch its manifest (POD_MANIFEST, from kubectl get -n %s pod/%s -o yaml), "+
			"then delete the pod and create it again (kubectl replace --force -f)", ref.Namespace, ref.Name)
		if _, mirror := w.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
			where = fmt.Sprintf("static pod %s/%s: patch its manifest (POD_MANIFEST), a file in the kubelet's manifest directory on its node",
				ref.Namespace, ref.Name)
		}
		return heredoc("kubectl patch --local -f POD_MANIFEST -o yaml "+fromStdin, comment(where), body)
	}
	text := fmt.Sprintf("the pod template of %s needs this change (a strategic merge patch of the template): %s", ref.Describe(), compactJSON(body))
	if note := comment(""); note != "" {
		text += "; " + note
	}
	return check.Comment(text)
}

// compactJSON is v on one line.
func compactJSON(v any) string {
	out, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(out)
}

// fixNote says which level a patch meets, and what it asks of the workload beyond the fields it
// sets: claims to create, and an image that runs as a user other than root.
func fixNote(level api.Level, t, fixed template) string {
	notes := []string{"meets " + string(level)}
	for i, vol := range fixed.spec.Volumes {
		if claim := vol.PersistentVolumeClaim; claim != nil && claim.ClaimName == claimPlaceholder(vol.Name) &&
			(t.spec.Volumes[i].PersistentVolumeClaim == nil || t.spec.Volumes[i].PersistentVolumeClaim.ClaimName != claim.ClaimName) {
			notes = append(notes, fmt.Sprintf("%s: a PersistentVolumeClaim for what volume %s held", claim.ClaimName, vol.Name))
		}
	}
	before, after := t.spec.SecurityContext, fixed.spec.SecurityContext
	if after != nil && isTrue(after.RunAsNonRoot) && (before == nil || !isTrue(before.RunAsNonRoot)) {
		notes = append(notes, "the image must run as a user other than root (its USER, or runAsUser), or the kubelet will not start it")
	}
	return strings.Join(notes, "; ")
}
