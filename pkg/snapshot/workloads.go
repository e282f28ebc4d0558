package snapshot

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Workload is something a person manages that carries a pod template: a controller's template,
// or a pod that no known controller templates (a bare or static pod, or one an operator owns).
// Checks of the pod spec report on workloads, so one finding covers all replicas and points at
// the object to edit.
type Workload struct {
	Ref  Ref
	Spec *corev1.PodSpec
}

// Workloads lists every workload in a stable order: controllers by kind, then one pod for each
// owner whose template the snapshot lacks (bare and static pods, operators' pods).
func (s *Snapshot) Workloads() []Workload {
	var out []Workload
	add := func(k Kind, namespace, name string, spec *corev1.PodSpec) {
		out = append(out, Workload{Ref: RefTo(k, namespace, name), Spec: spec})
	}
	for i := range s.Deployments {
		d := &s.Deployments[i]
		add(KindDeployments, d.Namespace, d.Name, &d.Spec.Template.Spec)
	}
	for i := range s.StatefulSets {
		st := &s.StatefulSets[i]
		add(KindStatefulSets, st.Namespace, st.Name, &st.Spec.Template.Spec)
	}
	for i := range s.DaemonSets {
		ds := &s.DaemonSets[i]
		add(KindDaemonSets, ds.Namespace, ds.Name, &ds.Spec.Template.Spec)
	}
	for i := range s.CronJobs {
		cj := &s.CronJobs[i]
		add(KindCronJobs, cj.Namespace, cj.Name, &cj.Spec.JobTemplate.Spec.Template.Spec)
	}
	// Jobs and ReplicaSets that a controller owns (a CronJob, a Deployment, or an operator's
	// kind such as a Rollout) are reported on that controller, through their pods if its
	// template is not in the snapshot; a bare ReplicaSet scaled to zero runs nothing.
	for i := range s.Jobs {
		if job := &s.Jobs[i]; metav1.GetControllerOf(job) == nil {
			add(KindJobs, job.Namespace, job.Name, &job.Spec.Template.Spec)
		}
	}
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		if metav1.GetControllerOf(rs) == nil && (rs.Spec.Replicas == nil || *rs.Spec.Replicas > 0) {
			add(KindReplicaSets, rs.Namespace, rs.Name, &rs.Spec.Template.Spec)
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
		out = append(out, Workload{Ref: owner, Spec: &pod.Spec})
	}
	return out
}
