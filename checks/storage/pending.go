package storage

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// PendingClaims finds PersistentVolumeClaims that do not bind, and says why.
type PendingClaims struct{}

// noProvisioner is the provisioner of StorageClasses for statically created volumes (local
// volumes): nothing creates them on demand.
const noProvisioner = "kubernetes.io/no-provisioner"

// pendingPatience is how long a claim may wait for what usually takes seconds (a provisioner
// creating its volume) before the wait itself is reported.
const pendingPatience = 5 * time.Minute

func (PendingClaims) Meta() check.Meta {
	return check.Meta{
		ID:       "pvc-pending",
		Title:    "PersistentVolumeClaims are Pending",
		Category: check.CategoryStorage,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindPersistentVolumeClaims, snapshot.KindStorageClasses},
		Optional: append([]snapshot.Kind{snapshot.KindPods, snapshot.KindEvents, snapshot.KindPersistentVolumes, snapshot.KindCSINodes},
			ownerKinds()...),
		LiveOnly: true,
		// The claims of a StatefulSet in trouble make its pods unschedulable and it unavailable:
		// one outage, whose cause is the claim.
		Absorbs: []string{"pod-unschedulable", "statefulset-unavailable", "deployment-unavailable"},
		Description: "Looks at PersistentVolumeClaims in phase Pending and says why each does not bind: the StorageClass it " +
			"names does not exist; it names none and the cluster has no default StorageClass (or several); it waits for its " +
			"first consumer (WaitForFirstConsumer) and that pod cannot be scheduled, with the scheduler's reason; its " +
			"provisioner failed (ProvisioningFailed events, quoted) or is a CSI driver no node has registered. Names the pods " +
			"waiting for it and their owner.",
		Why: "A pod does not start until every claim it mounts is bound: a StatefulSet stops at the replica whose claim is " +
			"Pending, and a Deployment with one replica is down. Nothing retries its way out of a missing StorageClass.",
		Remediation: "Create the StorageClass the claim names, or recreate the claim with one that exists (a claim's " +
			"storageClassName cannot change); mark exactly one StorageClass default; install the CSI driver that provisions " +
			"the class; for WaitForFirstConsumer, fix what keeps the consuming pod from being scheduled.",
		References: []string{
			"https://kubernetes.io/docs/concepts/storage/persistent-volumes/#binding",
			"https://kubernetes.io/docs/concepts/storage/storage-classes/#default-storageclass",
			"https://kubernetes.io/docs/concepts/storage/storage-classes/#volume-binding-mode",
		},
	}
}

// diagnosis is why one claim does not bind.
type diagnosis struct {
	// reason groups claims that wait for the same thing; text says it.
	reason, text string
	// scheduling is the scheduler's reason for a consumer it cannot place; volume tells that
	// reason is the claim itself, which makes the pod's pod-unschedulable finding part of this one.
	scheduling string
	volume     bool
	// notStorage: the claim waits only for its consumer, whose trouble is not a volume's.
	notStorage bool
	fix        []string
}

func (c PendingClaims) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	m := newModel(s)
	type group struct {
		namespace string
		owner     snapshot.Ref
		reason    string
	}
	var groups check.Groups[group, *corev1.PersistentVolumeClaim]
	diagnoses := map[*corev1.PersistentVolumeClaim]diagnosis{}
	for i := range s.PersistentVolumeClaims {
		claim := &s.PersistentVolumeClaims[i]
		if claim.Status.Phase != corev1.ClaimPending || claim.DeletionTimestamp != nil {
			continue
		}
		d, ok := m.diagnose(claim)
		if !ok {
			continue
		}
		diagnoses[claim] = d
		var owner snapshot.Ref
		if pods := m.consumers[key{claim.Namespace, claim.Name}]; len(pods) > 0 {
			owner = m.owner(pods[0])
		}
		groups.Add(group{claim.Namespace, owner, d.reason}, claim)
	}
	var findings []check.Finding
	for _, g := range groups.Keys() {
		claims := groups.Get(g)
		d := diagnoses[claims[0]]
		var refs []snapshot.Ref
		var pods []*corev1.Pod
		var evidence []string
		var created []time.Time
		for _, claim := range claims {
			refs = append(refs, snapshot.RefTo(snapshot.KindPersistentVolumeClaims, claim.Namespace, claim.Name))
			created = append(created, claim.CreationTimestamp.Time)
			consumers := m.consumers[key{claim.Namespace, claim.Name}]
			pods = append(pods, consumers...)
			line := "claim " + claim.Name + " (Pending " + check.For(claim.CreationTimestamp.Time, s.CollectedAt) + ")"
			if len(consumers) > 0 {
				line += ", mounted by pod " + consumers[0].Name
				if len(consumers) > 1 {
					line += fmt.Sprintf(" and %d more", len(consumers)-1)
				}
			} else {
				line += ", mounted by no pod"
			}
			if text := diagnoses[claim].text; text != d.text {
				line += ": " + text
			}
			evidence = append(evidence, line)
			if events := s.WarningEvents("PersistentVolumeClaim", claim.Namespace, claim.Name); len(events) > 0 {
				evidence = append(evidence, "claim "+claim.Name+": "+check.EventLine(&events[0], s.CollectedAt))
			}
		}
		what := check.Plural(len(claims), "PersistentVolumeClaim", "PersistentVolumeClaims") + " in namespace " + g.namespace
		severity := check.Low
		consequence := "; no pod mounts " + check.PluralForm(len(claims), "it", "them") + " yet"
		if g.owner != (snapshot.Ref{}) {
			what = check.Plural(len(claims), "PersistentVolumeClaim", "PersistentVolumeClaims") + " of " + g.owner.Describe()
			severity = m.impact(g.owner)
			consequence = "; " + m.waiting(g.owner, len(pods), "waits for "+check.PluralForm(len(claims), "it", "them"),
				"wait for "+check.PluralForm(len(claims), "it", "them"))
			if d.notStorage {
				severity = check.Medium
			}
		}
		f := check.New(meta, fmt.Sprintf("%s %s Pending: %s%s", what, check.PluralForm(len(claims), "is", "are"), d.text, consequence))
		// The owner is among the objects only when the claim is why its pods wait: its
		// pod-unschedulable finding then folds into this one.
		if g.owner != (snapshot.Ref{}) && !d.notStorage {
			f.Objects = append(f.Objects, g.owner)
		}
		f.Objects = append(f.Objects, refs...)
		f.Severity = severity
		f.Incident = g.owner != (snapshot.Ref{})
		f.Since = check.Earliest(created...)
		f.Evidence = check.LimitEvidence(evidence)
		f.Fix = append(check.FixEach(len(claims), "claims", func(i int) string {
			return "kubectl describe pvc -n " + check.Quote(claims[i].Namespace) + " " + check.Quote(claims[i].Name)
		}), d.fix...)
		findings = append(findings, f)
	}
	return findings
}

