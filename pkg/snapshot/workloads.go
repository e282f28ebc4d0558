package snapshot

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Workload is something a person manages that carries a pod template: a controller's template,
// or a pod that no known controller templates (a bare or static pod, or one an operator owns).
// Checks of the pod spec report on workloads, so one finding covers all replicas and points at
// the object to edit.
type Workload struct {
	Ref Ref
	// Labels are the pod template's labels (a pod's own): what selectors match its pods by.
	Labels map[string]string
	// Annotations are the pod template's annotations (a pod's own): some security settings
	// (AppArmor, and seccomp before v1.19) were annotations.
	Annotations map[string]string
	Spec        *corev1.PodSpec
}

// WorkloadKinds are the kinds Workloads reads: checks that judge workloads require them.
func WorkloadKinds() []Kind {
	return []Kind{KindDeployments, KindStatefulSets, KindDaemonSets, KindCronJobs, KindJobs, KindReplicaSets, KindPods}
}

// LegacyWorkloadKinds are workload kinds read when they can be, but whose absence blinds no
// check: ReplicationControllers are rare, an older deploy/rbac.yaml does not grant them, and a
// snapshot recorded before they were read has none. Checks list them as Optional.
func LegacyWorkloadKinds() []Kind {
	return []Kind{KindReplicationControllers}
}

// Workloads lists every workload in a stable order: controllers by kind, then one pod for each
// owner whose template the snapshot lacks (bare and static pods, operators' pods).
func (s *Snapshot) Workloads() []Workload {
	var out []Workload
	add := func(k Kind, meta *metav1.ObjectMeta, template *corev1.PodTemplateSpec) {
		out = append(out, Workload{Ref: RefTo(k, meta.Namespace, meta.Name), Labels: template.Labels, Annotations: template.Annotations, Spec: &template.Spec})
	}
	for i := range s.Deployments {
		d := &s.Deployments[i]
		add(KindDeployments, &d.ObjectMeta, &d.Spec.Template)
	}
	for i := range s.StatefulSets {
		st := &s.StatefulSets[i]
		add(KindStatefulSets, &st.ObjectMeta, &st.Spec.Template)
	}
	for i := range s.DaemonSets {
		ds := &s.DaemonSets[i]
		add(KindDaemonSets, &ds.ObjectMeta, &ds.Spec.Template)
	}
	// A ReplicationController without a template (the API server refuses one) runs nothing.
	for i := range s.ReplicationControllers {
		if rc := &s.ReplicationControllers[i]; rc.Spec.Template != nil {
			add(KindReplicationControllers, &rc.ObjectMeta, rc.Spec.Template)
		}
	}
	for i := range s.CronJobs {
		cj := &s.CronJobs[i]
		add(KindCronJobs, &cj.ObjectMeta, &cj.Spec.JobTemplate.Spec.Template)
	}
	// Jobs and ReplicaSets that a controller owns (a CronJob, a Deployment, or an operator's
	// kind such as a Rollout) are reported on that controller, through their pods if its
	// template is not in the snapshot; a bare ReplicaSet scaled to zero runs nothing.
	for i := range s.Jobs {
		if job := &s.Jobs[i]; metav1.GetControllerOf(job) == nil {
			add(KindJobs, &job.ObjectMeta, &job.Spec.Template)
		}
	}
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		if metav1.GetControllerOf(rs) == nil && (rs.Spec.Replicas == nil || *rs.Spec.Replicas > 0) {
			add(KindReplicaSets, &rs.ObjectMeta, &rs.Spec.Template)
		}
	}
	seen := map[Ref]bool{}
	for _, w := range out {
		seen[w.Ref] = true
	}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if !IsLive(pod) {
			continue
		}
		// A pod whose owner's template was not read (forbidden, or absent from the files)
		// stands in for it.
		owner := s.TopOwner(pod)
		if seen[owner] {
			continue
		}
		seen[owner] = true
		out = append(out, Workload{Ref: owner, Labels: pod.Labels, Annotations: pod.Annotations, Spec: &pod.Spec})
	}
	return out
}

// The node labels the scheduler spreads replicas over: one node, one zone.
const (
	LabelHostname = "kubernetes.io/hostname"
	LabelZone     = "topology.kubernetes.io/zone"
)

// SpreadsReplicas tells whether the template asks the scheduler to keep its own pods apart, by
// node or by zone: a topology spread constraint or a pod anti-affinity term whose selector
// matches the template's own labels.
func SpreadsReplicas(template *corev1.PodTemplateSpec) bool {
	own := labels.Set(template.Labels)
	selects := func(sel *metav1.LabelSelector) bool {
		selector, err := metav1.LabelSelectorAsSelector(sel)
		return err == nil && selector.Matches(own) // nil selects nothing, {} everything
	}
	spreadKey := func(key string) bool { return key == LabelHostname || key == LabelZone }
	for _, tsc := range template.Spec.TopologySpreadConstraints {
		if spreadKey(tsc.TopologyKey) && selects(tsc.LabelSelector) {
			return true
		}
	}
	if a := template.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if spreadKey(term.TopologyKey) && selects(term.LabelSelector) {
				return true
			}
		}
		for _, weighted := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if spreadKey(weighted.PodAffinityTerm.TopologyKey) && selects(weighted.PodAffinityTerm.LabelSelector) {
				return true
			}
		}
	}
	return false
}
