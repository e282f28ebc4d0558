package podsecurity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/pod-security-admission/api"
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
