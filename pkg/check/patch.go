package check

import (
	"encoding/json"
	"fmt"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// TemplatePatch is the fix that applies body, a strategic merge patch of a workload's pod
// template (metadata and spec), to the object that owns the template, as a kubectl patch that
// reads the patch (YAML, keys sorted) from a quoted here-document; note is a comment for it, if
// any. Templates that cannot change in place (a Job's, a pod's) are patched in their manifest.
func TemplatePatch(w snapshot.Workload, body map[string]any, note string) string {
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
		return heredoc("kubectl patch "+InNamespace(ref)+" "+fromStdin, comment(""), inTemplate)
	case "CronJob":
		return heredoc("kubectl patch "+InNamespace(ref)+" "+fromStdin, comment(""),
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
	return Comment(text)
}

// PatchYAML writes a patch as YAML (keys sorted), which kubectl patch reads as it reads JSON.
func PatchYAML(v any) string {
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
		command += "   " + Comment(comment)
	}
	return command + "\n" + PatchYAML(patch) + "\nEOF"
}

// compactJSON is v on one line.
func compactJSON(v any) string {
	out, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(out)
}
