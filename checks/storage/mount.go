package storage

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// MountFailures finds pods that do not start because a volume fails to attach or mount.
type MountFailures struct{}

func (MountFailures) Meta() check.Meta {
	return check.Meta{
		ID:       "volume-mount-failed",
		Title:    "Pods cannot mount their volumes",
		Category: check.CategoryStorage,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindPods, snapshot.KindEvents},
		Optional: ownerKinds(),
		LiveOnly: true,
		Absorbs:  []string{"statefulset-unavailable", "deployment-unavailable", "daemonset-unavailable"},
		Description: "Looks for pods that are not ready with FailedMount or FailedAttachVolume events of the last hour (Multi-Attach " +
			"errors are volume-multi-attach's), quotes the newest, and names the volume and the pods' owner.",
		Why: "The kubelet does not start a pod's containers until every volume is mounted: the pod stays ContainerCreating, " +
			"and the kubelet retries with the same result until what the message names is fixed.",
		Remediation: "Act on the quoted message: a missing ConfigMap, Secret or claim is created; a CSI error points at the " +
			"driver's node plugin on that node (its logs); an attach error at the storage backend or the driver's controller.",
		References: []string{"https://kubernetes.io/docs/tasks/debug/debug-application/debug-pods/"},
	}
}

func (c MountFailures) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	m := newModel(s)
	type failing struct {
		pod   *corev1.Pod
		event corev1.Event
	}
	var groups check.Groups[snapshot.Ref, failing]
	for i := range s.Pods {
		pod := &s.Pods[i]
		if !snapshot.IsLive(pod) || snapshot.PodReady(pod) {
			continue
		}
		for _, e := range recent(s, pod, "FailedMount", "FailedAttachVolume") {
			if !strings.Contains(e.Message, "Multi-Attach error") {
				groups.Add(m.owner(pod), failing{pod, e})
				break
			}
		}
	}
	var findings []check.Finding
	for _, owner := range groups.Keys() {
		items := groups.Get(owner)
		var volumes, evidence []string
		var pods []*corev1.Pod
		var times []time.Time
		for _, it := range items {
			pods = append(pods, it.pod)
			volume := volumeOf(it.event.Message)
			if volume != "" && !slices.Contains(volumes, volume) {
				volumes = append(volumes, volume)
			}
			if volume == "" {
				volume = "(not named)"
			}
			evidence = append(evidence, fmt.Sprintf("pod %s, volume %s: %s", it.pod.Name, volume, check.EventLine(&it.event, s.CollectedAt)))
			times = append(times, it.event.FirstTimestamp.Time)
		}
		what := "their volumes"
		if len(volumes) > 0 {
			what = check.PluralForm(len(volumes), "volume ", "volumes ") + strings.Join(volumes, ", ")
		}
		f := check.New(meta, fmt.Sprintf("%s of %s cannot mount %s: %s", check.Plural(len(pods), "pod", "pods"), owner.Describe(), what,
			check.OneLine(items[0].event.Message, 200)), owner)
		f.Severity = m.impact(owner)
		f.Incident = true
		f.Since = check.Earliest(times...)
		f.Evidence = check.LimitEvidence(evidence)
		f.Fix = describePods(pods)
		findings = append(findings, f)
	}
	return findings
}
