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

// MultiAttach finds pods that cannot attach a volume because it is still attached elsewhere,
// typically to a node that died.
type MultiAttach struct{}

func (MultiAttach) Meta() check.Meta {
	return check.Meta{
		ID:       "volume-multi-attach",
		Title:    "Volumes cannot attach: still attached to another node",
		Category: check.CategoryStorage,
		Severity: check.Critical,
		Requires: []snapshot.Kind{snapshot.KindPods, snapshot.KindVolumeAttachments},
		Optional: append([]snapshot.Kind{snapshot.KindEvents, snapshot.KindNodes, snapshot.KindPersistentVolumes}, ownerKinds()...),
		LiveOnly: true,
		Absorbs:  []string{"statefulset-unavailable", "deployment-unavailable"},
		Description: "Looks for pods whose volume cannot attach because its VolumeAttachment still holds it on another node: " +
			"FailedAttachVolume events saying \"Multi-Attach error\", and VolumeAttachments on a NotReady or deleted node whose " +
			"PersistentVolume a pod elsewhere waits for. Names the node, the VolumeAttachment and the pods' owner.",
		Why: "A ReadWriteOnce volume attaches to one node at a time. When a node dies, its VolumeAttachments stay until the " +
			"node is known to be gone, so the replacement pod waits forever: the database or queue behind it stays down.",
		Remediation: "Confirm the old node is really gone (shut down or deleted, not just unreachable), then taint it " +
			"node.kubernetes.io/out-of-service=nodeshutdown:NoExecute or delete the Node object: Kubernetes then detaches its " +
			"volumes. Delete a VolumeAttachment by hand only if it stays after that. When the other node is Ready, the volume " +
			"is in use there: a ReadWriteOnce volume needs a Deployment strategy Recreate, not RollingUpdate.",
		References: []string{
			"https://kubernetes.io/docs/concepts/cluster-administration/node-shutdown/#non-graceful-node-shutdown",
			"https://kubernetes.io/docs/concepts/storage/persistent-volumes/#access-modes",
		},
	}
}

// stuck is one pod waiting for a volume held on another node.
type stuck struct {
	pod    *corev1.Pod
	volume string
	event  *corev1.Event
}

