package disruption

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// The eviction API's answers to a drain that a budget holds up (pkg/registry/core/pod/storage
// in Kubernetes). Neither kubectl drain nor the API server records them as events.
const (
	evictionRefused   = "Cannot evict pod as it would violate the pod's disruption budget."
	evictionAmbiguous = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
)

// DrainBlocked finds nodes being drained whose pods no eviction can move, their budgets allowing
// none.
type DrainBlocked struct{}

func (DrainBlocked) Meta() check.Meta {
	return check.Meta{
		ID:       "drain-blocked-by-pdb",
		Title:    "Node drains are stuck on PodDisruptionBudgets",
		Category: check.CategoryCapacity,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindNodes, snapshot.KindPods, snapshot.KindPodDisruptionBudgets},
		Optional: optionalOwners(snapshot.KindEvents, snapshot.KindHorizontalPodAutoscalers),
		LiveOnly: true,
		Description: "Finds nodes being emptied (cordoned: spec.unschedulable or the node.kubernetes.io/unschedulable taint; " +
			"or tainted by the cluster autoscaler or Karpenter for removal) and the pods on them an eviction must move, " +
			"as the eviction API judges them: running pods not being deleted, DaemonSet and static pods aside (drains skip " +
			"them). A pod is stuck when the one PodDisruptionBudget selecting it has status.disruptionsAllowed 0 (a pod that " +
			"is not Ready is still evicted when the budget's healthy count meets its desired count, or with " +
			"unhealthyPodEvictionPolicy AlwaysAllow), or when more than one budget selects it, which the eviction API " +
			"refuses outright. It says whether the budget is too tight with every pod healthy or waits on unhealthy ones, " +
			"quotes a failed sync, and shows the disruption controller's Warning events and any event on the node that " +
			"names a disruption budget. A refused eviction itself leaves no event: kubectl drain prints \"" + evictionRefused +
			"\" (HTTP 429) and retries. Budgets that select no pod, or pods of several workloads, hold up no drain by " +
			"themselves; a budget the controller cannot compute (pods without a scalable controller under a percentage) " +
			"allows no disruption and is reported so.",
		Why: "A drain evicts pod by pod through the budgets and retries a refused eviction until it times out: node " +
			"upgrades, the autoscalers' scale-down and maintenance wait on these pods, the node stays cordoned meanwhile, " +
			"and the capacity it held is lost to the cluster until someone acts.",
		Remediation: "Let the budget allow one eviction: run one more replica than it needs healthy (scale the workload, or " +
			"raise its autoscaler's minReplicas), make its unhealthy pods Ready, or, knowingly, relax the budget " +
			"(maxUnavailable: 1, or unhealthyPodEvictionPolicy: AlwaysAllow for pods that are not Ready). Keep one budget " +
			"per set of pods. Deleting the budget lets the drain evict every pod at once.",
		References: []string{referenceDrain, referencePDB, "https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/"},
		Supersedes: []string{"pdb-blocks-eviction"},
	}
}

// drainingNode is a node being emptied: why it counts as such, and since when if known.
type drainingNode struct {
	node    *corev1.Node
	how     string
	since   time.Time
	leaving int // pods on it being deleted
}

// drainingNodes indexes the nodes being emptied by name.
func drainingNodes(s *snapshot.Snapshot) map[string]*drainingNode {
	out := map[string]*drainingNode{}
	for i := range s.Nodes {
		node := &s.Nodes[i]
		d := &drainingNode{node: node}
		if node.Spec.Unschedulable {
			d.how = "cordoned (spec.unschedulable)"
		}
		for _, t := range node.Spec.Taints {
			how := drainTaint(t.Key)
			if how == "" {
				continue
			}
			if d.how == "" {
				d.how = how
			}
			if t.TimeAdded != nil && (d.since.IsZero() || t.TimeAdded.Time.Before(d.since)) {
				d.since = t.TimeAdded.Time
			}
		}
		if d.how != "" {
			out[node.Name] = d
		}
	}
	return out
}

// drainTaint says what a taint tells of a node being emptied: the node lifecycle controller
// mirrors a cordon into the first; the autoscalers taint the nodes they remove; "" for others.
func drainTaint(key string) string {
	switch key {
	case corev1.TaintNodeUnschedulable:
		return "cordoned (taint " + key + ")"
	case "ToBeDeletedByClusterAutoscaler":
		return "being removed by the cluster autoscaler (taint " + key + ")"
	case "karpenter.sh/disrupted", "karpenter.sh/disruption":
		return "being disrupted by Karpenter (taint " + key + ")"
	}
	return ""
}

