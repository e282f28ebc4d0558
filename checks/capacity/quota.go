package capacity

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// QuotaExhausted finds namespace ResourceQuotas that refuse the pods controllers try to create.
type QuotaExhausted struct{}

func (QuotaExhausted) Meta() check.Meta {
	return check.Meta{
		ID:       "quota-exhausted",
		Title:    "A ResourceQuota refuses the pods controllers create",
		Category: check.CategoryCapacity,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindResourceQuotas, snapshot.KindEvents},
		Optional: ownerKinds(),
		LiveOnly: true,
		Description: "Reads the FailedCreate Warning events of the last hour in which a ReplicaSet, StatefulSet, DaemonSet or Job " +
			"was refused a pod by a ResourceQuota (`exceeded quota: NAME, requested: ..., used: ..., limited: ...`, or `failed " +
			"quota: NAME: must specify ...` when the pods set no requests the quota counts), and reports the quota with its used " +
			"and hard values and the workloads short of pods, by their top-level owner. A quota at its hard limit that has " +
			"refused nothing yet is reported low: the next pod it counts will be refused.",
		Why: "The controller retries, but no pod is created until the quota has room: a Deployment stays short of replicas, a " +
			"rollout or a scale-up stalls, a Job or CronJob does not run. Nothing about it shows on any pod, as there is none.",
		Remediation: "Raise the quota's hard limit for the resource (the command names a value that lets the missing pods in), " +
			"or lower the workloads' requests, or free room by scaling down something else in the namespace.",
		References: []string{"https://kubernetes.io/docs/concepts/policy/resource-quotas/"},
		Absorbs:    workloadFindings(),
	}
}

// quotaRefusal is the quota admission's message in a controller's FailedCreate event.
var quotaRefusal = regexp.MustCompile(`exceeded quota: ([^,\s]+), requested: (\S*), used: (\S*), limited: (\S*)`)

// quotaUnset is its message when a pod sets no request or limit that the quota counts.
var quotaUnset = regexp.MustCompile(`failed quota: ([^:\s]+): must specify (.*)`)

// refusal is one workload's newest refusal by one quota.
type refusal struct {
	owner     snapshot.Ref
	event     *corev1.Event
	requested corev1.ResourceList
	// unset is what the pods must specify, when the quota refused them for that.
	unset string
	// missing is how many pods the refused controller (the event's object: the rollout's new
	// ReplicaSet, not its Deployment) still lacks.
	missing int32
}

func (c QuotaExhausted) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	// One pass over the events: the newest refusal of each workload by each quota.
	type quotaKey struct{ namespace, name string }
	refusals := map[quotaKey][]refusal{}
	for i := range s.Events {
		e := &s.Events[i]
		if e.Type != corev1.EventTypeWarning || e.Reason != "FailedCreate" || !recent(s, e, eventRecent) {
			continue
		}
		r := refusal{event: e}
		var name string
		if m := quotaRefusal.FindStringSubmatch(e.Message); m != nil {
			name, r.requested = m[1], parseResources(m[2])
		} else if m := quotaUnset.FindStringSubmatch(e.Message); m != nil {
			name, r.unset = m[1], strings.TrimSpace(m[2])
		} else {
			continue
		}
		r.owner = ownerOf(s, eventRef(e))
		// Counted on the controller refused, not on its Deployment: a rollout's new ReplicaSet
		// refused its surge pod lacks pods while the Deployment, its old pods still running,
		// has as many as it wants.
		missing, known := missingPods(s, eventRef(e))
		if known && missing == 0 {
			continue // the controller has all its pods again: the refusal is over
		}
		r.missing = missing
		key := quotaKey{e.InvolvedObject.Namespace, name}
		if j := slices.IndexFunc(refusals[key], func(o refusal) bool { return o.owner == r.owner }); j >= 0 {
			if snapshot.LastSeen(e).After(snapshot.LastSeen(refusals[key][j].event)) {
				refusals[key][j] = r
			}
			continue
		}
		refusals[key] = append(refusals[key], r)
	}
	var findings []check.Finding
	for i := range s.ResourceQuotas {
		q := &s.ResourceQuotas[i]
		ref := snapshot.RefTo(snapshot.KindResourceQuotas, q.Namespace, q.Name)
		refused := refusals[quotaKey{q.Namespace, q.Name}]
		slices.SortFunc(refused, func(a, b refusal) int { return strings.Compare(a.owner.String(), b.owner.String()) })
		if len(refused) == 0 {
			if full := atLimit(q); len(full) > 0 {
				findings = append(findings, quotaFull(meta, q, ref, full))
			}
			continue
		}
		findings = append(findings, quotaRefusing(s, meta, q, ref, refused))
	}
	return findings
}

