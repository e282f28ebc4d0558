package changes

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// started is when the fixtures' incident started.
var started = time.Date(2026, 11, 24, 9, 41, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(started.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time {
	t := ago(d)
	return &t
}

const secretValue = "s3cr3t-value"

// container is the web Deployment's container at one revision.
func webContainer(image string, env []corev1.EnvVar, args []string, memory string, readinessPath string) corev1.Container {
	return corev1.Container{Name: "app", Image: image, Env: env, Args: args,
		EnvFrom:   []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-env"}}}},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memory)}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: readinessPath, Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 10}}
}

func template(hash string, c corev1.Container, volumes ...corev1.Volume) corev1.PodTemplateSpec {
	labels := map[string]string{"app": "web"}
	if hash != "" {
		labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{c}, Volumes: volumes}}
}

func configVolume(name, configMap string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}}
}

func replicaSet(name string, revision int, created time.Duration, tmpl corev1.PodTemplateSpec, replicas, ready int32) appsv1.ReplicaSet {
	controller := true
	return appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", CreationTimestamp: ago(created),
			Annotations:     map[string]string{RevisionAnnotation: fmt.Sprint(revision)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "uid-web", Controller: &controller}}},
		Spec:   appsv1.ReplicaSetSpec{Replicas: &replicas, Template: tmpl},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: ready},
	}
}

func pod(name, replicaSet, hash, node string) corev1.Pod {
	controller := true
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: hash},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: replicaSet, Controller: &controller}}},
		Spec: corev1.PodSpec{NodeName: node}}
}

func warning(name, kind, namespace, object, reason, message string, first, last time.Duration, count int32) corev1.Event {
	return corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cmpOr(namespace, "default")}, Type: corev1.EventTypeWarning,
		InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: namespace, Name: object},
		Reason:         reason, Message: message, FirstTimestamp: ago(first), LastTimestamp: ago(last), Count: count}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// fixture is a shop whose web Deployment rolled out revision 4 ten minutes before its pods
