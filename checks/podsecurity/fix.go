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

// lineWidth is what a fix's line may take: 80 columns less the indentation of a fix block in
// the terminal report.
const lineWidth = 72

// shellLine joins words into a command, continued on a further line (a backslash, then four
// spaces) where it would grow past lineWidth, so that it pastes whole however it is shown.
func shellLine(words ...string) string {
	var b strings.Builder
	width := 0
	for i, word := range words {
		if i > 0 && width+1+len(word) > lineWidth-2 {
			b.WriteString(" \\\n    ")
			width = 4
		} else if i > 0 {
			b.WriteString(" ")
			width++
		}
		b.WriteString(word)
		width += len(word)
	}
	return b.String()
}

// heredoc is comment (as a comment line, if any), a command that reads the patch from its
// standard input, the patch, and the end of the here-document: quoted, so the shell expands
// nothing in it.
func heredoc(comment, command string, patch any) string {
	var lines []string
	if comment != "" {
		lines = append(lines, "# "+comment)
	}
	return strings.Join(append(lines, command, patchYAML(patch), "EOF"), "\n")
}

// patchCommand is the fix that applies body, a patch of the pod template, to the object that
// owns the template, as one block of shell; note is a comment for it, if any.
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
	// Each word is what must stay on one line: a flag and its value, a pipe and its command.
	fromStdin := []string{"--patch-file /dev/stdin", "<<'EOF'"}
	inTemplate := map[string]any{"spec": map[string]any{"template": body}}
	local := func(file string) []string {
		return append([]string{"kubectl patch --local", "-f " + file, "-o yaml"}, fromStdin...)
	}
	switch ref.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController":
		return heredoc(comment(""), shellLine(append([]string{"kubectl patch", "-n " + ref.Namespace, ref.KubectlTarget()}, fromStdin...)...), inTemplate)
	case "CronJob":
		return heredoc(comment(""), shellLine(append([]string{"kubectl patch", "-n " + ref.Namespace, ref.KubectlTarget()}, fromStdin...)...),
			map[string]any{"spec": map[string]any{"jobTemplate": inTemplate}})
	case "Job":
		return heredoc(comment(fmt.Sprintf("a Job's pod template cannot change: patch the manifest of job %s/%s (JOB_MANIFEST), "+
			"then delete the Job and create it again", ref.Namespace, ref.Name)), shellLine(local("JOB_MANIFEST")...), inTemplate)
	case "Pod":
		if _, mirror := w.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
			return heredoc(comment(fmt.Sprintf("static pod %s/%s: patch its manifest (STATIC_POD_MANIFEST) in the kubelet's manifest "+
				"directory on its node", ref.Namespace, ref.Name)), shellLine(local("STATIC_POD_MANIFEST")...), body)
		}
		file := fmt.Sprintf("pod-%s.yaml", ref.Name)
		get := shellLine("kubectl get", "-n "+ref.Namespace, "pod/"+ref.Name, "-o yaml", "> "+file)
		patch := shellLine(append(local(file), "| kubectl replace --force -f -")...)
		return heredoc(comment("a pod cannot change in place: this deletes it and creates it again, patched"), get+"\n"+patch, body)
	}
	lines := []string{fmt.Sprintf("# the pod template of %s needs this change (a strategic merge patch of the template)", ref.Describe())}
	if note := comment(""); note != "" {
		lines[0] += "; " + note
	}
	for _, line := range strings.Split(patchYAML(body), "\n") {
		lines = append(lines, "#   "+line)
	}
	return strings.Join(lines, "\n")
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