// diagnose says why claim is Pending; false when it is waiting as it should (for its first
// consumer, or for a provisioner that has had little time).
func (m *model) diagnose(claim *corev1.PersistentVolumeClaim) (diagnosis, bool) {
	s := m.s
	age := s.CollectedAt.Sub(claim.CreationTimestamp.Time)
	failed := provisioningFailure(s, claim)
	named := claim.Spec.StorageClassName
	switch {
	case named != nil && *named == "":
		return diagnosis{reason: "static", text: `its storageClassName is "" (no dynamic provisioning), and no Available PersistentVolume ` +
			"matches its size, access modes and selector",
			fix: []string{"kubectl get pv", check.Comment("create a PersistentVolume that matches the claim, or recreate the claim with a StorageClass")}}, true
	case named != nil && m.classes[*named] == nil:
		return diagnosis{reason: "class " + *named, text: fmt.Sprintf("StorageClass %q does not exist", *named),
			fix: []string{"kubectl get storageclass",
				check.Comment(fmt.Sprintf("create StorageClass %s, or recreate the claim naming one listed above "+
					"(a claim's storageClassName cannot change; a StatefulSet's volumeClaimTemplates neither)", *named))}}, true
	case named == nil && len(m.defaults) == 0:
		return diagnosis{reason: "no default", text: "it names no StorageClass and the cluster has no default StorageClass",
			fix: markDefault(m)}, true
	case named == nil && len(m.defaults) > 1:
		keep := newestDefault(m)
		var fix []string
		for _, name := range m.defaults {
			if name != keep {
				fix = append(fix, "kubectl patch storageclass "+check.Quote(name)+" -p '{\"metadata\":{\"annotations\":{\""+annDefaultClass+"\":\"false\"}}}'")
			}
		}
		return diagnosis{reason: "defaults", text: fmt.Sprintf("it names no StorageClass, and %d StorageClasses are marked default (%s): "+
			"which one a claim gets depends on the Kubernetes version (older ones refuse to choose)", len(m.defaults), strings.Join(m.defaults, ", ")),
			fix: append(fix, check.Comment("keep one default StorageClass ("+keep+", the newest, above)"))}, true
	}
	var class *storagev1.StorageClass
	if named != nil {
		class = m.classes[*named]
	}
	consumers := m.consumers[key{claim.Namespace, claim.Name}]
	if class != nil && class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer &&
		claim.Annotations[annSelectedNode] == "" && failed == nil {
		for _, pod := range consumers {
			if why, ok := unschedulable(pod); ok {
				volume := mentionsVolume(why)
				return diagnosis{reason: "consumer " + pod.Name, scheduling: why, volume: volume, notStorage: !volume,
					text: fmt.Sprintf("StorageClass %s binds on the first consumer (WaitForFirstConsumer), and pod %s cannot be scheduled: %s",
						class.Name, pod.Name, check.OneLine(why, 300)),
					fix: describePods([]*corev1.Pod{pod})}, true
			}
		}
		return diagnosis{}, false // waiting for a consumer, as it should
	}
	provisioner := claim.Annotations[annStorageProvisioner]
	if provisioner == "" {
		provisioner = claim.Annotations[annBetaStorageProvisioner]
	}
	if provisioner == "" && class != nil {
		provisioner = class.Provisioner
	}
	if failed != nil {
		return diagnosis{reason: "failed " + provisioner, text: "provisioning failed: " + check.OneLine(failed.Message, 240),
			fix: provisionerFix(provisioner)}, true
	}
	if provisioner == noProvisioner {
		return diagnosis{reason: "static", text: fmt.Sprintf("StorageClass %s provisions nothing (%s), and no Available PersistentVolume "+
			"of the class matches its size, access modes and selector", class.Name, noProvisioner),
			fix: []string{"kubectl get pv", check.Comment("create a PersistentVolume of class " + class.Name + " that matches the claim")}}, true
	}
	// A CSI driver's name is a domain name; an external provisioner that is no CSI driver
	// (example.com/nfs), or an in-tree one (kubernetes.io/...), never registers on a node.
	if provisioner != "" && !strings.Contains(provisioner, "/") && m.csiRead() && m.registered[provisioner] == 0 {
		return diagnosis{reason: "unregistered " + provisioner, text: fmt.Sprintf("it waits for provisioner %s, a CSI driver that no node has "+
			"registered (no CSINode lists it): the driver is not installed, or its pods run nowhere", provisioner),
			fix: provisionerFix(provisioner)}, true
	}
	if age < pendingPatience {
		return diagnosis{}, false
	}
	if provisioner != "" {
		return diagnosis{reason: "waiting " + provisioner, text: fmt.Sprintf("it has waited %s for provisioner %s to create its volume",
			check.For(claim.CreationTimestamp.Time, s.CollectedAt), provisioner), fix: provisionerFix(provisioner)}, true
	}
	return diagnosis{reason: "waiting", text: "it has waited " + check.For(claim.CreationTimestamp.Time, s.CollectedAt) + " to bind"}, true
}