// began to fail, with the ConfigMap, policy, webhook and node changes around it.
func fixture() *snapshot.Snapshot {
	s := snapshot.New(snapshot.SourceCluster)
	s.CollectedAt = started.Add(5 * time.Minute)
	s.Namespaces = []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{corev1.LabelMetadataName: "shop", "team": "web"}}}}

	oldEnv := []corev1.EnvVar{{Name: "DB_PASSWORD", Value: secretValue}, {Name: "OLD_FLAG", Value: "1"}}
	newEnv := []corev1.EnvVar{{Name: "DB_PASSWORD", Value: secretValue + "-rotated"}, {Name: "NEW_FLAG", Value: secretValue}}
	rev2 := template("h2", webContainer("app:1.3", oldEnv, []string{"--port=8080"}, "512Mi", "/healthz"), configVolume("config", "web-config"))
	rev3 := template("h3", webContainer("app:1.4", oldEnv, []string{"--port=8080"}, "512Mi", "/healthz"), configVolume("config", "web-config"))
	rev4 := template("h4", webContainer("app:1.5", newEnv, []string{"--port=8080", "--token=" + secretValue}, "256Mi", "/ready"),
		configVolume("config", "web-config"), configVolume("extra", "web-extra"))
	replicas := int32(2)
	s.Deployments = []appsv1.Deployment{{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "uid-web"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: template("", rev4.Spec.Containers[0], rev4.Spec.Volumes...)}}}
	s.ReplicaSets = []appsv1.ReplicaSet{
		replicaSet("web-h2", 2, 48*time.Hour, rev2, 0, 0),
		replicaSet("web-h3", 3, 3*time.Hour, rev3, 2, 2),
		replicaSet("web-h4", 4, 10*time.Minute, rev4, 1, 0),
	}
	s.Pods = []corev1.Pod{pod("web-h4-a", "web-h4", "h4", "n1"), pod("web-h4-b", "web-h4", "h4", "n1"), pod("web-h3-a", "web-h3", "h3", "n1")}

	created := ago(72 * time.Hour)
	s.ConfigMaps = []corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "web-config", Namespace: "shop", CreationTimestamp: created, ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, Time: &created},
			{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate, Time: agoPtr(20 * time.Minute)},
		}}},
		// Updated, but before the window.
		{ObjectMeta: metav1.ObjectMeta{Name: "web-env", Namespace: "shop", CreationTimestamp: created, ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "argocd-controller", Operation: metav1.ManagedFieldsOperationApply, Time: agoPtr(2 * time.Hour)},
		}}},
		// Updated in the window, but no pod of the incident reads it.
		{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "shop", CreationTimestamp: created, ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, Time: agoPtr(3 * time.Minute)},
		}}},
	}
	s.NetworkPolicies = []networkingv1.NetworkPolicy{
		{ObjectMeta: metav1.ObjectMeta{Name: "deny-egress", Namespace: "shop", CreationTimestamp: ago(15 * time.Minute),
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, Time: agoPtr(15 * time.Minute)}}},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}},
		// Selects other pods.
		{ObjectMeta: metav1.ObjectMeta{Name: "db-only", Namespace: "shop", CreationTimestamp: ago(14 * time.Minute)},
			Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}},
	}
	pods := []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}
	s.ValidatingWebhookConfigurations = []admissionregistrationv1.ValidatingWebhookConfiguration{
		{ObjectMeta: metav1.ObjectMeta{Name: "policy-agent", CreationTimestamp: ago(30 * time.Minute)},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "pods.policy", Rules: pods,
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "web"}}}}},
		// Admits pods of other namespaces only.
		{ObjectMeta: metav1.ObjectMeta{Name: "other-team", CreationTimestamp: ago(30 * time.Minute)},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "pods.other", Rules: pods,
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "db"}}}}},
	}
	s.Nodes = []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Spec: corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{
			{Key: "node.kubernetes.io/unschedulable", Effect: corev1.TaintEffectNoSchedule},
			{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoExecute, TimeAdded: agoPtr(7 * time.Minute)},
		}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status.", LastTransitionTime: ago(8 * time.Minute)},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasInsufficientMemory", LastTransitionTime: ago(9 * time.Minute)},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, LastTransitionTime: ago(9 * time.Minute)},
		}}}}
	cordon := warning("n1.cordon", "Node", "", "n1", "NodeNotSchedulable", "Node n1 status is now: NodeNotSchedulable", 12*time.Minute, 12*time.Minute, 1)
	cordon.Type = corev1.EventTypeNormal
	s.Events = []corev1.Event{
		warning("a.1", "Pod", "shop", "web-h4-a", "Failed", "Failed to pull image \"app:1.5\": not found", 6*time.Minute, time.Minute, 9),
		warning("a.2", "Pod", "shop", "web-h4-a", "BackOff", "Back-off pulling image \"app:1.5\"", 4*time.Minute, 0, 20),
		// The same reason on another pod, earlier: the first is kept.
		warning("b.1", "Pod", "shop", "web-h4-b", "BackOff", "Back-off pulling image \"app:1.5\"", 5*time.Minute, 0, 20),
		// Began before the window.
		warning("c.1", "Pod", "shop", "web-h3-a", "Unhealthy", "Readiness probe failed", 2*time.Hour, 30*time.Minute, 40),
		// After the incident started.
		warning("d.1", "ReplicaSet", "shop", "web-h4", "FailedCreate", "admission webhook denied", -time.Minute, -time.Minute, 1),
		cordon,
	}
	s.Finish()
	return s
}

var (
	webRef  = snapshot.RefTo(snapshot.KindDeployments, "shop", "web")
	podRef  = snapshot.RefTo(snapshot.KindPods, "shop", "web-h4-a")
	nodeRef = snapshot.RefTo(snapshot.KindNodes, "", "n1")
)

// line renders a change for comparison: time as minutes before the start.
func line(c Change) string {
	out := fmt.Sprintf("-%s %s %s: %s", started.Sub(c.Time), c.Kind, c.Object, c.Summary)
	if c.Manager != "" {
		out += " [" + c.Manager + "]"
	}
	if c.Undo != "" {
		out += " | " + c.Undo
	}
	return out
}

// webTimeline is what led to the web Deployment's failure.
var webTimeline = []string{
	"-30m0s webhook validatingwebhookconfiguration/policy-agent: created",
	"-20m0s config shop/configmap/web-config: updated by helm [helm]",
	"-15m0s policy shop/networkpolicy/deny-egress: created by kubectl-client-side-apply [kubectl-client-side-apply]",
	"-10m0s rollout shop/deployment/web: revision 3 -> 4: image app:1.4 -> app:1.5; env added NEW_FLAG, removed OLD_FLAG, changed DB_PASSWORD; " +
		"args changed; limits.memory 512Mi -> 256Mi; readiness probe httpGet :8080/healthz -> httpGet :8080/ready; volume extra added (configmap web-extra)" +
		" | kubectl rollout undo deployment/web -n shop --to-revision=3",
	`-6m0s event shop/pod/web-h4-a: Failed: Failed to pull image "app:1.5": not found`,
	`-5m0s event shop/pod/web-h4-b: BackOff: Back-off pulling image "app:1.5"`,
}