func (c MultiAttach) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	m := newModel(s)
	byVolume := map[string][]*storagev1.VolumeAttachment{}
	for i := range s.VolumeAttachments {
		va := &s.VolumeAttachments[i]
		if pv := va.Spec.Source.PersistentVolumeName; pv != nil {
			byVolume[*pv] = append(byVolume[*pv], va)
		}
	}
	type group struct {
		owner  snapshot.Ref
		holder string // the node the volume is attached to
	}
	var groups check.Groups[group, stuck]
	attachments := map[group][]*storagev1.VolumeAttachment{}
	seen := map[key]bool{}
	add := func(st stuck, va *storagev1.VolumeAttachment) {
		g := group{m.owner(st.pod), va.Spec.NodeName}
		groups.Add(g, st)
		if !slices.Contains(attachments[g], va) {
			attachments[g] = append(attachments[g], va)
		}
		seen[key{st.pod.Namespace + "/" + st.pod.Name, st.volume}] = true
	}
	// The evidence Kubernetes gives: the attach/detach controller's Multi-Attach events.
	for i := range s.Pods {
		pod := &s.Pods[i]
		if !snapshot.IsLive(pod) || snapshot.PodReady(pod) {
			continue
		}
		for _, e := range recent(s, pod, "FailedAttachVolume") {
			if !strings.Contains(e.Message, "Multi-Attach error") {
				continue
			}
			volume := volumeOf(e.Message)
			for _, va := range byVolume[volume] {
				if va.Spec.NodeName != pod.Spec.NodeName && !seen[key{pod.Namespace + "/" + pod.Name, volume}] {
					add(stuck{pod: pod, volume: volume, event: &e}, va)
				}
			}
			break
		}
	}
	// The same state without its event (events expire after an hour): a volume held on a dead
	// node, wanted by a pod placed elsewhere that does not run.
	for i := range s.VolumeAttachments {
		va := &s.VolumeAttachments[i]
		down, _ := m.nodeDown(va.Spec.NodeName)
		pvName := va.Spec.Source.PersistentVolumeName
		if !down || pvName == nil || m.volumes[*pvName] == nil || m.volumes[*pvName].Spec.ClaimRef == nil || !singleNode(m.volumes[*pvName]) {
			continue
		}
		ref := m.volumes[*pvName].Spec.ClaimRef
		for _, pod := range m.consumers[key{ref.Namespace, ref.Name}] {
			if pod.Spec.NodeName != "" && pod.Spec.NodeName != va.Spec.NodeName && !snapshot.PodReady(pod) &&
				!seen[key{pod.Namespace + "/" + pod.Name, *pvName}] {
				add(stuck{pod: pod, volume: *pvName}, va)
			}
		}
	}
	var findings []check.Finding
	for _, g := range groups.Keys() {
		items := groups.Get(g)
		vas := attachments[g]
		down, state := m.nodeDown(g.holder)
		var volumes, evidence []string
		var pods []*corev1.Pod
		var times []time.Time
		for _, it := range items {
			if !slices.Contains(volumes, it.volume) {
				volumes = append(volumes, it.volume)
			}
			if !slices.Contains(pods, it.pod) {
				pods = append(pods, it.pod)
			}
			line := fmt.Sprintf("pod %s on node %s waits for volume %s", it.pod.Name, it.pod.Spec.NodeName, it.volume)
			if it.event != nil {
				line += ": " + check.EventLine(it.event, s.CollectedAt)
				times = append(times, it.event.FirstTimestamp.Time)
			}
			evidence = append(evidence, line)
		}
		for _, va := range vas {
			evidence = append(evidence, fmt.Sprintf("VolumeAttachment %s: volume %s attached=%t on node %s", va.Name,
				ptrOr(va.Spec.Source.PersistentVolumeName), va.Status.Attached, va.Spec.NodeName))
		}
		where := "node " + g.holder + ", where it is in use (a ReadWriteOnce volume attaches to one node at a time)"
		if down {
			where = "node " + g.holder + ", which " + state + ", and Kubernetes does not detach a volume from a node it cannot tell is gone"
			if m.nodes[g.holder] == nil {
				where = "node " + g.holder + ", which " + state + ": its VolumeAttachment was left behind (the CSI driver's attacher did not detach it)"
			}
		}
		f := check.New(meta, fmt.Sprintf("%s of %s cannot attach %s: still attached to %s", check.Plural(len(pods), "pod", "pods"),
			g.owner.Describe(), check.PluralForm(len(volumes), "volume "+volumes[0], "volumes "+strings.Join(volumes, ", ")), where), g.owner)
		for _, va := range vas {
			f.Objects = append(f.Objects, snapshot.RefTo(snapshot.KindVolumeAttachments, "", va.Name))
		}
		f.Severity = m.impact(g.owner)
		f.Incident = true
		f.Since = check.Earliest(times...)
		f.Evidence = check.LimitEvidence(evidence)
		f.Fix = multiAttachFix(g.holder, down, m.nodes[g.holder] != nil, vas)
		findings = append(findings, f)
	}
	return findings
}

// multiAttachFix frees the volumes held on node: after confirming the node is gone, the
// out-of-service taint (non-graceful node shutdown) or deleting the Node makes the attach/detach
// controller detach them; the VolumeAttachment by hand only as the last step.
func multiAttachFix(node string, down, exists bool, vas []*storagev1.VolumeAttachment) []string {
	deleteVAs := check.FixNames(vaNames(vas), "VolumeAttachments", func(names string) string {
		return "kubectl delete volumeattachment " + names + "   # only if still there once the node is gone"
	})
	switch {
	case !down:
		return []string{"kubectl get pods -A -o wide --field-selector spec.nodeName=" + check.Quote(node),
			check.Comment("the volume is mounted by a pod on node " + node + ": stop that pod first, or use strategy Recreate for a Deployment with a ReadWriteOnce volume")}
	case !exists:
		return deleteVAs
	}
	n := check.Quote(node)
	return append([]string{
		"kubectl get node " + n + " -o wide   # confirm the machine is shut down or deleted, not just unreachable",
		"kubectl taint node " + n + " node.kubernetes.io/out-of-service=nodeshutdown:NoExecute   # once confirmed: its pods are deleted and volumes detached; remove the taint when the node returns",
		"kubectl delete node " + n + "   # instead of the taint, if the machine will not come back",
	}, deleteVAs...)
}

func vaNames(vas []*storagev1.VolumeAttachment) []string {
	out := make([]string, len(vas))
	for i, va := range vas {
		out[i] = va.Name
	}
	return out
}

func ptrOr(p *string) string {
	if p == nil {
		return "(inline)"
	}
	return *p
}

// singleNode tells whether a volume may be attached to one node at a time (ReadWriteOnce or
// ReadWriteOncePod only): a shared volume attached to a dead node does not keep it from another.
func singleNode(pv *corev1.PersistentVolume) bool {
	if len(pv.Spec.AccessModes) == 0 {
		return false
	}
	for _, mode := range pv.Spec.AccessModes {
		if mode != corev1.ReadWriteOnce && mode != corev1.ReadWriteOncePod {
			return false
		}
	}
	return true
}
