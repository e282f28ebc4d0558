package hygiene

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// refusedNote ends the message of a finding about a spec the API server's validation refuses:
// such an object exists only in a manifest, never in a cluster.
const refusedNote = "the API server refuses it, so applying the manifest fails"

// SelectorRefused finds controllers whose selector is missing, empty, or does not select their
// own template: the API server's validation refuses each.
type SelectorRefused struct{}

func (SelectorRefused) Meta() check.Meta {
	return check.Meta{
		ID:       "controller-selector-invalid",
		Title:    "Controllers have a selector the API server refuses",
		Category: check.CategoryReliability,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindDeployments, snapshot.KindStatefulSets, snapshot.KindDaemonSets, snapshot.KindReplicaSets},
		Optional: optionalKinds(),
		Description: "Judges Deployments, StatefulSets, DaemonSets, ReplicaSets and ReplicationControllers as the API server's " +
			"validation does (k8s.io/kubernetes pkg/apis/apps/validation and core/validation): apps/v1 requires " +
			"spec.selector, refuses an empty one, and refuses a selector that does not match the template's labels; a " +
			"ReplicationController's selector defaults to its template's labels, and is refused when it is set and does " +
			"not match them, or when both are empty. The evidence quotes the API server's error. Only manifests can hold " +
			"such an object: the API server never stores one.",
		Why: "kubectl apply fails on the object, so nothing of it runs, and in a pipeline that applies many files the " +
			"rest may be half applied. Once applied, a controller's selector cannot change, so getting it right before " +
			"the first apply matters.",
		Remediation: "Set spec.selector.matchLabels to labels the pod template carries (the fix names them), and keep the " +
			"selector to the few labels that identify the workload: it is immutable once created.",
		References: []string{referenceLabels, "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#selector"},
	}
}

func (c SelectorRefused) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	report := func(ref snapshot.Ref, template *corev1.PodTemplateSpec, problem, fix string) {
		f := check.New(meta, fmt.Sprintf("%s: %s; %s", ref.Describe(), problem, refusedNote), ref)
		f.Evidence = []string{fmt.Sprintf("template labels: %s", describeMap(template.Labels))}
		f.Fix = []string{check.Comment(location(s, ref) + fix)}
		findings = append(findings, f)
	}
	apps := func(k snapshot.Kind, meta *metav1.ObjectMeta, selector *metav1.LabelSelector, template *corev1.PodTemplateSpec) {
		ref := snapshot.RefTo(k, meta.Namespace, meta.Name)
		kind := strings.ToLower(ref.Kind)
		switch sel, err := metav1.LabelSelectorAsSelector(selector); {
		case selector == nil:
			report(ref, template, "spec.selector: Required value", selectorFix(ref, template.Labels))
		case len(selector.MatchLabels)+len(selector.MatchExpressions) == 0:
			report(ref, template, fmt.Sprintf("spec.selector: Invalid value: empty selector is invalid for %s", kind), selectorFix(ref, template.Labels))
		case err != nil:
			report(ref, template, "spec.selector: Invalid value: invalid label selector: "+err.Error(), selectorFix(ref, template.Labels))
		case !sel.Matches(labels.Set(template.Labels)):
			report(ref, template, fmt.Sprintf("spec.template.metadata.labels: Invalid value: %s: `selector` does not match template `labels`",
				describeMap(template.Labels)), labelsFix(selector, template.Labels))
		}
	}
	for i := range s.Deployments {
		d := &s.Deployments[i]
		apps(snapshot.KindDeployments, &d.ObjectMeta, d.Spec.Selector, &d.Spec.Template)
	}
	for i := range s.StatefulSets {
		st := &s.StatefulSets[i]
		apps(snapshot.KindStatefulSets, &st.ObjectMeta, st.Spec.Selector, &st.Spec.Template)
	}
	for i := range s.DaemonSets {
		ds := &s.DaemonSets[i]
		apps(snapshot.KindDaemonSets, &ds.ObjectMeta, ds.Spec.Selector, &ds.Spec.Template)
	}
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		apps(snapshot.KindReplicaSets, &rs.ObjectMeta, rs.Spec.Selector, &rs.Spec.Template)
	}
	for i := range s.ReplicationControllers {
		rc := &s.ReplicationControllers[i]
		if rc.Spec.Template == nil {
			continue
		}
		ref := snapshot.RefTo(snapshot.KindReplicationControllers, rc.Namespace, rc.Name)
		switch {
		case len(rc.Spec.Selector) == 0 && len(rc.Spec.Template.Labels) == 0:
			report(ref, rc.Spec.Template, "spec.selector: Required value", selectorFix(ref, nil))
		case len(rc.Spec.Selector) > 0 && !labels.SelectorFromSet(rc.Spec.Selector).Matches(labels.Set(rc.Spec.Template.Labels)):
			report(ref, rc.Spec.Template, fmt.Sprintf("spec.template.metadata.labels: Invalid value: %s: `selector` does not match template `labels`",
				describeMap(rc.Spec.Template.Labels)), labelsFix(&metav1.LabelSelector{MatchLabels: rc.Spec.Selector}, rc.Spec.Template.Labels))
		}
	}
	return findings
}