func TestBefore(t *testing.T) {
	tests := []struct {
		name    string
		objects []snapshot.Ref
		want    []string
	}{{
		name:    "a failing pod brings in its Deployment's rollout, ConfigMaps, policies, webhooks and the first events",
		objects: []snapshot.Ref{podRef},
		want:    webTimeline,
	}, {
		name:    "the Deployment itself gives the same timeline",
		objects: []snapshot.Ref{webRef},
		want:    webTimeline,
	}, {
		name:    "a node's transitions: pressure, NotReady, a NoExecute taint, a cordon",
		objects: []snapshot.Ref{nodeRef},
		want: []string{
			"-12m0s node node/n1: cordoned (unschedulable)",
			"-9m0s node node/n1: MemoryPressure=True (KubeletHasInsufficientMemory)",
			"-8m0s node node/n1: stopped reporting its status (Ready=Unknown) (NodeStatusUnknown): Kubelet stopped posting node status.",
			"-7m0s node node/n1: tainted node.kubernetes.io/unreachable:NoExecute",
		},
	}, {
		name:    "a policy named by the incident, and a ConfigMap changed before the window",
		objects: []snapshot.Ref{snapshot.RefTo(snapshot.KindNetworkPolicies, "shop", "deny-egress"), snapshot.RefTo(snapshot.KindConfigMaps, "shop", "web-env")},
		want: []string{
			"-15m0s policy shop/networkpolicy/deny-egress: created by kubectl-client-side-apply [kubectl-client-side-apply]",
		},
	}, {
		name:    "objects the snapshot lacks",
		objects: []snapshot.Ref{snapshot.RefTo(snapshot.KindDeployments, "shop", "gone"), snapshot.RefTo(snapshot.KindNodes, "", "gone")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixture()
			changes, left := Timeline(s, tt.objects, started, time.Hour)
			var got []string
			for _, c := range changes {
				got = append(got, line(c))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if left != 0 {
				t.Errorf("left out %d", left)
			}
			// Before is Timeline's list, and the same whatever order the objects come in.
			reversed := slices.Clone(tt.objects)
			slices.Reverse(reversed)
			if again := Before(s, reversed, started, time.Hour); !slices.Equal(again, changes) {
				t.Errorf("in reverse order: %v", again)
			}
		})
	}
}

// Environment values, arguments and exec commands may hold credentials: a timeline names
// variables and says that arguments changed, never what they hold.
func TestBeforeNeverShowsValues(t *testing.T) {
	for _, c := range Before(fixture(), []snapshot.Ref{podRef, nodeRef}, started, time.Hour) {
		if strings.Contains(c.Summary, secretValue) || strings.Contains(c.Undo, secretValue) {
			t.Errorf("a change shows a value: %s", line(c))
		}
	}
}

// A long timeline keeps the MaxChanges nearest to the start, oldest first, and says how many
// it left out.
func TestTimelineBound(t *testing.T) {
	s := snapshot.New(snapshot.SourceCluster)
	var refs []snapshot.Ref
	for i := range MaxChanges + 3 {
		name := fmt.Sprintf("cm-%02d", i)
		s.ConfigMaps = append(s.ConfigMaps, corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", CreationTimestamp: ago(100 * time.Hour),
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, Time: agoPtr(time.Duration(i+1) * time.Minute)}}}})
		refs = append(refs, snapshot.RefTo(snapshot.KindConfigMaps, "shop", name))
	}
	s.Finish()
	changes, left := Timeline(s, refs, started, time.Hour)
	if left != 3 || len(changes) != MaxChanges {
		t.Fatalf("kept %d, left out %d; want %d and 3", len(changes), left, MaxChanges)
	}
	// The nearest are cm-00 (a minute before) to cm-09, oldest first.
	if first, last := changes[0].Object.Name, changes[len(changes)-1].Object.Name; first != "cm-09" || last != "cm-00" {
		t.Errorf("kept %s to %s, want cm-09 to cm-00", first, last)
	}
}