func (d *drainingNode) describe(now time.Time) string {
	line := "node " + d.node.Name + ": " + d.how
	if !d.since.IsZero() {
		line += " " + check.For(d.since, now)
	}
	if d.leaving > 0 {
		line += fmt.Sprintf("; %s on it already being deleted", check.Plural(d.leaving, "pod", "pods"))
	}
	return line
}

// budget is a PodDisruptionBudget with its selector parsed once.
type budget struct {
	pdb      *policyv1.PodDisruptionBudget
	selector labels.Selector
}

// evictionGuarded tells a pod the eviction API checks against budgets: not finished, not
// Pending, not already being deleted; and one a drain evicts at all: no DaemonSet's pod (kubectl
// drain skips them with --ignore-daemonsets) and no static pod's mirror.
func evictionGuarded(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed, corev1.PodPending:
		return false
	}
	if pod.DeletionTimestamp != nil {
		return false
	}
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return false
	}
	owner := metav1.GetControllerOfNoCopy(pod)
	return owner == nil || owner.Kind != "DaemonSet"
}

// refuses tells whether the budget refuses to let the pod be evicted now, as the eviction API
// decides for a pod only this budget selects.
func refuses(pdb *policyv1.PodDisruptionBudget, pod *corev1.Pod) bool {
	if pdb.Status.DisruptionsAllowed > 0 {
		return false
	}
	if !snapshot.PodReady(pod) {
		if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
			return false
		}
		// An unready pod does not count towards the healthy pods: evicting it disrupts nothing.
		if pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0 {
			return false
		}
	}
	return true
}

// stuck is the pods one budget (or one set of budgets selecting the same pods) holds on nodes
// being drained.
type stuck struct {
	budgets []*policyv1.PodDisruptionBudget
	pods    []*corev1.Pod
}

func (c DrainBlocked) Run(s *snapshot.Snapshot) []check.Finding {
	nodes := drainingNodes(s)
	if len(nodes) == 0 {
		return nil
	}
	byNamespace := map[string][]budget{}
	for i := range s.PodDisruptionBudgets {
		pdb := &s.PodDisruptionBudgets[i]
		// In policy/v1 a null selector selects no pod, an empty one every pod of the namespace;
		// the eviction API skips a selector it cannot parse.
		if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil {
			byNamespace[pdb.Namespace] = append(byNamespace[pdb.Namespace], budget{pdb, sel})
		}
	}
	var groups check.Groups[string, *corev1.Pod]
	budgetsOf := map[string][]*policyv1.PodDisruptionBudget{}
	for i := range s.Pods {
		pod := &s.Pods[i]
		node := nodes[pod.Spec.NodeName]
		if node == nil {
			continue
		}
		if pod.DeletionTimestamp != nil {
			node.leaving++
		}
		if !evictionGuarded(pod) {
			continue
		}
		var matching []*policyv1.PodDisruptionBudget
		for _, b := range byNamespace[pod.Namespace] {
			if b.selector.Matches(labels.Set(pod.Labels)) {
				matching = append(matching, b.pdb)
			}
		}
		if len(matching) == 0 || len(matching) == 1 && !refuses(matching[0], pod) {
			continue
		}
		names := make([]string, len(matching))
		for j, pdb := range matching {
			names[j] = pdb.Name
		}
		key := pod.Namespace + "/" + strings.Join(names, ",")
		groups.Add(key, pod)
		budgetsOf[key] = matching
	}
	var findings []check.Finding
	for _, key := range groups.Keys() {
		findings = append(findings, c.finding(s, nodes, stuck{budgetsOf[key], groups.Get(key)}))
	}
	return findings
}

