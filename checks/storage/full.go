package storage

import (
	"fmt"
	"math"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// VolumeFull finds volumes nearly out of space or inodes, as the kubelets report them.
type VolumeFull struct{}

// A volume over highUsed is reported high, over criticalUsed critical: past 90% a growing
// database has hours or days left, past 97% minutes.
const (
	highUsed     = 0.90
	criticalUsed = 0.97
)

func (VolumeFull) Meta() check.Meta {
	return check.Meta{
		ID:       "volume-nearly-full",
		Title:    "Volumes are nearly full",
		Category: check.CategoryStorage,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindVolumeStats},
		Optional: append([]snapshot.Kind{snapshot.KindPods, snapshot.KindPersistentVolumeClaims, snapshot.KindStorageClasses}, ownerKinds()...),
		LiveOnly: true,
		Description: "Reads the kubelets' kubelet_volume_stats_capacity_bytes, _available_bytes, _inodes and _inodes_free from the " +
			"Prometheus of --prometheus-url and reports claims over 90% used (high) or over 97%, or out of inodes (critical), " +
			"with the pods mounting them and their owner.",
		Why: "A full volume fails every write: databases stop or crash, and a log or queue volume takes its application down " +
			"with it. Inodes run out on volumes of many small files while bytes remain.",
		Remediation: "Expand the claim (raise spec.resources.requests.storage) when its StorageClass allows volume expansion, or " +
			"delete what fills it; then alert before 90%.",
		References: []string{"https://kubernetes.io/docs/concepts/storage/persistent-volumes/#expanding-persistent-volumes-claims"},
	}
}

func (c VolumeFull) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	if s.VolumeStats == nil {
		return nil
	}
	m := newModel(s)
	type group struct {
		namespace string
		owner     snapshot.Ref
		severity  check.Severity
	}
	var groups check.Groups[group, snapshot.VolumeUsage]
	_, claimsUnread := s.Unavailable[snapshot.KindPersistentVolumeClaims]
	for _, v := range s.VolumeStats.Volumes {
		// A Prometheus shared with other clusters reports their claims too: only this one's count.
		if !claimsUnread && m.claims[key{v.Namespace, v.Claim}] == nil {
			continue
		}
		severity, full := fullness(v)
		if !full {
			continue
		}
		var owner snapshot.Ref
		if pods := m.consumers[key{v.Namespace, v.Claim}]; len(pods) > 0 {
			owner = m.owner(pods[0])
		}
		groups.Add(group{v.Namespace, owner, severity}, v)
	}
	var findings []check.Finding
	for _, g := range groups.Keys() {
		volumes := groups.Get(g)
		var refs []snapshot.Ref
		if g.owner != (snapshot.Ref{}) {
			refs = append(refs, g.owner)
		}
		for _, v := range volumes {
			refs = append(refs, snapshot.RefTo(snapshot.KindPersistentVolumeClaims, v.Namespace, v.Claim))
		}
		whose := "in namespace " + g.namespace
		if g.owner != (snapshot.Ref{}) {
			whose = "of " + g.owner.Describe()
		}
		f := check.New(meta, fmt.Sprintf("%s %s %s nearly full: %s", check.Plural(len(volumes), "volume", "volumes"), whose,
			check.PluralForm(len(volumes), "is", "are"), usageLine(m, volumes[0])), refs...)
		f.Severity = g.severity
		f.Incident = g.severity == check.Critical
		f.Evidence = check.EvidenceOf(len(volumes), func(i int) string { return usageLine(m, volumes[i]) })
		f.Fix = check.FixEach(len(volumes), "claims", func(i int) string { return expandFix(m, volumes[i]) })
		findings = append(findings, f)
	}
	return findings
}

// fullness grades a volume's use of bytes and inodes; false when it has room.
func fullness(v snapshot.VolumeUsage) (check.Severity, bool) {
	used := v.UsedRatio()
	inodesFull := v.Inodes > 0 && v.InodesFree <= 0
	inodesUsed := 0.0
	if v.Inodes > 0 {
		inodesUsed = (v.Inodes - v.InodesFree) / v.Inodes
	}
	switch {
	case used > criticalUsed || inodesFull || inodesUsed > criticalUsed:
		return check.Critical, true
	case used > highUsed || inodesUsed > highUsed:
		return check.High, true
	}
	return "", false
}

// usageLine reads "claim data-db-0 (pod db-0 on node-a): 9.6Gi of 10Gi used (96%), 400Mi free".
func usageLine(m *model, v snapshot.VolumeUsage) string {
	line := "claim " + v.Claim
	if pods := m.consumers[key{v.Namespace, v.Claim}]; len(pods) > 0 {
		line += " (pod " + pods[0].Name
		if pods[0].Spec.NodeName != "" {
			line += " on " + pods[0].Spec.NodeName
		}
		line += ")"
	}
	line += fmt.Sprintf(": %s of %s used (%.0f%%), %s free", bytes(v.CapacityBytes-v.AvailableBytes), bytes(v.CapacityBytes),
		math.Floor(v.UsedRatio()*100), bytes(v.AvailableBytes))
	if v.Inodes > 0 {
		line += fmt.Sprintf("; inodes %.0f of %.0f used", v.Inodes-v.InodesFree, v.Inodes)
	}
	return line
}

// bytes renders a size in the binary units claims are written in (9.6Gi).
func bytes(n float64) string {
	units := []string{"", "Ki", "Mi", "Gi", "Ti", "Pi"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 || n >= 100 || n == math.Trunc(n) {
		return fmt.Sprintf("%.0f%s", n, units[i])
	}
	return fmt.Sprintf("%.1f%s", n, units[i])
}

// expandFix raises the claim's request where its StorageClass allows expansion.
func expandFix(m *model, v snapshot.VolumeUsage) string {
	target := "-n " + check.Quote(v.Namespace) + " pvc/" + check.Quote(v.Claim)
	claim := m.claims[key{v.Namespace, v.Claim}]
	if claim != nil && claim.Spec.StorageClassName != nil {
		if class := m.classes[*claim.Spec.StorageClassName]; class != nil && (class.AllowVolumeExpansion == nil || !*class.AllowVolumeExpansion) {
			return check.Comment(fmt.Sprintf("StorageClass %s does not allow expansion: free space on claim %s/%s, or move its data to a larger claim",
				class.Name, v.Namespace, v.Claim))
		}
	}
	return "kubectl patch " + target + ` -p '{"spec":{"resources":{"requests":{"storage":"NEW_SIZE"}}}}'   # NEW_SIZE above ` +
		bytes(v.CapacityBytes) + "; needs a StorageClass with allowVolumeExpansion"
}