func TestRolloutUndo(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *snapshot.Snapshot)
		want   string
	}{
		{"the newest revision is not ready while the previous one serves", func(*snapshot.Snapshot) {},
			"kubectl rollout undo deployment/web -n shop --to-revision=3"},
		{"the newest revision is ready", func(s *snapshot.Snapshot) { s.ReplicaSets[2].Status.ReadyReplicas = 1 }, ""},
		{"no earlier revision runs: nothing says the rollout is at fault", func(s *snapshot.Snapshot) {
			zero := int32(0)
			s.ReplicaSets[1].Spec.Replicas, s.ReplicaSets[1].Status.Replicas = &zero, 0
		}, ""},
		{"one revision only", func(s *snapshot.Snapshot) { s.ReplicaSets = s.ReplicaSets[2:] }, ""},
		{"ReplicaSets of an earlier Deployment of the same name", func(s *snapshot.Snapshot) { s.Deployments[0].UID = "uid-new" }, ""},
		{"revisions numbered past 9 compare as numbers", func(s *snapshot.Snapshot) {
			s.ReplicaSets[1].Annotations[RevisionAnnotation] = "9"
			s.ReplicaSets[2].Annotations[RevisionAnnotation] = "10"
		}, "kubectl rollout undo deployment/web -n shop --to-revision=9"},
		{"an earlier rollout that failed too was scaled away: back to the revision still serving", func(s *snapshot.Snapshot) {
			// web-h3 (revision 3) ran no pod; web-h2 (revision 2) still serves.
			two, zero := int32(2), int32(0)
			s.ReplicaSets[1].Spec.Replicas, s.ReplicaSets[1].Status.Replicas = &zero, 0
			s.ReplicaSets[0].Spec.Replicas, s.ReplicaSets[0].Status.Replicas = &two, 2
		}, "kubectl rollout undo deployment/web -n shop --to-revision=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixture()
			tt.change(s)
			s.Finish()
			s.ForgetDerived()
			got, ok := RolloutUndo(s, webRef)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("RolloutUndo = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
	if !InNewestRevision(fixture(), webRef, "web-h4") || InNewestRevision(fixture(), webRef, "web-h3") {
		t.Error("InNewestRevision: web-h4 is the newest, web-h3 is not")
	}
}

func TestTemplateDiff(t *testing.T) {
	base := func() corev1.PodTemplateSpec {
		return template("h1", corev1.Container{Name: "app", Image: "app:1", Command: []string{"/app"},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}, PeriodSeconds: 10}})
	}
	tests := []struct {
		name   string
		change func(*corev1.PodTemplateSpec)
		want   []string
	}{
		{"only the hash label", func(p *corev1.PodTemplateSpec) { p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = "h2" }, nil},
		{"kubectl rollout restart", func(p *corev1.PodTemplateSpec) {
			p.Annotations = map[string]string{restartedAtAnnotation: "2026-11-24T09:30:00Z"}
		}, []string{"restarted (kubectl rollout restart)"}},
		{"a sidecar added beside the container", func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "proxy", Image: "envoy:1"})
		}, []string{"container proxy added (image envoy:1)"}},
		{"the container renamed", func(p *corev1.PodTemplateSpec) { p.Spec.Containers[0].Name = "main" },
			[]string{"container main added (image app:1)", "container app removed"}},
		{"command, probe timing, requests and ports", func(p *corev1.PodTemplateSpec) {
			c := &p.Spec.Containers[0]
			c.Command = []string{"/app", "--debug"}
			c.LivenessProbe.PeriodSeconds, c.LivenessProbe.FailureThreshold = 5, 1
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}
			c.Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
		}, []string{"command changed", "requests.cpu none -> 250m", "liveness probe periodSeconds 10 -> 5, failureThreshold 0 -> 1", "ports changed"}},
		{"probe removed, init container image", func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].LivenessProbe = nil
			p.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "migrate:2"}}
		}, []string{"init container migrate added (image migrate:2)", "container app: liveness probe removed"}},
		{"pod-level fields", func(p *corev1.PodTemplateSpec) {
			p.Spec.ServiceAccountName = "web"
			p.Spec.NodeSelector = map[string]string{"pool": "big"}
		}, []string{"nodeSelector, serviceAccountName changed"}},
		{"a volume's source", func(p *corev1.PodTemplateSpec) {
			p.Spec.Volumes = []corev1.Volume{configVolume("config", "web-v2")}
		}, []string{"volume config added (configmap web-v2)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, new := base(), base()
			tt.change(&new)
			if got := TemplateDiff(&old, &new); !slices.Equal(got, tt.want) {
				t.Errorf("TemplateDiff = %q, want %q", got, tt.want)
			}
		})
	}
	old, new := base(), base()
	old.Spec.Volumes = []corev1.Volume{configVolume("config", "web-v1")}
	new.Spec.Volumes = []corev1.Volume{configVolume("config", "web-v2"), {Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	want := []string{"volume config configmap web-v1 -> configmap web-v2", "volume cache added (emptyDir)"}
	if got := TemplateDiff(&old, &new); !slices.Equal(got, want) {
		t.Errorf("TemplateDiff = %q, want %q", got, want)
	}
}

func TestConfigMapsOf(t *testing.T) {
	ref := func(name string) corev1.LocalObjectReference { return corev1.LocalObjectReference{Name: name} }
	spec := corev1.PodSpec{
		Volumes: []corev1.Volume{configVolume("a", "vol"), {Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: ref("projected")}}}}}}},
		InitContainers: []corev1.Container{{EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref("init-from")}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref("a-secret")}}}}},
		Containers: []corev1.Container{{Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: ref("key-ref"), Key: "k"}}},
			{Name: "Y", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: ref("vol"), Key: "k"}}}}}},
	}
	want := []string{"init-from", "key-ref", "projected", "vol"}
	if got := ConfigMapsOf(&spec); !slices.Equal(got, want) {
		t.Errorf("ConfigMapsOf = %q, want %q", got, want)
	}
}

