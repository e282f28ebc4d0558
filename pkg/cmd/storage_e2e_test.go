//go:build e2e

package cmd

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/internal/promtest"
	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// storageScenario is the state the storage checks judge, written through the API as the
// controllers, kubelets and scheduler would have: db-0's claim names a StorageClass that does
// not exist; queue's volume is still attached to node-dead, which stopped reporting; api's pod
// cannot mount its ConfigMap; agent's pod is on node-b, whose kubelet has not registered the CSI
// driver its volume needs; web's log volume is nearly full (the Prometheus says so).
func storageScenario(ago func(time.Duration) string) string {
	return `apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Node
metadata: {name: node-b}
status: {conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Node
metadata: {name: node-dead}
status: {conditions: [{type: Ready, status: Unknown, reason: NodeStatusUnknown}]}
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: node-a}
spec: {drivers: [{name: ebs.csi.aws.com, nodeID: i-0a}]}
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: node-b}
spec: {drivers: []}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: standard}
provisioner: ebs.csi.aws.com
allowVolumeExpansion: true
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:17}]}
status: {replicas: 1, readyReplicas: 0, availableReplicas: 0, currentReplicas: 1, updatedReplicas: 1, observedGeneration: 1}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-db-0, namespace: shop}
spec: {storageClassName: fast, accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}
status: {phase: Pending}
---
apiVersion: v1
kind: Pod
metadata:
  name: db-0
  namespace: shop
  labels: {app: db}
  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, controller: true}]
spec:
  containers: [{name: db, image: postgres:17}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data-db-0}}]
status:
  phase: Pending
  conditions:
  - {type: PodScheduled, status: "False", reason: Unschedulable, message: "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.", lastTransitionTime: "` + ago(20*time.Minute) + `"}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-queue}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: standard
  csi: {driver: ebs.csi.aws.com, volumeHandle: vol-queue}
  claimRef: {namespace: shop, name: queue-data}
status: {phase: Bound}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: queue-data, namespace: shop}
spec: {storageClassName: standard, volumeName: pv-queue, accessModes: [ReadWriteOnce], resources: {requests: {storage: 5Gi}}}
status: {phase: Bound}
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: csi-queue}
spec:
  attacher: ebs.csi.aws.com
  nodeName: node-dead
  source: {persistentVolumeName: pv-queue}
status: {attached: true}
---
` + deploymentAndReplicaSet("queue", "queue-5c4", "rabbitmq:4") + `---
apiVersion: v1
kind: Pod
metadata:
  name: queue-5c4-abcde
  namespace: shop
  labels: {app: queue}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: queue-5c4, controller: true}]
spec:
  nodeName: node-a
  containers: [{name: queue, image: rabbitmq:4}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: queue-data}}]
status: {phase: Pending}
---
apiVersion: v1
kind: Event
metadata: {name: queue-5c4-abcde.attach, namespace: shop}
involvedObject: {kind: Pod, namespace: shop, name: queue-5c4-abcde}
type: Warning
reason: FailedAttachVolume
message: Multi-Attach error for volume "pv-queue" Volume is already exclusively attached to one node and can't be attached to another
count: 5
firstTimestamp: "` + ago(15*time.Minute) + `"
lastTimestamp: "` + ago(2*time.Minute) + `"
---
` + deploymentAndReplicaSet("api", "api-7b", "api:2") + `---
apiVersion: v1
kind: Pod
metadata:
  name: api-7b-xyz12
  namespace: shop
  labels: {app: api}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-7b, controller: true}]
spec:
  nodeName: node-a
  containers: [{name: api, image: api:2}]
  volumes: [{name: config, configMap: {name: api-config}}]
status: {phase: Pending}
---
apiVersion: v1
kind: Event
metadata: {name: api-7b-xyz12.mount, namespace: shop}
involvedObject: {kind: Pod, namespace: shop, name: api-7b-xyz12}
type: Warning
reason: FailedMount
message: 'MountVolume.SetUp failed for volume "config" : configmap "api-config" not found'
count: 9
firstTimestamp: "` + ago(10*time.Minute) + `"
lastTimestamp: "` + ago(time.Minute) + `"
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: agent:1}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: agent-node-b
  namespace: shop
  labels: {app: agent}
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, controller: true}]
spec:
  nodeName: node-b
  containers: [{name: agent, image: agent:1}]
  volumes: [{name: scratch, csi: {driver: ebs.csi.aws.com}}]
status: {phase: Pending}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: logs, namespace: shop}
spec: {storageClassName: standard, volumeName: pv-logs, accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}
status: {phase: Bound}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  nodeName: node-a
  containers: [{name: web, image: web:1}]
  volumes: [{name: logs, persistentVolumeClaim: {claimName: logs}}]
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
`
}

