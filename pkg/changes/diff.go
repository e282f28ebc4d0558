package changes

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// restartedAtAnnotation is what kubectl rollout restart sets on the pod template.
const restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// TemplateDiff says what differs from one pod template to the next, one short phrase each:
// images, environment variables (by name only: values may be credentials), command and args
// (that they changed: they may hold credentials too), resources, probes, volumes, and the names of
// whatever else differs. The ReplicaSet controller's pod-template-hash label is not a change.
func TemplateDiff(old, new *corev1.PodTemplateSpec) []string {
	var out []string
	if old.Annotations[restartedAtAnnotation] != new.Annotations[restartedAtAnnotation] {
		out = append(out, "restarted (kubectl rollout restart)")
	}
	if !sameMap(old.Labels, new.Labels, appsv1.DefaultDeploymentUniqueLabelKey) {
		out = append(out, "pod labels changed")
	}
	if !sameMap(old.Annotations, new.Annotations, restartedAtAnnotation) {
		out = append(out, "pod annotations changed")
	}
	single := len(old.Spec.Containers) == 1 && len(new.Spec.Containers) == 1 && old.Spec.Containers[0].Name == new.Spec.Containers[0].Name &&
		len(old.Spec.InitContainers) == 0 && len(new.Spec.InitContainers) == 0
	out = append(out, containersDiff(old.Spec.InitContainers, new.Spec.InitContainers, "init container ", false)...)
	out = append(out, containersDiff(old.Spec.Containers, new.Spec.Containers, "container ", single)...)
	out = append(out, volumesDiff(old.Spec.Volumes, new.Spec.Volumes)...)
	if other := differingFields(&old.Spec, &new.Spec, "Containers", "InitContainers", "Volumes"); len(other) > 0 {
		out = append(out, strings.Join(other, ", ")+" changed")
	}
	return out
}

// sameMap compares two maps but for one key.
func sameMap(a, b map[string]string, except string) bool {
	a, b = maps.Clone(a), maps.Clone(b)
	delete(a, except)
	delete(b, except)
	return maps.Equal(a, b)
}

// containersDiff compares containers by name. With single set, the template has one container
// and its phrases do not name it ("image app:1.4 -> app:1.5").
func containersDiff(old, new []corev1.Container, what string, single bool) []string {
	var out []string
	before := map[string]*corev1.Container{}
	for i := range old {
		before[old[i].Name] = &old[i]
	}
	after := map[string]bool{}
	for i := range new {
		c := &new[i]
		after[c.Name] = true
		o, ok := before[c.Name]
		if !ok {
			out = append(out, fmt.Sprintf("%s%s added (image %s)", what, c.Name, c.Image))
			continue
		}
		prefix := what + c.Name + ": "
		if single {
			prefix = ""
		}
		for _, d := range containerDiff(o, c) {
			out = append(out, prefix+d)
		}
	}
	for _, o := range old {
		if !after[o.Name] {
			out = append(out, fmt.Sprintf("%s%s removed", what, o.Name))
		}
	}
	return out
}

func containerDiff(old, new *corev1.Container) []string {
	var out []string
	if old.Image != new.Image {
		out = append(out, fmt.Sprintf("image %s -> %s", old.Image, new.Image))
	}
	if d := envDiff(old.Env, new.Env); d != "" {
		out = append(out, d)
	}
	if d := envFromDiff(old.EnvFrom, new.EnvFrom); d != "" {
		out = append(out, d)
	}
	if !slices.Equal(old.Command, new.Command) {
		out = append(out, "command changed")
	}
	if !slices.Equal(old.Args, new.Args) {
		out = append(out, "args changed")
	}
	out = append(out, resourcesDiff(&old.Resources, &new.Resources)...)
	for _, p := range []struct {
		name     string
		old, new *corev1.Probe
	}{
		{"liveness probe", old.LivenessProbe, new.LivenessProbe},
		{"readiness probe", old.ReadinessProbe, new.ReadinessProbe},
		{"startup probe", old.StartupProbe, new.StartupProbe},
	} {
		if d := probeDiff(p.name, p.old, p.new); d != "" {
			out = append(out, d)
		}
	}
	if other := differingFields(old, new, "Name", "Image", "Env", "EnvFrom", "Command", "Args", "Resources",
		"LivenessProbe", "ReadinessProbe", "StartupProbe"); len(other) > 0 {
		out = append(out, strings.Join(other, ", ")+" changed")
	}
	return out
}