// quotaRefusing is the finding about a quota that refused pods.
func quotaRefusing(s *snapshot.Snapshot, meta check.Meta, q *corev1.ResourceQuota, ref snapshot.Ref, refused []refusal) check.Finding {
	objects := []snapshot.Ref{ref}
	var owners []snapshot.Ref
	var evidence []string
	// What each refused pod asked for, times the pods missing: what the quota must make room for.
	need := corev1.ResourceList{}
	var unset []string
	for _, r := range refused {
		owners = append(owners, r.owner)
		missing := r.missing
		line := r.owner.Describe()
		if missing > 0 {
			line += fmt.Sprintf(" is short of %s", check.Plural(int(missing), "pod", "pods"))
		}
		evidence = append(evidence, line+": "+check.EventLine(r.event, s.CollectedAt))
		for name, per := range r.requested {
			total := need[name]
			for range max(missing, 1) {
				total.Add(per)
			}
			need[name] = total
		}
		if r.unset != "" {
			unset = append(unset, r.owner.Describe()+" must specify "+r.unset)
		}
	}
	objects = append(objects, owners...)
	resources := namesOf(need)
	var usage []string
	for _, name := range resources {
		usage = append(usage, usageLine(q, name))
	}
	f := check.New(meta, "", objects...)
	f.Incident = true
	f.Message = fmt.Sprintf("ResourceQuota %s/%s has no room for the pods of %s", q.Namespace, q.Name, describeAll(owners))
	switch {
	case len(usage) > 0:
		f.Message += " (" + usage[0] + ")"
	case len(unset) > 0:
		f.Message = fmt.Sprintf("ResourceQuota %s/%s refuses the pods of %s: they set no request or limit it counts",
			q.Namespace, q.Name, describeAll(owners))
	}
	f.Evidence = check.LimitEvidence(slices.Concat(usage, unset, evidence))
	var first []*corev1.Event
	for _, r := range refused {
		first = append(first, r.event)
	}
	f.Since = check.Earliest(eventsSince(first)...)
	f.Fix = []string{"kubectl describe " + check.InNamespace(ref)}
	if len(resources) > 0 {
		hard := map[string]string{}
		for _, name := range resources {
			hard[string(name)] = quantity(name, raised(q, name, need[name]))
		}
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"hard": hard}})
		f.Fix = append(f.Fix, fmt.Sprintf("kubectl patch %s --type=merge -p '%s'   # room for the missing pods",
			check.InNamespace(ref), patch))
	}
	if len(unset) > 0 {
		f.Fix = append(f.Fix, check.Comment("or give the containers requests and limits, or the namespace a LimitRange whose defaults set them"))
	}
	for _, owner := range owners[:min(len(owners), check.MaxFixes)] {
		if owner.Kind == "Deployment" || owner.Kind == "StatefulSet" || owner.Kind == "DaemonSet" {
			f.Fix = append(f.Fix, fmt.Sprintf("kubectl set resources %s --requests=%s   # or lower its requests",
				check.InNamespace(owner), requestsPlaceholder(resources)))
		}
	}
	return f
}

// quotaFull is the finding about a quota at its limit that has refused nothing yet.
func quotaFull(meta check.Meta, q *corev1.ResourceQuota, ref snapshot.Ref, full []corev1.ResourceName) check.Finding {
	f := check.New(meta, fmt.Sprintf("ResourceQuota %s/%s is at its hard limit for %s: the next pod or object it counts will be refused",
		q.Namespace, q.Name, strings.Join(resourceNames(full), ", ")), ref)
	f.Severity = check.Low
	for _, name := range full {
		f.Evidence = append(f.Evidence, usageLine(q, name))
	}
	f.Fix = []string{"kubectl describe " + check.InNamespace(ref)}
	return f
}