func (c DrainBlocked) finding(s *snapshot.Snapshot, nodes map[string]*drainingNode, st stuck) check.Finding {
	now := s.CollectedAt
	var owners []snapshot.Ref
	var held []*drainingNode
	seenOwner, seenNode := map[snapshot.Ref]bool{}, map[string]bool{}
	for _, pod := range st.pods {
		if owner := s.TopOwner(pod); !seenOwner[owner] {
			seenOwner[owner] = true
			owners = append(owners, owner)
		}
		if !seenNode[pod.Spec.NodeName] {
			seenNode[pod.Spec.NodeName] = true
			held = append(held, nodes[pod.Spec.NodeName])
		}
	}
	objects := slices.Clone(owners)
	for _, pdb := range st.budgets {
		objects = append(objects, snapshot.RefTo(snapshot.KindPodDisruptionBudgets, pdb.Namespace, pdb.Name))
	}
	var nodeNames []string
	for _, n := range held {
		objects = append(objects, snapshot.RefTo(snapshot.KindNodes, "", n.node.Name))
		nodeNames = append(nodeNames, n.node.Name)
	}
	ns := st.budgets[0].Namespace
	what := check.Plural(len(st.pods), "pod", "pods") + " of " + describeAll(owners)
	if len(owners) == 1 && owners[0].Kind == "Pod" {
		what = owners[0].Describe() // a bare pod is its own workload
	}
	named := strings.Join(nodeNames[:min(len(nodeNames), check.MaxFixes)], ", ")
	if len(nodeNames) > check.MaxFixes {
		named += fmt.Sprintf(" and %d more", len(nodeNames)-check.MaxFixes)
	}
	where := fmt.Sprintf("the drain of %s %s cannot evict %s there", check.PluralForm(len(held), "node", "nodes"), named, what)

	f := check.New(c.Meta(), "", objects...)
	f.Incident = true
	var sinces []time.Time
	for i, n := range held {
		if i < check.MaxFixes {
			f.Evidence = append(f.Evidence, n.describe(now))
		}
		sinces = append(sinces, n.since)
	}
	f.Since = check.Earliest(sinces...)
	for _, pdb := range st.budgets {
		f.Evidence = append(f.Evidence, describeBudget(pdb))
	}
	f.Evidence = append(f.Evidence, check.EvidenceOf(len(st.pods), func(i int) string {
		pod := st.pods[i]
		state := "Ready"
		if !snapshot.PodReady(pod) {
			state = "not Ready"
		}
		return fmt.Sprintf("pod %s/%s on node %s: %s", pod.Namespace, pod.Name, pod.Spec.NodeName, state)
	})...)
	f.Evidence = append(f.Evidence, evictionEvents(s, st, held)...)

	if len(st.budgets) > 1 {
		names := make([]string, len(st.budgets))
		for i, pdb := range st.budgets {
			names[i] = pdb.Name
		}
		f.Message = fmt.Sprintf("%d PodDisruptionBudgets (%s) select the same pods, and the eviction API refuses to evict a pod "+
			"more than one budget covers (%q): %s, whatever the budgets allow", len(st.budgets), strings.Join(names, ", "),
			evictionAmbiguous, where)
		f.Fix = []string{
			fmt.Sprintf("kubectl get -n %s poddisruptionbudgets -o wide", check.Quote(ns)),
			check.Comment(fmt.Sprintf("keep one budget for these pods and delete the others (kubectl delete -n %s poddisruptionbudget/NAME): "+
				"the pods stay protected by the one kept", ns)),
		}
	} else {
		pdb := st.budgets[0]
		f.Message, f.Fix = c.oneBudget(s, pdb, st.pods, owners, where)
	}
	// kubectl drain refuses, before any eviction, a pod no controller owns unless told --force;
	// such a pod is not recreated anywhere once evicted.
	force, forceNote := "", ""
	if slices.ContainsFunc(st.pods, func(pod *corev1.Pod) bool { return metav1.GetControllerOf(pod) == nil }) {
		force, forceNote = " --force", "; --force because a pod here has no controller: evicted, it is not recreated"
	}
	f.Fix = append(f.Fix, check.FixNames(nodeNames, "nodes", func(names string) string {
		return "kubectl drain " + names + " --ignore-daemonsets" + force + "  # kubectl drain retries refused evictions until its --timeout: run it " +
			"again once the budget allows one (--delete-emptydir-data if pods keep emptyDir volumes, whose data goes with them)" + forceNote
	})...)
	f.Evidence = check.LimitEvidence(f.Evidence)
	return f
}