// deploymentAndReplicaSet is Deployment name in shop and its ReplicaSet, as the Deployment
// controller would have made it.
func deploymentAndReplicaSet(name, replicaSet, image string) string {
	template := `
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec: {containers: [{name: ` + name + `, image: "` + image + `"}]}
`
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: shop}
spec:` + template + `---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: ` + replicaSet + `
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: ` + name + `, controller: true}]
spec:` + template
}

// The storage family against a real API server: each check finds what the scenario breaks,
// names the owner, and folds the generic findings of the same outage; without --prometheus-url
// the volume usage is not evaluated, with the reason; without permission to read claims the
// checks that need them say so; and every request is a read.
func TestStorageChecksOnARealServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := testcluster.Start(ctx, testcluster.Options{Log: os.Stderr, Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	start := time.Now()
	ago := func(d time.Duration) string { return start.Add(-d).UTC().Format(time.RFC3339) }
	if err := testcluster.Apply(ctx, c.Config, []byte(storageScenario(ago))); err != nil {
		t.Fatal(err)
	}

	prom := promtest.New()
	logs := map[string]string{"namespace": "shop", "persistentvolumeclaim": "logs", "node": "node-a", "job": "kubelet"}
	// A claim of another cluster that shares this Prometheus: not this cluster's to judge.
	ghost := map[string]string{"namespace": "shop", "persistentvolumeclaim": "ghost", "node": "elsewhere", "job": "kubelet"}
	prom.Answer("kubelet_volume_stats_capacity_bytes", promtest.Series{Labels: logs, Value: 10 << 30}, promtest.Series{Labels: ghost, Value: 1 << 30})
	prom.Answer("kubelet_volume_stats_available_bytes", promtest.Series{Labels: logs, Value: 200 << 20}, promtest.Series{Labels: ghost, Value: 0})
	prom.Answer("kubelet_volume_stats_inodes", promtest.Series{Labels: logs, Value: 655360})
	prom.Answer("kubelet_volume_stats_inodes_free", promtest.Series{Labels: logs, Value: 600000})
	server := httptest.NewServer(prom)
	t.Cleanup(server.Close)

	adminRun := func(args ...string) result {
		t.Helper()
		return run(t, testEnv{now: time.Now}, append(args, "--kubeconfig", c.Kubeconfig)...)
	}
	r := adminRun("diagnose", "--category", "storage", "-o", "json", "--prometheus-url", server.URL)
	rep := r.report(t)
	want := []string{
		"csi-driver-not-installed shop/daemonset/agent",
		"pvc-pending shop/statefulset/db",
		"volume-mount-failed shop/deployment/api",
		"volume-multi-attach shop/deployment/queue",
		"volume-nearly-full shop/pod/web",
	}
	got := findingKeys(rep)
	slices.Sort(got)
	if !slices.Equal(got, want) || len(rep.NotEvaluated) != 0 {
		t.Fatalf("findings %q, want %q\nnot evaluated %+v\nstderr %s", got, want, rep.NotEvaluated, r.stderr)
	}
	for id, parts := range map[string][]string{
		"pvc-pending":              {"critical", `StorageClass "fast" does not exist`, "statefulset shop/db"},
		"volume-multi-attach":      {"critical", "volume pv-queue", "node node-dead, which is NotReady", "kubectl taint node node-dead node.kubernetes.io/out-of-service=nodeshutdown:NoExecute", "kubectl delete volumeattachment csi-queue"},
		"volume-mount-failed":      {"critical", "cannot mount volume config", `configmap "api-config" not found`, "FailedMount", "x9"},
		"csi-driver-not-installed": {"critical", "CSI driver ebs.csi.aws.com", "node node-b", "1 other node has registered it"},
		"volume-nearly-full":       {"critical", "claim logs (pod web on node-a): 9.8Gi of 10Gi used (98%), 200Mi free", "kubectl patch -n shop pvc/logs"},
	} {
		f := findingOf(rep, id)
		text := string(f.Severity) + " " + f.Message + " | " + strings.Join(f.Evidence, " | ") + " | " + strings.Join(f.Fix, " | ")
		for _, part := range parts {
			if !strings.Contains(text, part) {
				t.Errorf("%s: %q lacks %q", id, text, part)
			}
		}
	}
	for _, m := range prom.Methods() {
		if m != http.MethodGet {
			t.Errorf("a %s request reached Prometheus", m)
		}
	}

	// The whole catalog: the claim is why db-0 cannot be scheduled and db is unavailable, so
	// those findings fold into the claim's.
	all := adminRun("diagnose", "-o", "json", "--prometheus-url", server.URL).report(t)
	for _, f := range all.Findings {
		if (f.Check == "pod-unschedulable" || f.Check == "statefulset-unavailable") && f.Objects[0].String() == "shop/statefulset/db" {
			t.Errorf("%s on statefulset db was not folded into pvc-pending", f.Check)
		}
	}
	if pending := findingOf(all, "pvc-pending"); pending == nil || !strings.Contains(strings.Join(pending.Evidence, "\n"), "also reported by pod-unschedulable") {
		t.Errorf("pvc-pending does not carry pod-unschedulable's finding: %+v", pending)
	}

	// Without --prometheus-url, the usage is not evaluated, and the run is still complete.
	blind := adminRun("diagnose", "--category", "storage", "-o", "json").report(t)
	if ne := notEvaluated(blind, "volume-nearly-full"); ne == nil || ne.Code != report.NotApplicable || !strings.Contains(ne.Reason, "--prometheus-url not given") {
		t.Errorf("volume-nearly-full without Prometheus: %+v", ne)
	}

	// An identity that may read everything but claims: the checks that need them say why they
	// cannot judge; the others still find what they see.
	reader := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "storage-but-claims"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "nodes", "events", "persistentvolumes", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets", "deployments", "statefulsets", "daemonsets"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses", "volumeattachments", "csinodes"}, Verbs: []string{"get", "list", "watch"}},
	}}
	if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, reader, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "storage-but-claims"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "no-claims"}}}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := c.UserKubeconfig("no-claims")
	if err != nil {
		t.Fatal(err)
	}
	limited := run(t, testEnv{now: time.Now}, "diagnose", "--category", "storage", "-o", "json", "--kubeconfig", kubeconfig)
	lrep := limited.report(t)
	for _, id := range []string{"pvc-pending", "csi-driver-not-installed"} {
		if ne := notEvaluated(lrep, id); ne == nil || ne.Code != report.CouldNotSee || !strings.Contains(ne.Reason, "cannot read persistentvolumeclaims: forbidden") {
			t.Errorf("%s without permission on claims: %+v", id, ne)
		}
	}
	if keys := findingKeys(lrep); !slices.Contains(keys, "volume-multi-attach shop/deployment/queue") || !slices.Contains(keys, "volume-mount-failed shop/deployment/api") {
		t.Errorf("what the identity can read is still judged: %q", keys)
	}
	if limited.code != report.ExitGateFailed {
		t.Errorf("exit %d, want %d (critical findings, beside the checks that could not see)", limited.code, report.ExitGateFailed)
	}

	// What the runs asked for, as --explain-permissions lists it, and the audit log: reads only.
	p := adminRun("diagnose", "--category", "storage", "--explain-permissions", "-o", "json")
	for _, want := range []string{`"resource": "persistentvolumeclaims"`, `"resource": "volumeattachments"`, `"resource": "csinodes"`, `"resource": "storageclasses"`, `"resource": "persistentvolumes"`} {
		if !strings.Contains(p.stdout, want) {
			t.Errorf("--explain-permissions lacks %s:\n%s", want, p.stdout)
		}
	}
	read := auditedReads(t, c)
	for _, want := range []string{"/persistentvolumeclaims", "/persistentvolumes", "storage.k8s.io/storageclasses",
		"storage.k8s.io/volumeattachments", "storage.k8s.io/csinodes"} {
		if !read[want] {
			t.Errorf("the audit log shows no read of %s: %v", want, read)
		}
	}
}
