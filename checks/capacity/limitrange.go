package capacity

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// LimitRangeUnschedulable finds LimitRange defaults that give pods requests no node can meet.
type LimitRangeUnschedulable struct{}

func (LimitRangeUnschedulable) Meta() check.Meta {
	return check.Meta{
		ID:       "limitrange-unschedulable",
		Title:    "A LimitRange's defaults make pods unschedulable",
		Category: check.CategoryCapacity,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindLimitRanges, snapshot.KindNodes},
		Optional: append(ownerKinds(), snapshot.KindPods),
		LiveOnly: true,
		Description: "Compares each LimitRange's container default request (defaultRequest, else default, else max, as the API " +
			"server fills them in) and minimum for cpu, memory and ephemeral-storage with the largest allocatable of the " +
			"cluster's nodes, and finds Pending pods the scheduler found Insufficient in a resource whose request came " +
			"from the LimitRange: the container asks for exactly the default and its owner's template sets none.",
		Why: "Every container created in the namespace without its own request gets the default: when it is larger than any " +
			"node, or than any node has free, such pods never schedule, and nothing in their own spec says why.",
		Remediation: "Lower the LimitRange's default (and min) to what a node can hold, or set explicit requests in the " +
			"workloads' templates.",
		References: []string{"https://kubernetes.io/docs/concepts/policy/limit-range/"},
		Absorbs:    []string{"pod-unschedulable"},
	}
}

// limitResources are the resources a LimitRange default commonly sets.
var limitResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage}

// defaultRequest is the request a LimitRange item gives a container that sets none for name,
// as the API server's defaulting of the item leaves it.
func defaultRequest(item *corev1.LimitRangeItem, name corev1.ResourceName) (resource.Quantity, bool) {
	for _, list := range []corev1.ResourceList{item.DefaultRequest, item.Default, item.Max, item.Min} {
		if q, ok := list[name]; ok {
			return q, true
		}
	}
	return resource.Quantity{}, false
}

