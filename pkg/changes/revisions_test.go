package changes

import (
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// A ConfigMap a whole-cluster run read as metadata alone tells who updated it, as one read
// whole does; the one read whole wins where both are there.
func TestConfigMapChangesFromMetadataAlone(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	container := corev1.Container{Name: "app", Image: "cart:1",
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cart-config"}}}}}
	s.Deployments = []appsv1.Deployment{{ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{container},
			Volumes: []corev1.Volume{configVolume("other", "other-config")}}}}}}
	s.ConfigMapMetadata = []snapshot.ConfigMapMetadata{
		{Namespace: "shop", Name: "cart-config", Created: ago(30 * 24 * time.Hour), Writes: []metav1.ManagedFieldsEntry{
			{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, Time: agoPtr(8 * time.Minute)}}},
		{Namespace: "shop", Name: "other-config", Created: ago(3 * time.Minute)},
		{Namespace: "other", Name: "cart-config", Created: ago(time.Minute)},
	}
	s.ConfigMaps = []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "other-config", Namespace: "shop", CreationTimestamp: ago(2 * time.Hour)}}}
	s.Finish()
	var got []string
	for _, c := range Before(s, []snapshot.Ref{snapshot.RefTo(snapshot.KindDeployments, "shop", "cart")}, started, time.Hour) {
		got = append(got, line(c))
	}
	want := []string{"-8m0s config shop/configmap/cart-config: updated by kubectl-client-side-apply [kubectl-client-side-apply]"}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func ownedRevision(kind, owner, uid string, revision int64, created time.Duration, tmpl *corev1.PodTemplateSpec) snapshot.ControllerRevision {
	return snapshot.ControllerRevision{Namespace: "shop", Name: owner + "-" + string(rune('a'+revision)), OwnerKind: kind, OwnerName: owner,
		OwnerUID: uid, Revision: revision, Created: ago(created), Template: tmpl}
}

// A StatefulSet's and a DaemonSet's newest revision, from their ControllerRevisions, with the
// template diff and the exact undo; one of another owner of the same name (an earlier one,
// another UID) and one created before the window are not told.
func TestControllerRevisionsInTheTimeline(t *testing.T) {
	oldDB := template("", webContainer("db:15", []corev1.EnvVar{{Name: "MODE", Value: ""}}, nil, "1Gi", "/healthz"))
	newDB := template("", webContainer("db:16", []corev1.EnvVar{{Name: "MODE", Value: snapshot.RevisionEnvChanged}}, nil, "1Gi", "/healthz"))
	agent := template("", corev1.Container{Name: "agent", Image: "agent:1"})
	agent2 := template("", corev1.Container{Name: "agent", Image: "agent:2"})
	s := snapshot.New(snapshot.SourceCluster)
	s.StatefulSets = []appsv1.StatefulSet{{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", UID: "uid-db"}, Spec: appsv1.StatefulSetSpec{Template: newDB}}}
	s.DaemonSets = []appsv1.DaemonSet{
		{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "shop", UID: "uid-agent"}, Spec: appsv1.DaemonSetSpec{Template: agent2}},
		{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: "shop", UID: "uid-old"}, Spec: appsv1.DaemonSetSpec{Template: agent2}},
	}
	s.ControllerRevisions = []snapshot.ControllerRevision{
		ownedRevision("StatefulSet", "db", "uid-db", 7, 3*time.Hour, &oldDB),
		ownedRevision("StatefulSet", "db", "uid-db", 8, 12*time.Minute, &newDB),
		ownedRevision("DaemonSet", "agent", "uid-agent", 1, 2*time.Hour, &agent),
		ownedRevision("DaemonSet", "agent", "uid-agent", 2, 5*time.Minute, &agent2),
		ownedRevision("DaemonSet", "agent", "uid-earlier-agent", 9, 4*time.Minute, &agent),
		ownedRevision("DaemonSet", "old", "uid-old", 1, 2*time.Hour, &agent),
		ownedRevision("DaemonSet", "old", "uid-old", 2, 90*time.Minute, &agent2),
	}
	s.Finish()
	refs := []snapshot.Ref{snapshot.RefTo(snapshot.KindStatefulSets, "shop", "db"), snapshot.RefTo(snapshot.KindDaemonSets, "shop", "agent"),
		snapshot.RefTo(snapshot.KindDaemonSets, "shop", "old")}
	var got []string
	for _, c := range Before(s, refs, started, time.Hour) {
		if c.Kind == KindRollout {
			got = append(got, line(c))
		}
	}
	want := []string{
		"-12m0s rollout shop/statefulset/db: revision 7 -> 8: image db:15 -> db:16; env changed MODE | kubectl rollout undo statefulset/db -n shop --to-revision=7",
		"-5m0s rollout shop/daemonset/agent: revision 1 -> 2: image agent:1 -> agent:2 | kubectl rollout undo daemonset/agent -n shop --to-revision=1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range got {
		if strings.Contains(l, snapshot.RevisionEnvChanged) {
			t.Errorf("the marker of a changed value shows: %s", l)
		}
	}
}

// A StatefulSet's first revision, or one whose data could not be read, is told without a diff
// and, with nothing to go back to, without an undo.
func TestControllerRevisionWithoutAPrevious(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	s.StatefulSets = []appsv1.StatefulSet{{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"}}, {ObjectMeta: metav1.ObjectMeta{Name: "cache", Namespace: "shop"}}}
	tmpl := template("", corev1.Container{Name: "db", Image: "db:1"})
	s.ControllerRevisions = []snapshot.ControllerRevision{ownedRevision("StatefulSet", "db", "", 1, 10*time.Minute, &tmpl),
		ownedRevision("StatefulSet", "cache", "", 3, 2*time.Hour, &tmpl), ownedRevision("StatefulSet", "cache", "", 4, 9*time.Minute, nil)}
	s.Finish()
	var got []string
	for _, c := range Before(s, []snapshot.Ref{snapshot.RefTo(snapshot.KindStatefulSets, "shop", "db"), snapshot.RefTo(snapshot.KindStatefulSets, "shop", "cache")}, started, time.Hour) {
		got = append(got, line(c))
	}
	want := []string{"-10m0s rollout shop/statefulset/db: revision 1, the first",
		"-9m0s rollout shop/statefulset/cache: revision 3 -> 4 | kubectl rollout undo statefulset/cache -n shop --to-revision=3"}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