// selectorFix says what selector to write: the template's labels, or a label to add to both.
func selectorFix(ref snapshot.Ref, template map[string]string) string {
	if len(template) == 0 {
		return fmt.Sprintf("add the label app: %s to spec.template.metadata.labels and set spec.selector to {matchLabels: {app: %s}}", ref.Name, ref.Name)
	}
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(template)) {
		pairs = append(pairs, k+": "+template[k])
	}
	return fmt.Sprintf("set spec.selector to {matchLabels: {%s}}, the template's labels (or the few of them that identify the workload)", strings.Join(pairs, ", "))
}

// labelsFix says which labels the template lacks for the selector to match it.
func labelsFix(selector *metav1.LabelSelector, template map[string]string) string {
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(selector.MatchLabels)) {
		if template[k] != selector.MatchLabels[k] {
			pairs = append(pairs, k+": "+selector.MatchLabels[k])
		}
	}
	if len(pairs) == 0 {
		return "make spec.template.metadata.labels meet the selector's matchExpressions, or change the selector to match them"
	}
	return fmt.Sprintf("add %s to spec.template.metadata.labels (or change spec.selector to labels the template has)", strings.Join(pairs, ", "))
}

// ContainersRefused finds pod specs whose containers the API server's validation refuses: two
// containers of one name, two ports of one name in one container, one host port taken twice.
type ContainersRefused struct{}

func (ContainersRefused) Meta() check.Meta {
	return check.Meta{
		ID:       "container-spec-invalid",
		Title:    "Pod specs have duplicate names the API server refuses",
		Category: check.CategoryReliability,
		Severity: check.High,
		Requires: workloadKinds(),
		Optional: optionalKinds(),
		Description: "Judges every pod template and bare pod as the API server's validation does (k8s.io/kubernetes " +
			"pkg/apis/core/validation): container names must be unique across containers and initContainers (and " +
			"ephemeral containers), a container's port names must be unique within it, and a hostPort (protocol, " +
			"hostIP, port) may be taken by one container only. The evidence quotes the API server's error with the " +
			"field's path. Only manifests can hold such a spec. Ports that merely repeat across containers are " +
			"container-port-ambiguous.",
		Why: "kubectl apply fails on the object, so nothing of it runs; in a pipeline that applies many files the rest " +
			"may be half applied.",
		Remediation: "Rename the second container or port (references to a port by name, in probes and Services, follow " +
			"the name), or drop the repeated hostPort.",
		References: []string{"https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#Container"},
	}
}

func (c ContainersRefused) Run(s *snapshot.Snapshot) []check.Finding {
	return specFindings(s, c.Meta(), refusedContainers, func(what, first string) string {
		return fmt.Sprintf("%s: %s; %s", what, first, refusedNote)
	}, "rename what is named twice, or drop the repeated hostPort: ")
}

// specFindings reports each workload whose pod spec judge finds fault with (in the API server's
// words), one finding per workload, its message made of the first fault.
func specFindings(s *snapshot.Snapshot, meta check.Meta, judge func(spec *corev1.PodSpec, prefix string) []string,
	message func(what, first string) string, advice string) []check.Finding {
	var findings []check.Finding
	for _, w := range s.Workloads() {
		faults := judge(w.Spec, specPath(w.Ref))
		if len(faults) == 0 {
			continue
		}
		f := check.New(meta, message(w.Ref.Describe(), faults[0]), w.Ref)
		f.Evidence = check.LimitEvidence(faults)
		f.Fix = []string{check.Comment(location(s, w.Ref) + advice + strings.Join(faults, "; "))}
		findings = append(findings, f)
	}
	return findings
}