// oneBudget says why a single budget allows no disruption, and how to let it allow one.
func (c DrainBlocked) oneBudget(s *snapshot.Snapshot, pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod,
	owners []snapshot.Ref, where string) (string, []string) {
	target := fmt.Sprintf("-n %s poddisruptionbudget/%s", check.Quote(pdb.Namespace), check.Quote(pdb.Name))
	relax := fmt.Sprintf(`kubectl patch %s --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}'`, target) +
		fmt.Sprintf("  # knowingly: one pod of %s may then be down while the node drains", describeAll(owners))
	lastResort := check.Comment(fmt.Sprintf("never simply delete the budget (kubectl delete %s): the drain then evicts every "+
		"pod of %s at once, and it may go down entirely", target, describeAll(owners)))
	st := pdb.Status
	counts := fmt.Sprintf("disruptionsAllowed %d, %d healthy of %d desired, %d expected", st.DisruptionsAllowed, st.CurrentHealthy, st.DesiredHealthy, st.ExpectedPods)
	if cond := syncFailed(pdb); cond != nil {
		msg := fmt.Sprintf("PodDisruptionBudget %s/%s cannot be computed (%s: %s), so it allows no disruption: %s", pdb.Namespace, pdb.Name,
			cond.Reason, check.OneLine(cond.Message, 240), where)
		return msg, []string{
			fmt.Sprintf("kubectl describe %s", target),
			check.Comment("pods no scalable controller owns count only under an integer minAvailable: set one, e.g. " +
				fmt.Sprintf(`kubectl patch %s --type=merge -p '{"spec":{"maxUnavailable":null,"minAvailable":%d}}'`, target, max(selectedPods(s, pdb)-1, 0))),
			lastResort,
		}
	}
	if st.CurrentHealthy >= st.DesiredHealthy {
		msg := fmt.Sprintf("PodDisruptionBudget %s/%s allows no disruption while all the pods it needs are healthy (%s): it is too "+
			"tight for the replicas there are, and %s", pdb.Namespace, pdb.Name, counts, where)
		var fix []string
		if scale := scaleFix(s, pdb, owners); scale != "" {
			fix = append(fix, scale)
		}
		return msg, append(fix, relax, lastResort)
	}
	unhealthy := int(st.ExpectedPods - st.CurrentHealthy)
	msg := fmt.Sprintf("PodDisruptionBudget %s/%s allows no disruption because %d of its pods %s unhealthy (%s): %s until enough are Ready",
		pdb.Namespace, pdb.Name, unhealthy, check.PluralForm(unhealthy, "is", "are"), counts, where)
	fix := []string{fmt.Sprintf("kubectl get pods -n %s -l %s -o wide  # the budget's pods: make the unhealthy ones Ready (see their own findings)",
		check.Quote(pdb.Namespace), check.Quote(metav1.FormatLabelSelector(pdb.Spec.Selector)))}
	if slices.ContainsFunc(pods, func(p *corev1.Pod) bool { return !snapshot.PodReady(p) }) {
		fix = append(fix, fmt.Sprintf(`kubectl patch %s --type=merge -p '{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}'`, target)+
			"  # lets drains evict pods that are not Ready; Ready ones stay protected")
	}
	return msg, append(fix, relax, lastResort)
}

// selectedPods counts the live pods the budget selects. A budget whose sync failed keeps the
// status it had (the disruption controller's failSafe sets only disruptionsAllowed and the
// condition), so status.expectedPods is stale, 0 for one never computed.
func selectedPods(s *snapshot.Snapshot, pdb *policyv1.PodDisruptionBudget) int {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return 0
	}
	n := 0
	for i := range s.Pods {
		if pod := &s.Pods[i]; pod.Namespace == pdb.Namespace && snapshot.IsLive(pod) && sel.Matches(labels.Set(pod.Labels)) {
			n++
		}
	}
	return n
}

// syncFailed is the budget's DisruptionAllowed condition when the disruption controller could not
// compute the budget (SyncFailed); nil otherwise.
func syncFailed(pdb *policyv1.PodDisruptionBudget) *metav1.Condition {
	for i := range pdb.Status.Conditions {
		if c := &pdb.Status.Conditions[i]; c.Type == policyv1.DisruptionAllowedCondition && c.Status == metav1.ConditionFalse &&
			c.Reason == policyv1.SyncFailedReason {
			return c
		}
	}
	return nil
}

// scaleFix runs one more replica than the budget needs healthy, on the one workload it covers:
// through its autoscaler's minReplicas when it has one (a scale would be undone); "" when no
// replica count lets the budget allow an eviction (maxUnavailable 0, minAvailable 100%), or the
// budget covers several workloads.
func scaleFix(s *snapshot.Snapshot, pdb *policyv1.PodDisruptionBudget, owners []snapshot.Ref) string {
	if len(owners) != 1 || pdb.Spec.MinAvailable == nil {
		return ""
	}
	owner := owners[0]
	switch owner.Kind {
	case "Deployment", "ReplicaSet", "ReplicationController", "StatefulSet":
	default:
		return ""
	}
	expected := int(pdb.Status.ExpectedPods)
	replicas := 0
	for n := expected + 1; n <= expected+100; n++ {
		need, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, n, true)
		if err != nil {
			return ""
		}
		if n-need >= 1 {
			replicas = n
			break
		}
	}
	if replicas == 0 {
		return ""
	}
	for i := range s.HorizontalPodAutoscalers {
		hpa := &s.HorizontalPodAutoscalers[i]
		if snapshot.ScaleTarget(hpa) == owner {
			minReplicas := max(int32(replicas), ptrOr(hpa.Spec.MinReplicas, 1))
			// Validation refuses minReplicas above maxReplicas: raise both when the autoscaler
			// is capped at what the budget needs healthy.
			spec := fmt.Sprintf(`"minReplicas":%d`, minReplicas)
			if minReplicas > hpa.Spec.MaxReplicas {
				spec += fmt.Sprintf(`,"maxReplicas":%d`, minReplicas)
			}
			return fmt.Sprintf(`kubectl patch -n %s horizontalpodautoscaler/%s --type=merge -p '{"spec":{%s}}'`,
				check.Quote(hpa.Namespace), check.Quote(hpa.Name), spec) +
				"  # its autoscaler sets the replicas: one more than the budget needs healthy, so it allows one eviction"
		}
	}
	return fmt.Sprintf("kubectl scale %s --replicas=%d  # one more than the budget needs healthy: it then allows one eviction",
		check.InNamespace(owner), replicas)
}