// atLimit are the resources whose use has reached the quota's hard limit.
func atLimit(q *corev1.ResourceQuota) []corev1.ResourceName {
	var full []corev1.ResourceName
	for name, hard := range q.Status.Hard {
		// A hard limit of 0 forbids the resource on purpose (no LoadBalancer Services here).
		if used, ok := q.Status.Used[name]; ok && !hard.IsZero() && used.Cmp(hard) >= 0 {
			full = append(full, name)
		}
	}
	slices.Sort(full)
	return full
}

// usageLine is "requests.cpu: used 8 of 8 (hard)".
func usageLine(q *corev1.ResourceQuota, name corev1.ResourceName) string {
	hard, ok := q.Status.Hard[name]
	if !ok {
		hard, ok = q.Spec.Hard[name]
	}
	used := q.Status.Used[name]
	if !ok {
		return fmt.Sprintf("%s: used %s, no hard limit recorded", name, quantity(name, used))
	}
	return fmt.Sprintf("%s: used %s of hard %s", name, quantity(name, used), quantity(name, hard))
}

// raised is the hard limit that lets need in on top of what is used (and never below today's).
func raised(q *corev1.ResourceQuota, name corev1.ResourceName, need resource.Quantity) resource.Quantity {
	hard := q.Spec.Hard[name]
	base := q.Status.Used[name].DeepCopy()
	if base.Cmp(hard) < 0 {
		base = hard.DeepCopy()
	}
	base.Add(need)
	return base
}

// parseResources reads the quota admission's "requests.cpu=500m,requests.memory=1Gi".
func parseResources(text string) corev1.ResourceList {
	list := corev1.ResourceList{}
	for _, part := range strings.Split(text, ",") {
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		if q, err := resource.ParseQuantity(value); err == nil {
			list[corev1.ResourceName(name)] = q
		}
	}
	return list
}

// missingPods is how many pods a workload wants and does not have; known is false for a
// workload that does not say (a Job, or one not read).
func missingPods(s *snapshot.Snapshot, owner snapshot.Ref) (missing int32, known bool) {
	meta, ok := s.ObjectMeta(owner)
	if !ok {
		return 0, false
	}
	var want, have int32
	switch o := meta.(type) {
	case *appsv1.Deployment:
		want, have = replicas(o.Spec.Replicas), o.Status.Replicas
	case *appsv1.StatefulSet:
		want, have = replicas(o.Spec.Replicas), o.Status.Replicas
	case *appsv1.ReplicaSet:
		want, have = replicas(o.Spec.Replicas), o.Status.Replicas
	case *appsv1.DaemonSet:
		want, have = o.Status.DesiredNumberScheduled, o.Status.CurrentNumberScheduled
	default:
		return 0, false
	}
	return max(want-have, 0), true
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func resourceNames(names []corev1.ResourceName) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = string(n)
	}
	return out
}

// requestsPlaceholder is kubectl set resources' --requests for the quota's resources, with
// placeholders: "cpu=CPU,memory=MEMORY".
func requestsPlaceholder(names []corev1.ResourceName) string {
	var parts []string
	for _, n := range names {
		base := strings.TrimPrefix(string(n), "requests.")
		if strings.HasPrefix(base, "limits.") || strings.Contains(base, "/") || slices.Contains(parts, base+"="+strings.ToUpper(base)) {
			continue
		}
		parts = append(parts, base+"="+strings.ToUpper(strings.ReplaceAll(base, "-", "_")))
	}
	if len(parts) == 0 {
		return "cpu=CPU,memory=MEMORY"
	}
	return strings.Join(parts, ",")
}

// eventsSince is when each event first happened.
func eventsSince(events []*corev1.Event) []time.Time {
	var times []time.Time
	for _, e := range events {
		t := e.FirstTimestamp.Time
		if t.IsZero() {
			t = snapshot.LastSeen(e)
		}
		times = append(times, t)
	}
	return times
}