// managedFields say who wrote an object and when, one entry per manager and operation: a write
// at the creation second is the creation (by whom, when one manager alone wrote then), server-side
// apply is "applied", and a status subresource write is no change to the object.
func TestObjectChanges(t *testing.T) {
	created := ago(40 * time.Minute)
	entry := func(manager string, op metav1.ManagedFieldsOperationType, at *metav1.Time, subresource string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Time: at, Subresource: subresource}
	}
	update, apply := metav1.ManagedFieldsOperationUpdate, metav1.ManagedFieldsOperationApply
	tests := []struct {
		name    string
		created metav1.Time
		entries []metav1.ManagedFieldsEntry
		want    []string
	}{
		{"two managers in the creation second, then argocd applies", created, []metav1.ManagedFieldsEntry{
			entry("kubectl-create", update, &created, ""), entry("kubectl-label", update, &created, ""),
			entry("argocd-controller", apply, agoPtr(2*time.Minute), ""), entry("some-controller", update, agoPtr(time.Minute), "status"),
		}, []string{
			"-40m0s config shop/configmap/c: created or updated by kubectl-create [kubectl-create]",
			"-40m0s config shop/configmap/c: created or updated by kubectl-label [kubectl-label]",
			"-2m0s config shop/configmap/c: applied by argocd-controller [argocd-controller]",
		}},
		{"created before the window, a manager without a name in it", ago(5 * time.Hour), []metav1.ManagedFieldsEntry{
			entry("", update, agoPtr(time.Minute), ""), entry("helm", update, agoPtr(2*time.Hour), ""),
		}, []string{"-1m0s config shop/configmap/c: updated by an unnamed manager"}},
		{"created in the window with no managedFields (a snapshot recorded before they were kept)", created, nil,
			[]string{"-40m0s config shop/configmap/c: created"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := snapshot.New(snapshot.SourceCluster)
			s.ConfigMaps = []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "shop", CreationTimestamp: tt.created, ManagedFields: tt.entries}}}
			s.Finish()
			var got []string
			for _, c := range Before(s, []snapshot.Ref{snapshot.RefTo(snapshot.KindConfigMaps, "shop", "c")}, started, time.Hour) {
				got = append(got, line(c))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// The timeline's undo of a rollout goes back to the revision that still serves, past an
// earlier failed rollout scaled to nothing.
func TestRolloutChangeUndoesToTheServingRevision(t *testing.T) {
	s := fixture()
	two, zero := int32(2), int32(0)
	s.ReplicaSets[1].Spec.Replicas, s.ReplicaSets[1].Status.Replicas = &zero, 0
	s.ReplicaSets[0].Spec.Replicas, s.ReplicaSets[0].Status.Replicas = &two, 2
	s.Finish()
	s.ForgetDerived()
	var undo []string
	for _, c := range Before(s, []snapshot.Ref{webRef}, started, time.Hour) {
		if c.Kind == KindRollout {
			undo = append(undo, c.Undo)
		}
	}
	if want := "kubectl rollout undo deployment/web -n shop --to-revision=2"; !slices.Equal(undo, []string{want}) {
		t.Errorf("rollout undo %q, want %q", undo, want)
	}
}