// envDiff names the variables added, removed and changed; never their values.
func envDiff(old, new []corev1.EnvVar) string {
	before := map[string]corev1.EnvVar{}
	for _, e := range old {
		before[e.Name] = e
	}
	var added, removed, changed []string
	after := map[string]bool{}
	for _, e := range new {
		after[e.Name] = true
		o, ok := before[e.Name]
		switch {
		case !ok:
			added = append(added, e.Name)
		case !equality.Semantic.DeepEqual(o, e):
			changed = append(changed, e.Name)
		}
	}
	for _, e := range old {
		if !after[e.Name] {
			removed = append(removed, e.Name)
		}
	}
	return listDiff("env", added, removed, changed)
}

// listDiff phrases what was added, removed and changed of a list of names; "" for nothing.
func listDiff(what string, added, removed, changed []string) string {
	var parts []string
	for _, p := range []struct {
		verb  string
		names []string
	}{{"added", added}, {"removed", removed}, {"changed", changed}} {
		if len(p.names) > 0 {
			slices.Sort(p.names)
			parts = append(parts, p.verb+" "+strings.Join(slices.Compact(p.names), " "))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return what + " " + strings.Join(parts, ", ")
}

func envFromDiff(old, new []corev1.EnvFromSource) string {
	name := func(e corev1.EnvFromSource) string {
		switch {
		case e.ConfigMapRef != nil:
			return e.Prefix + "configmap/" + e.ConfigMapRef.Name
		case e.SecretRef != nil:
			return e.Prefix + "secret/" + e.SecretRef.Name
		}
		return e.Prefix
	}
	before, after := map[string]bool{}, map[string]bool{}
	for _, e := range old {
		before[name(e)] = true
	}
	var added, removed []string
	for _, e := range new {
		after[name(e)] = true
		if !before[name(e)] {
			added = append(added, name(e))
		}
	}
	for _, e := range old {
		if !after[name(e)] {
			removed = append(removed, name(e))
		}
	}
	return listDiff("envFrom", added, removed, nil)
}

// resourcesDiff gives each request and limit that changed, "none" for one not set.
func resourcesDiff(old, new *corev1.ResourceRequirements) []string {
	var out []string
	for _, r := range []struct {
		name     string
		old, new corev1.ResourceList
	}{{"requests", old.Requests, new.Requests}, {"limits", old.Limits, new.Limits}} {
		names := slices.Sorted(maps.Keys(r.old))
		for name := range r.new {
			if _, ok := r.old[name]; !ok {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			o, hadOld := r.old[name]
			n, hasNew := r.new[name]
			if hadOld && hasNew && o.Cmp(n) == 0 {
				continue
			}
			quantity := func(had bool, q interface{ String() string }) string {
				if !had {
					return "none"
				}
				return q.String()
			}
			out = append(out, fmt.Sprintf("%s.%s %s -> %s", r.name, name, quantity(hadOld, &o), quantity(hasNew, &n)))
		}
	}
	return out
}

// probeDiff says how a probe changed: added, removed, what it asks, or which of its timings.
func probeDiff(name string, old, new *corev1.Probe) string {
	switch {
	case old == nil && new == nil:
		return ""
	case old == nil:
		return name + " added (" + describeHandler(&new.ProbeHandler) + ")"
	case new == nil:
		return name + " removed"
	case !equality.Semantic.DeepEqual(old.ProbeHandler, new.ProbeHandler):
		return fmt.Sprintf("%s %s -> %s", name, describeHandler(&old.ProbeHandler), describeHandler(&new.ProbeHandler))
	}
	var timings []string
	for _, f := range []struct {
		field    string
		old, new int32
	}{
		{"initialDelaySeconds", old.InitialDelaySeconds, new.InitialDelaySeconds},
		{"timeoutSeconds", old.TimeoutSeconds, new.TimeoutSeconds},
		{"periodSeconds", old.PeriodSeconds, new.PeriodSeconds},
		{"successThreshold", old.SuccessThreshold, new.SuccessThreshold},
		{"failureThreshold", old.FailureThreshold, new.FailureThreshold},
	} {
		if f.old != f.new {
			timings = append(timings, fmt.Sprintf("%s %d -> %d", f.field, f.old, f.new))
		}
	}
	if !equality.Semantic.DeepEqual(old.TerminationGracePeriodSeconds, new.TerminationGracePeriodSeconds) {
		timings = append(timings, "terminationGracePeriodSeconds changed")
	}
	if len(timings) == 0 {
		return ""
	}
	return name + " " + strings.Join(timings, ", ")
}

// describeHandler names what a probe asks, without an exec probe's command (which may hold
// credentials).
func describeHandler(h *corev1.ProbeHandler) string {
	switch {
	case h.HTTPGet != nil:
		return fmt.Sprintf("httpGet :%s%s", h.HTTPGet.Port.String(), h.HTTPGet.Path)
	case h.TCPSocket != nil:
		return "tcpSocket :" + h.TCPSocket.Port.String()
	case h.GRPC != nil:
		return fmt.Sprintf("grpc :%d", h.GRPC.Port)
	case h.Exec != nil:
		return "exec"
	}
	return "no handler"
}

// volumesDiff compares volumes by name and source.
func volumesDiff(old, new []corev1.Volume) []string {
	before := map[string]*corev1.Volume{}
	for i := range old {
		before[old[i].Name] = &old[i]
	}
	var out []string
	after := map[string]bool{}
	for i := range new {
		v := &new[i]
		after[v.Name] = true
		o, ok := before[v.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("volume %s added (%s)", v.Name, describeVolume(v)))
		case !equality.Semantic.DeepEqual(o.VolumeSource, v.VolumeSource):
			if a, b := describeVolume(o), describeVolume(v); a != b {
				out = append(out, fmt.Sprintf("volume %s %s -> %s", v.Name, a, b))
			} else {
				out = append(out, fmt.Sprintf("volume %s changed (%s)", v.Name, b))
			}
		}
	}
	for _, o := range old {
		if !after[o.Name] {
			out = append(out, "volume "+o.Name+" removed")
		}
	}
	return out
}

// describeVolume names a volume's source and what it mounts.
func describeVolume(v *corev1.Volume) string {
	switch {
	case v.ConfigMap != nil:
		return "configmap " + v.ConfigMap.Name
	case v.Secret != nil:
		return "secret " + v.Secret.SecretName
	case v.PersistentVolumeClaim != nil:
		return "pvc " + v.PersistentVolumeClaim.ClaimName
	case v.EmptyDir != nil:
		return "emptyDir"
	case v.HostPath != nil:
		return "hostPath " + v.HostPath.Path
	case v.Projected != nil:
		return "projected"
	}
	// The name of the set field, as the API spells it.
	source := reflect.ValueOf(v.VolumeSource)
	for i := range source.NumField() {
		if !source.Field(i).IsNil() {
			return jsonName(source.Type().Field(i))
		}
	}
	return "no source"
}

// differingFields names, as the API spells them, the fields of two structs of one type that
// differ, but for those named in except (Go field names): what a diff has no phrase of its own for.
func differingFields[T any](old, new *T, except ...string) []string {
	a, b := reflect.ValueOf(old).Elem(), reflect.ValueOf(new).Elem()
	var out []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if slices.Contains(except, f.Name) {
			continue
		}
		if !equality.Semantic.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			out = append(out, jsonName(f))
		}
	}
	return out
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}