// markDefault makes a StorageClass the default, which claims naming none then get (since
// Kubernetes 1.28 also those already Pending): the only one there is, else one to choose.
func markDefault(m *model) []string {
	patch := " -p '{\"metadata\":{\"annotations\":{\"" + annDefaultClass + "\":\"true\"}}}'"
	switch len(m.s.StorageClasses) {
	case 0:
		return []string{check.Comment("the cluster has no StorageClass at all: install a storage provisioner (a CSI driver) and its StorageClass, marked default")}
	case 1:
		return []string{"kubectl patch storageclass " + check.Quote(m.s.StorageClasses[0].Name) + patch}
	}
	return []string{"kubectl get storageclass", check.Comment("mark the one claims should get default: kubectl patch storageclass CLASS" + patch)}
}

// provisioningFailure is the newest ProvisioningFailed event about claim.
func provisioningFailure(s *snapshot.Snapshot, claim *corev1.PersistentVolumeClaim) *corev1.Event {
	for _, e := range s.WarningEvents("PersistentVolumeClaim", claim.Namespace, claim.Name) {
		if e.Reason == "ProvisioningFailed" {
			return &e
		}
	}
	return nil
}

func provisionerFix(provisioner string) []string {
	if provisioner == "" {
		return nil
	}
	return []string{"kubectl get csinodes",
		"kubectl get pods -A -o wide | grep -i " + check.Quote(driverWord(provisioner)),
		check.Comment("check that the controller of provisioner " + provisioner + " runs and that its node plugin runs on every node")}
}

// csiRead tells whether the CSINodes were read, so that a driver missing from all of them means
// something.
func (m *model) csiRead() bool {
	_, unread := m.s.Unavailable[snapshot.KindCSINodes]
	return !unread && len(m.s.CSINodes) > 0
}

func hasDriver(n *storagev1.CSINode, driver string) bool {
	return slices.ContainsFunc(n.Spec.Drivers, func(d storagev1.CSINodeDriver) bool { return d.Name == driver })
}

// newestDefault is the default StorageClass created last: the one recent Kubernetes versions
// give a claim that names none.
func newestDefault(m *model) string {
	newest := m.defaults[0]
	for _, name := range m.defaults[1:] {
		if m.classes[name].CreationTimestamp.After(m.classes[newest].CreationTimestamp.Time) {
			newest = name
		}
	}
	return newest
}

// unschedulable is the scheduler's reason for not placing pod, if it gave up on it.
func unschedulable(pod *corev1.Pod) (string, bool) {
	if pod.Spec.NodeName != "" {
		return "", false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c.Message, true
		}
	}
	return "", false
}

// mentionsVolume tells a scheduler's reason that is about volumes (unbound claims, volume node
// affinity, a volume count limit, a StorageClass) from one about CPU, taints or affinity.
func mentionsVolume(message string) bool {
	lower := strings.ToLower(message)
	return strings.Contains(lower, "volume") || strings.Contains(lower, "storageclass")
}