// refusedContainers lists the API server's errors about names and host ports, in its words.
func refusedContainers(spec *corev1.PodSpec, prefix string) []string {
	var errs []string
	names := map[string]bool{}
	// The API server takes the containers' names first: an init container repeats one of them.
	all := containersOf(spec, prefix)
	all = append(all[len(spec.InitContainers):], all[:len(spec.InitContainers)]...)
	for _, ct := range all {
		if names[ct.c.Name] {
			errs = append(errs, fmt.Sprintf("%s.name: Duplicate value: %q", ct.path, ct.c.Name))
		}
		names[ct.c.Name] = true
		portNames := map[string]bool{}
		for i, p := range ct.c.Ports {
			if p.Name != "" && portNames[p.Name] {
				errs = append(errs, fmt.Sprintf("%s.ports[%d].name: Duplicate value: %q", ct.path, i, p.Name))
			}
			portNames[p.Name] = true
		}
	}
	for i := range spec.EphemeralContainers {
		if name := spec.EphemeralContainers[i].Name; names[name] {
			errs = append(errs, fmt.Sprintf("%s.ephemeralContainers[%d].name: Duplicate value: %q", prefix, i, name))
		}
	}
	// Host ports are unique across the containers (an init container is checked alone).
	hostPorts := map[string]bool{}
	for ci := range spec.Containers {
		for pi, p := range spec.Containers[ci].Ports {
			if p.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", snapshot.PortProtocol(p.Protocol), p.HostIP, p.HostPort)
			if hostPorts[key] {
				errs = append(errs, fmt.Sprintf("%s.containers[%d].ports[%d].hostPort: Duplicate value: %q", prefix, ci, pi, key))
			}
			hostPorts[key] = true
		}
	}
	return errs
}

// PortsAmbiguous finds ports declared twice across a pod's containers, which the API server
// accepts with a warning.
type PortsAmbiguous struct{}

func (PortsAmbiguous) Meta() check.Meta {
	return check.Meta{
		ID:       "container-port-ambiguous",
		Title:    "Containers declare the same port twice",
		Category: check.CategoryReliability,
		Severity: check.Low,
		Requires: workloadKinds(),
		Optional: optionalKinds(),
		Description: "Reports what the API server accepts with a warning (k8s.io/kubernetes pkg/api/pod/warnings.go): the same " +
			"containerPort and protocol declared by two containers (or twice by one), and one port name used by two " +
			"containers. The evidence quotes the warning.",
		Why: "Containers of a pod share one network namespace: two processes cannot both listen on one port, so one of " +
			"them fails to bind or the declaration is wrong about which container serves it. A port name used twice " +
			"sends a Service's or probe's named targetPort to the first container that declares it, which may not be " +
			"the one meant.",
		Remediation: "Declare each port once, on the container that listens on it, and give each named port a name of its own.",
		References:  []string{"https://kubernetes.io/docs/concepts/services-networking/service/#field-spec-ports"},
	}
}

func (c PortsAmbiguous) Run(s *snapshot.Snapshot) []check.Finding {
	return specFindings(s, c.Meta(), portWarnings, func(what, first string) string {
		return fmt.Sprintf("%s declares ports ambiguously: %s", what, first)
	}, "declare each port once, on the container that listens on it: ")
}

// portWarnings are the API server's warnings about repeated ports, in its words.
func portWarnings(spec *corev1.PodSpec, prefix string) []string {
	var warnings []string
	type declared struct {
		path string
		port corev1.ContainerPort
	}
	byPort := map[string][]declared{}
	byName := map[string]string{}
	for _, ct := range containersOf(spec, prefix) {
		for i, p := range ct.c.Ports {
			path := fmt.Sprintf("%s.ports[%d]", ct.path, i)
			key := fmt.Sprintf("%d/%s", p.ContainerPort, snapshot.PortProtocol(p.Protocol))
			for _, other := range byPort[key] {
				// The same host binding is a duplicate; differing host ports are a choice, not a clash.
				if p.HostIP == other.port.HostIP && p.HostPort == other.port.HostPort {
					warnings = append(warnings, fmt.Sprintf("%s: duplicate port definition with %s", path, other.path))
					break
				}
			}
			byPort[key] = append(byPort[key], declared{path, p})
			if p.Name == "" {
				continue
			}
			if other, ok := byName[p.Name]; ok && !strings.HasPrefix(path, strings.SplitN(other, ".ports[", 2)[0]+".") {
				warnings = append(warnings, fmt.Sprintf("%s: duplicate port name %q with %s, services and probes that select ports by name will use %s",
					path, p.Name, other, other))
			} else if !ok {
				byName[p.Name] = path
			}
		}
	}
	return warnings
}
