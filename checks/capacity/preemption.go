package capacity

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// PriorityPreemption finds PriorityClasses whose pods preempted others that cannot come back.
type PriorityPreemption struct{}

func (PriorityPreemption) Meta() check.Meta {
	return check.Meta{
		ID:       "priorityclass-preemption",
		Title:    "Pods of a PriorityClass preempted others, which are now Pending",
		Category: check.CategoryCapacity,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindEvents, snapshot.KindPods, snapshot.KindPriorityClasses},
		Optional: ownerKinds(),
		LiveOnly: true,
		// Preemptors and victims are often in different namespaces.
		WholeCluster: true,
		Description: "Reads the scheduler's Preempted events of the last hour (\"Preempted by pod UID on node N\"), finds the " +
			"preemptor among the pods by its UID and its PriorityClass, and the victims' workloads by their pods' names, and " +
			"reports each PriorityClass whose preemptions left workloads with pods the scheduler cannot place: the class " +
			"(its value, whether it is the global default), the preemptors' workloads, and the victims' workloads now Pending.",
		Why: "A preempted pod is deleted and its replacement waits for room the higher-priority pods now hold: a global " +
			"default or a generous high value turns every scale-up of one team into an outage of another's workloads.",
		Remediation: "Make room (add nodes), or stop the preemptors from evicting: a PriorityClass with preemptionPolicy Never " +
			"keeps their place in the scheduling queue without taking others' nodes; give the victims a class of their own if " +
			"they matter as much; and do not make a high value the global default.",
		References: []string{"https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/"},
		Absorbs:    append([]string{"pod-unschedulable"}, workloadFindings()...),
	}
}

// preemptorUID finds the preemptor in the scheduler's "Preempted by pod <uid> on node <node>".
var preemptorUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// preemptions are one PriorityClass's preemptions.
type preemptions struct {
	class      string
	count      int
	newest     time.Time
	preemptors []snapshot.Ref
	victims    map[snapshot.Ref]int
}

func (c PriorityPreemption) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var byUID map[string]*corev1.Pod
	byClass := map[string]*preemptions{}
	var classes []string
	for i := range s.Events {
		e := &s.Events[i]
		if e.Reason != "Preempted" || e.InvolvedObject.Kind != "Pod" || !recent(s, e, eventRecent) {
			continue
		}
		uid := preemptorUID.FindString(e.Message)
		if uid == "" {
			continue
		}
		if byUID == nil {
			byUID = podsByUID(s)
		}
		preemptor := byUID[uid]
		if preemptor == nil || preemptor.Spec.PriorityClassName == "" {
			continue
		}
		class := preemptor.Spec.PriorityClassName
		p := byClass[class]
		if p == nil {
			p = &preemptions{class: class, victims: map[snapshot.Ref]int{}}
			byClass[class] = p
			classes = append(classes, class)
		}
		p.count++
		if t := snapshot.LastSeen(e); t.After(p.newest) {
			p.newest = t
		}
		if owner := s.TopOwner(preemptor); !slices.Contains(p.preemptors, owner) {
			p.preemptors = append(p.preemptors, owner)
		}
		if victim, ok := victimOwner(s, e.InvolvedObject.Namespace, e.InvolvedObject.Name); ok {
			p.victims[victim]++
		}
	}
	slices.Sort(classes)
	var findings []check.Finding
	for _, class := range classes {
		if f, ok := preemptionFinding(s, meta, byClass[class]); ok {
			findings = append(findings, f)
		}
	}
	return findings
}

