package engine

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// incidentCluster is a cluster of the size the README measures (pods/5 Deployments of five
// pods on pods/100 nodes) in its worst hour for grouping: every Deployment is down, a tenth of
// the nodes are NotReady, and each Deployment's pods have a Warning event and read a ConfigMap
// updated ten minutes before, so that every incident has a timeline to build. It returns the
// checks that report that: one finding per down node, linked to the workloads with pods there,
// and one per Deployment.
func incidentCluster(pods int, links bool) (*snapshot.Snapshot, []check.Check) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) metav1.Time { return metav1.NewTime(now.Add(-ago)) }
	s := snapshot.New(snapshot.SourceCluster)
	s.CollectedAt = now
	nodes := pods / 100
	for n := range nodes {
		s.Nodes = append(s.Nodes, corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%03d", n)}})
	}
	controller := true
	down := stub("node-down", check.CategoryWorkloads, check.High, true)
	workloads := stub("workload-down", check.CategoryWorkloads, check.Critical, true)
	for d := range pods / 5 {
		ns, name := fmt.Sprintf("ns-%03d", d%200), fmt.Sprintf("app-%04d", d)
		config := name + "-config"
		template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1", EnvFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: config}}}}}}}}
		s.Deployments = append(s.Deployments, appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: "d-" + "name"},
			Spec: appsv1.DeploymentSpec{Template: template}})
		s.ReplicaSets = append(s.ReplicaSets, appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name + "-5d4f", Namespace: ns,
			CreationTimestamp: at(20 * time.Minute), Annotations: map[string]string{"deployment.kubernetes.io/revision": "1"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, Controller: &controller}}},
			Spec: appsv1.ReplicaSetSpec{Template: template}})
		written := at(10 * time.Minute)
		s.ConfigMapMetadata = append(s.ConfigMapMetadata, snapshot.ConfigMapMetadata{Namespace: ns, Name: config, Created: at(48 * time.Hour),
			Writes: []metav1.ManagedFieldsEntry{{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate, Time: &written}}})
		for p := range 5 {
			pod := fmt.Sprintf("%s-5d4f-%d", name, p)
			s.Pods = append(s.Pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns, Labels: template.Labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: name + "-5d4f", Controller: &controller}}},
				Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%03d", (d*5+p)%nodes)}})
			s.Events = append(s.Events, corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: pod + ".1", Namespace: ns}, Type: corev1.EventTypeWarning,
				Reason: "Unhealthy", Message: "Readiness probe failed", FirstTimestamp: at(5 * time.Minute), LastTimestamp: at(time.Minute),
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod}})
		}
		f := check.Finding{Check: "workload-down", Severity: check.Critical, Incident: true, Scope: check.ScopeObject,
			Objects: []snapshot.Ref{snapshot.RefTo(snapshot.KindDeployments, ns, name)}}
		workloads.findings = append(workloads.findings, f)
	}
	since := at(15 * time.Minute)
	for n := 0; n < nodes; n += 10 {
		down.findings = append(down.findings, check.Finding{Check: "node-down", Severity: check.High, Incident: true, Scope: check.ScopeObject,
			Objects: []snapshot.Ref{snapshot.RefTo(snapshot.KindNodes, "", fmt.Sprintf("node-%03d", n))}, Since: &since.Time})
	}
	if links {
		down.meta.Links = []check.Link{{Explains: []string{"workload-down"}, How: "the workloads with pods on these nodes",
			Reach: func(s *snapshot.Snapshot, f check.Finding) []snapshot.Ref {
				nodes := check.NodesOf(f)
				return check.OwnersOfPods(s, func(pod *corev1.Pod) bool { return nodes[pod.Spec.NodeName] })
			}}}
	}
	s.Finish()
	return s, []check.Check{down, workloads}
}

// BenchmarkIncidents measures what incident grouping adds to a run: "grouping" is the grouping
// and timelines alone, building every index they read; "grouping after the checks" the same
// with the indexes the checks share already built, as in a run; "run" the engine with stub
// checks and grouping, "run without links" the same over the same findings with no link
// declared, so no incident. Per pod, at 10,000 and 50,000 pods: the
// time per pod must stay flat.
func BenchmarkIncidents(b *testing.B) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, pods := range []int{10000, 50000} {
		for _, bench := range []struct {
			name  string
			links bool
			run   func(b *testing.B, s *snapshot.Snapshot, plan Plan)
		}{
			{"grouping", true, func(b *testing.B, s *snapshot.Snapshot, plan Plan) {
				r := Run(s, plan, now)
				findings := r.Findings
				if len(r.Incidents) == 0 {
					b.Fatal("no incident")
				}
				b.ResetTimer()
				for b.Loop() {
					s.ForgetDerived()
					incidents(s, findings, plan.Run)
				}
			}},
			{"grouping after the checks", true, func(b *testing.B, s *snapshot.Snapshot, plan Plan) {
				// The indexes the checks share (objects, events by subject) are built: a run's
				// checks built them before grouping reads them.
				findings := Run(s, plan, now).Findings
				b.ResetTimer()
				for b.Loop() {
					incidents(s, findings, plan.Run)
				}
			}},
			{"run", true, func(b *testing.B, s *snapshot.Snapshot, plan Plan) {
				for b.Loop() {
					s.ForgetDerived()
					if r := Run(s, plan, now); len(r.Incidents) == 0 {
						b.Fatal("no incident")
					}
				}
			}},
			{"run without links", false, func(b *testing.B, s *snapshot.Snapshot, plan Plan) {
				for b.Loop() {
					s.ForgetDerived()
					if r := Run(s, plan, now); len(r.Incidents) != 0 {
						b.Fatal("incidents without links")
					}
				}
			}},
		} {
			b.Run(fmt.Sprintf("pods=%d/%s", pods, bench.name), func(b *testing.B) {
				s, checks := incidentCluster(pods, bench.links)
				plan, err := Select(checks, Selection{}, snapshot.SourceCluster)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				bench.run(b, s, plan)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(pods), "ns/pod")
			})
		}
	}
}