func ptrOr(p *int32, otherwise int32) int32 {
	if p == nil {
		return otherwise
	}
	return *p
}

func describeBudget(pdb *policyv1.PodDisruptionBudget) string {
	spec := "neither minAvailable nor maxUnavailable"
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		spec = "maxUnavailable " + pdb.Spec.MaxUnavailable.String()
	case pdb.Spec.MinAvailable != nil:
		spec = "minAvailable " + pdb.Spec.MinAvailable.String()
	}
	st := pdb.Status
	line := fmt.Sprintf("poddisruptionbudget %s/%s: %s, selector %s; status: disruptionsAllowed %d, currentHealthy %d, desiredHealthy %d, expectedPods %d",
		pdb.Namespace, pdb.Name, spec, metav1.FormatLabelSelector(pdb.Spec.Selector), st.DisruptionsAllowed, st.CurrentHealthy, st.DesiredHealthy, st.ExpectedPods)
	if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil {
		line += ", unhealthyPodEvictionPolicy " + string(*p)
	}
	return line
}

// evictionEvents are what the cluster recorded about these evictions: the disruption
// controller's Warning events on the budgets and pods (MultiplePodDisruptionBudgets,
// CalculateExpectedPodCountFailed, UnmanagedPods), and events on the nodes, Normal ones included,
// that name a disruption budget (what autoscalers report of a drain they could not finish).
func evictionEvents(s *snapshot.Snapshot, st stuck, nodes []*drainingNode) []string {
	var lines []string
	now := s.CollectedAt
	for _, pdb := range st.budgets {
		for _, e := range first(s.WarningEvents("PodDisruptionBudget", pdb.Namespace, pdb.Name), 2) {
			lines = append(lines, "poddisruptionbudget "+pdb.Name+": "+check.EventLine(&e, now))
		}
	}
	shown := 0
	for _, pod := range st.pods {
		for _, e := range s.WarningEvents("Pod", pod.Namespace, pod.Name) {
			if shown < 2 && (e.Reason == "MultiplePodDisruptionBudgets" || namesBudget(e.Message)) {
				lines = append(lines, "pod "+pod.Name+": "+check.EventLine(&e, now))
				shown++
			}
		}
	}
	onNode := map[string]bool{}
	for _, n := range nodes {
		onNode[n.node.Name] = true
	}
	var nodeEvents []*corev1.Event
	for i := range s.Events {
		if e := &s.Events[i]; e.InvolvedObject.Kind == "Node" && onNode[e.InvolvedObject.Name] && namesBudget(e.Message) {
			nodeEvents = append(nodeEvents, e)
		}
	}
	slices.SortStableFunc(nodeEvents, func(a, b *corev1.Event) int { return snapshot.LastSeen(b).Compare(snapshot.LastSeen(a)) })
	for _, e := range first(nodeEvents, 2) {
		lines = append(lines, "node "+e.InvolvedObject.Name+": "+check.EventLine(e, now))
	}
	return lines
}

func namesBudget(message string) bool {
	m := strings.ToLower(message)
	return strings.Contains(m, "disruption budget") || strings.Contains(m, "poddisruptionbudget")
}

func first[T any](items []T, n int) []T { return items[:min(n, len(items))] }

// describeAll reads "deployment shop/cart" or "deployment shop/cart and statefulset shop/db",
// naming MaxFixes of them at most.
func describeAll(refs []snapshot.Ref) string {
	parts := make([]string, 0, min(len(refs), check.MaxFixes)+1)
	for _, r := range refs[:min(len(refs), check.MaxFixes)] {
		parts = append(parts, r.Describe())
	}
	if len(refs) > check.MaxFixes {
		parts = append(parts, fmt.Sprintf("%d more workloads", len(refs)-check.MaxFixes))
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