func preemptionFinding(s *snapshot.Snapshot, meta check.Meta, p *preemptions) (check.Finding, bool) {
	// The victims' workloads with pods the scheduler cannot place now.
	var pending []snapshot.Ref
	var lines []string
	for victim, n := range p.victims {
		var waiting []*corev1.Pod
		for _, pod := range s.PodsOf(victim) {
			if unschedulable(pod) != nil {
				waiting = append(waiting, pod)
			}
		}
		if len(waiting) == 0 {
			continue
		}
		pending = append(pending, victim)
		line := fmt.Sprintf("%s: %s preempted, %s Pending now", victim.Describe(), check.Plural(n, "pod", "pods"),
			check.Plural(len(waiting), "pod", "pods"))
		if prio := waiting[0].Spec.Priority; prio != nil {
			line += fmt.Sprintf(" (priority %d)", *prio)
		}
		lines = append(lines, line+": "+check.OneLine(unschedulable(waiting[0]).Message, 160))
	}
	if len(pending) == 0 {
		return check.Finding{}, false
	}
	slices.Sort(lines)
	pending = sortedRefs(pending)
	preemptors := sortedRefs(slices.Clone(p.preemptors))
	pc := priorityClass(s, p.class)
	ref := snapshot.RefTo(snapshot.KindPriorityClasses, "", p.class)
	objects := slices.Concat([]snapshot.Ref{ref}, preemptors, pending)
	f := check.New(meta, fmt.Sprintf("Pods of PriorityClass %s (%s) preempted %s in the last hour; %s now Pending",
		p.class, describeAll(preemptors), check.Plural(p.count, "pod", "pods"), describeAll(pending)), objects...)
	f.Incident = true
	evidence := []string{classLine(p.class, pc),
		fmt.Sprintf("%s preempted in the last hour, the newest %s", check.Plural(p.count, "pod", "pods"), check.Ago(p.newest, s.CollectedAt))}
	f.Evidence = check.LimitEvidence(append(evidence, lines...))
	newest := p.newest
	f.Since = &newest
	f.Fix = []string{
		"kubectl get priorityclass " + check.Quote(p.class) + " -o yaml",
		"kubectl get events -A --field-selector reason=Preempted",
	}
	if pc != nil && (pc.PreemptionPolicy == nil || *pc.PreemptionPolicy != corev1.PreemptNever) {
		calm := p.class + "-no-preemption"
		f.Fix = append(f.Fix, fmt.Sprintf("kubectl create priorityclass %s --value=%d --preemption-policy=Never   # same priority, never evicts",
			check.Quote(calm), pc.Value))
		workloads := map[snapshot.Ref]snapshot.Workload{}
		for _, w := range s.Workloads() {
			workloads[w.Ref] = w
		}
		for _, owner := range preemptors[:min(len(preemptors), check.MaxFixes)] {
			if w, ok := workloads[owner]; ok && owner.Kind != "Pod" && owner.Kind != "Job" {
				f.Fix = append(f.Fix, check.TemplatePatch(w, map[string]any{"spec": map[string]any{"priorityClassName": calm}},
					"the preemptors keep their priority in the queue without taking others' nodes"))
			}
		}
	}
	if pc != nil && pc.GlobalDefault {
		f.Fix = append(f.Fix, check.Comment("it is the global default: every pod without a class gets its priority; make a low class the default instead"))
	}
	return f, true
}

// classLine describes a PriorityClass: "PriorityClass urgent: value 1000000, the global default,
// preemptionPolicy PreemptLowerPriority".
func classLine(name string, pc *schedulingv1.PriorityClass) string {
	if pc == nil {
		return "PriorityClass " + name + ": not found (deleted since?)"
	}
	parts := []string{fmt.Sprintf("value %d", pc.Value)}
	if pc.GlobalDefault {
		parts = append(parts, "the global default")
	}
	policy := corev1.PreemptLowerPriority
	if pc.PreemptionPolicy != nil {
		policy = *pc.PreemptionPolicy
	}
	parts = append(parts, "preemptionPolicy "+string(policy))
	return "PriorityClass " + name + ": " + strings.Join(parts, ", ")
}

func priorityClass(s *snapshot.Snapshot, name string) *schedulingv1.PriorityClass {
	for i := range s.PriorityClasses {
		if s.PriorityClasses[i].Name == name {
			return &s.PriorityClasses[i]
		}
	}
	return nil
}

func podsByUID(s *snapshot.Snapshot) map[string]*corev1.Pod {
	index := make(map[string]*corev1.Pod, len(s.Pods))
	for i := range s.Pods {
		if uid := s.Pods[i].UID; uid != "" {
			index[string(uid)] = &s.Pods[i]
		}
	}
	return index
}

// victimOwner is the workload of a preempted pod: the pod's own, when it is still there
// (terminating, or a StatefulSet's recreated), else the controller its name says made it
// (name-<5 characters> for a ReplicaSet's, DaemonSet's or Job's, name-<ordinal> for a
// StatefulSet's), when that is read.
func victimOwner(s *snapshot.Snapshot, namespace, name string) (snapshot.Ref, bool) {
	if meta, ok := s.ObjectMeta(snapshot.RefTo(snapshot.KindPods, namespace, name)); ok {
		if pod, ok := meta.(*corev1.Pod); ok {
			return s.TopOwner(pod), true
		}
	}
	cut := strings.LastIndex(name, "-")
	if cut <= 0 {
		return snapshot.Ref{}, false
	}
	prefix, suffix := name[:cut], name[cut+1:]
	kinds := []snapshot.Kind{snapshot.KindReplicaSets, snapshot.KindDaemonSets, snapshot.KindJobs, snapshot.KindReplicationControllers}
	if strings.Trim(suffix, "0123456789") == "" {
		kinds = []snapshot.Kind{snapshot.KindStatefulSets}
	}
	for _, k := range kinds {
		ref := snapshot.RefTo(k, namespace, prefix)
		if _, ok := s.ObjectMeta(ref); ok {
			return ownerOf(s, ref), true
		}
	}
	return snapshot.Ref{}, false
}