func (c LimitRangeUnschedulable) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	if len(s.LimitRanges) == 0 {
		return nil
	}
	// The largest allocatable of any node, per resource, and which node has it.
	largest := corev1.ResourceList{}
	largestNode := map[corev1.ResourceName]string{}
	for i := range s.Nodes {
		for _, name := range limitResources {
			if q, ok := s.Nodes[i].Status.Allocatable[name]; ok {
				if have, seen := largest[name]; !seen || q.Cmp(have) > 0 {
					largest[name], largestNode[name] = q, s.Nodes[i].Name
				}
			}
		}
	}
	templates := map[snapshot.Ref]*corev1.PodSpec{}
	for _, w := range s.Workloads() {
		templates[w.Ref] = w.Spec
	}
	pending := pendingByNamespace(s)
	var findings []check.Finding
	for i := range s.LimitRanges {
		lr := &s.LimitRanges[i]
		ref := snapshot.RefTo(snapshot.KindLimitRanges, lr.Namespace, lr.Name)
		var tooLarge []string
		defaults := corev1.ResourceList{}
		for j := range lr.Spec.Limits {
			item := &lr.Spec.Limits[j]
			if item.Type != corev1.LimitTypeContainer {
				continue
			}
			for _, name := range limitResources {
				q, ok := defaultRequest(item, name)
				if !ok {
					continue
				}
				defaults[name] = q
				if most, known := largest[name]; known && q.Cmp(most) > 0 {
					tooLarge = append(tooLarge, fmt.Sprintf("default request %s %s is more than any node can allocate (the most: %s on node %s)",
						name, quantity(name, q), quantity(name, most), largestNode[name]))
				}
				if min, ok := item.Min[name]; ok && !defaultEqual(min, q) {
					if most, known := largest[name]; known && min.Cmp(most) > 0 {
						tooLarge = append(tooLarge, fmt.Sprintf("minimum %s %s is more than any node can allocate (the most: %s on node %s)",
							name, quantity(name, min), quantity(name, most), largestNode[name]))
					}
				}
			}
		}
		// Pending pods found short of a resource whose request is the default, and not their template's.
		var owners []snapshot.Ref
		var evidence []string
		for _, pod := range pending[lr.Namespace] {
			short := defaultedShortfall(s, pod, defaults, templates)
			if len(short) == 0 {
				continue
			}
			owner := s.TopOwner(pod)
			if !slices.Contains(owners, owner) {
				owners = append(owners, owner)
				evidence = append(evidence, fmt.Sprintf("pod %s of %s: the scheduler found Insufficient %s; its request of %s comes from the LimitRange",
					pod.Name, owner.Describe(), strings.Join(resourceNames(short), ", "), amounts(defaults, short...)))
			}
		}
		if len(tooLarge) == 0 && len(owners) == 0 {
			continue
		}
		f := check.New(meta, "", append([]snapshot.Ref{ref}, sortedRefs(owners)...)...)
		switch {
		case len(owners) > 0:
			f.Incident = true
			f.Message = fmt.Sprintf("LimitRange %s/%s gives pods of %s requests no node has room for: they stay Pending",
				lr.Namespace, lr.Name, describeAll(sortedRefs(slices.Clone(owners))))
		default:
			f.Message = fmt.Sprintf("LimitRange %s/%s gives every container in namespace %s without its own request more than any node can allocate",
				lr.Namespace, lr.Name, lr.Namespace)
		}
		f.Evidence = check.LimitEvidence(append(tooLarge, evidence...))
		f.Fix = []string{
			"kubectl describe " + check.InNamespace(ref),
			fmt.Sprintf("kubectl edit %s   # lower spec.limits[].defaultRequest, default and min", check.InNamespace(ref)),
		}
		for _, owner := range sortedRefs(owners)[:min(len(owners), check.MaxFixes)] {
			if owner.Kind != "Pod" && owner.Kind != "Job" {
				f.Fix = append(f.Fix, fmt.Sprintf("kubectl set resources %s --requests=%s   # or give it requests of its own",
					check.InNamespace(owner), requestsPlaceholder(namesOf(defaults))))
			}
		}
		findings = append(findings, f)
	}
	return findings
}

func defaultEqual(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }

// pendingByNamespace are the pods the scheduler could not place, by namespace.
func pendingByNamespace(s *snapshot.Snapshot) map[string][]*corev1.Pod {
	out := map[string][]*corev1.Pod{}
	for i := range s.Pods {
		if pod := &s.Pods[i]; unschedulable(pod) != nil {
			out[pod.Namespace] = append(out[pod.Namespace], pod)
		}
	}
	return out
}

// defaultedShortfall are the resources the scheduler found insufficient for pod whose request is
// the LimitRange's default in every container that asks for it, where the owner's template asks
// for none.
func defaultedShortfall(s *snapshot.Snapshot, pod *corev1.Pod, defaults corev1.ResourceList, templates map[snapshot.Ref]*corev1.PodSpec) []corev1.ResourceName {
	cond := unschedulable(pod)
	var short []corev1.ResourceName
	template := templates[s.TopOwner(pod)]
	for _, name := range limitResources {
		def, ok := defaults[name]
		if !ok || !strings.Contains(cond.Message, "Insufficient "+string(name)) {
			continue
		}
		defaulted := false
		for _, c := range pod.Spec.Containers {
			q, ok := c.Resources.Requests[name]
			if !ok || q.Cmp(def) != 0 || setInTemplate(template, c.Name, name) {
				continue
			}
			defaulted = true
		}
		if defaulted {
			short = append(short, name)
		}
	}
	return short
}

// setInTemplate says the template's container asks for name itself (a limit alone makes the
// request); without a template, whether it does is unknown and it is taken to.
func setInTemplate(template *corev1.PodSpec, container string, name corev1.ResourceName) bool {
	if template == nil {
		return true
	}
	for _, c := range template.Containers {
		if c.Name == container {
			_, request := c.Resources.Requests[name]
			_, limit := c.Resources.Limits[name]
			return request || limit
		}
	}
	return true
}
