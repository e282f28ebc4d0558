package storage

import (
	"slices"
	"strings"
	"testing"

	"github.com/alertmend/kubectl-alertmend/internal/fixture"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

const gi = 1 << 30

// usage is the volume stats probe's answer: data-db-0 95% used, data-db-1 98%, logs out of
// inodes, fine half full, and ghost a claim of another cluster sharing the Prometheus.
func usage(s *snapshot.Snapshot) {
	s.VolumeStats = &snapshot.VolumeStats{Source: "Prometheus at http://127.0.0.1:9090", Volumes: []snapshot.VolumeUsage{
		{Namespace: "shop", Claim: "data-db-0", Node: "node-a", CapacityBytes: 10 * gi, AvailableBytes: 0.5 * gi},
		{Namespace: "shop", Claim: "data-db-1", Node: "node-b", CapacityBytes: 10 * gi, AvailableBytes: 0.2 * gi},
		{Namespace: "shop", Claim: "logs", CapacityBytes: gi, AvailableBytes: 0.6 * gi, Inodes: 65536, InodesFree: 0},
		{Namespace: "shop", Claim: "fine", CapacityBytes: gi, AvailableBytes: 0.5 * gi, Inodes: 65536, InodesFree: 60000},
		{Namespace: "shop", Claim: "ghost", CapacityBytes: gi, AvailableBytes: 0},
	}}
}

func TestChecksOnFixtures(t *testing.T) {
	pending := []string{
		"high pvc-pending shop/statefulset/db,shop/persistentvolumeclaim/data-db-1",
		"critical pvc-pending shop/deployment/cache,shop/persistentvolumeclaim/cache-data",
		"low pvc-pending shop/persistentvolumeclaim/orphan",
		"low pvc-pending shop/persistentvolumeclaim/archive",
		"medium pvc-pending shop/persistentvolumeclaim/reports-data",
		"critical pvc-pending shop/pod/uploader,shop/persistentvolumeclaim/upload",
		"low pvc-pending shop/persistentvolumeclaim/static-data",
	}
	fixture.RunCases(t, check.CategoryStorage, Checks(), []fixture.Case{
		{Check: PendingClaims{}, Fixture: "pvc-pending.yaml", Want: pending},
		// Two defaults: cache-data is still Pending, for another reason (TestPendingClaimsSayWhy).
		{Check: PendingClaims{}, Fixture: "pvc-two-defaults.yaml", Base: "pvc-pending.yaml", Want: pending},
		{Check: MultiAttach{}, Fixture: "volume-multi-attach.yaml", Want: []string{
			"critical volume-multi-attach shop/statefulset/db,volumeattachment/csi-aaa",
			"critical volume-multi-attach shop/deployment/queue,volumeattachment/csi-bbb",
			"high volume-multi-attach shop/deployment/web,volumeattachment/csi-ccc",
		}},
		{Check: MountFailures{}, Fixture: "volume-mount-failed.yaml", Want: []string{"high volume-mount-failed shop/deployment/api"}},
		{Check: CSIDriverMissing{}, Fixture: "csi-driver-not-installed.yaml", Want: []string{
			"critical csi-driver-not-installed shop/statefulset/db",
			"critical csi-driver-not-installed shop/daemonset/agent",
		}},
		{Check: VolumeFull{}, Fixture: "volume-nearly-full.yaml", Probes: usage, Want: []string{
			"high volume-nearly-full shop/statefulset/db,shop/persistentvolumeclaim/data-db-0",
			"critical volume-nearly-full shop/statefulset/db,shop/persistentvolumeclaim/data-db-1",
			"critical volume-nearly-full shop/persistentvolumeclaim/logs",
		}},
		{Check: VolumeFull{}, Fixture: "volume-nearly-full.yaml"},
	})
}

// findingOn runs c on the fixture and returns its finding whose first object is object.
func findingOn(t *testing.T, c check.Check, tc fixture.Case, object string) check.Finding {
	t.Helper()
	return fixture.Find(t, c.Run(tc.Snapshot(t)), object)
}

func contains(t *testing.T, what string, lines []string, want ...string) {
	t.Helper()
	text := strings.Join(lines, "\n")
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, text)
		}
	}
}

// Each pending claim says why, in the words an engineer acts on, and the fix fits the reason.
func TestPendingClaimsSayWhy(t *testing.T) {
	tc := fixture.Case{Fixture: "pvc-pending.yaml"}
	db := findingOn(t, PendingClaims{}, tc, "shop/statefulset/db")
	contains(t, "message", []string{db.Message}, `StorageClass "fast" does not exist`, "1 pod of statefulset shop/db waits for it")
	contains(t, "fix", db.Fix, "kubectl describe pvc -n shop data-db-1", "kubectl get storageclass")

	cache := findingOn(t, PendingClaims{}, tc, "shop/deployment/cache")
	contains(t, "message", []string{cache.Message}, "names no StorageClass and the cluster has no default StorageClass", "it has no ready pod")
	contains(t, "fix", cache.Fix, `kubectl patch storageclass CLASS -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}'`)

	reports := findingOn(t, PendingClaims{}, tc, "shop/persistentvolumeclaim/reports-data")
	contains(t, "message", []string{reports.Message}, "WaitForFirstConsumer", "pod reports-1 cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu.",
		"job shop/reports")

	upload := findingOn(t, PendingClaims{}, tc, "shop/pod/uploader")
	contains(t, "message", []string{upload.Message}, "provisioner csi.nowhere.example.com", "no CSINode lists it")

	archive := findingOn(t, PendingClaims{}, tc, "shop/persistentvolumeclaim/archive")
	contains(t, "message", []string{archive.Message}, "provisioning failed: failed to provision volume", "Volume size exceeds the limit")
	contains(t, "evidence", archive.Evidence, "ProvisioningFailed, last: 2m ago, x12")

	static := findingOn(t, PendingClaims{}, tc, "shop/persistentvolumeclaim/static-data")
	contains(t, "message", []string{static.Message}, "StorageClass local-static provisions nothing (kubernetes.io/no-provisioner)")

	two := findingOn(t, PendingClaims{}, fixture.Case{Fixture: "pvc-two-defaults.yaml", Base: "pvc-pending.yaml"}, "shop/deployment/cache")
	contains(t, "message", []string{two.Message}, "2 StorageClasses are marked default (gp2, gp3)")
	contains(t, "fix", two.Fix, `kubectl patch storageclass gp2 -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"false"}}}'`)
	if slices.ContainsFunc(two.Fix, func(f string) bool { return strings.HasPrefix(f, "kubectl patch storageclass gp3") }) {
		t.Errorf("the newest default, gp3, is kept: %q", two.Fix)
	}
}

// The Multi-Attach fix frees the dead node's volumes the way Kubernetes documents, and never
// touches a node that is Ready.
func TestMultiAttachFix(t *testing.T) {
	tc := fixture.Case{Fixture: "volume-multi-attach.yaml"}
	db := findingOn(t, MultiAttach{}, tc, "shop/statefulset/db")
	contains(t, "message", []string{db.Message}, "volume pvc-111", "node node-a, which is NotReady")
	contains(t, "evidence", db.Evidence, `Multi-Attach error for volume "pvc-111"`, "VolumeAttachment csi-aaa: volume pvc-111 attached=true on node node-a")
	want := []string{
		"kubectl get node node-a -o wide   # confirm the machine is shut down or deleted, not just unreachable",
		"kubectl taint node node-a node.kubernetes.io/out-of-service=nodeshutdown:NoExecute   # once confirmed: its pods are deleted and volumes detached; remove the taint when the node returns",
		"kubectl delete node node-a   # instead of the taint, if the machine will not come back",
		"kubectl delete volumeattachment csi-aaa   # only if still there once the node is gone",
	}
	if !slices.Equal(db.Fix, want) {
		t.Errorf("fix\n%q\nwant\n%q", db.Fix, want)
	}
	queue := findingOn(t, MultiAttach{}, tc, "shop/deployment/queue")
	contains(t, "message", []string{queue.Message}, "node node-gone, which no longer exists")
	if want := []string{"kubectl delete volumeattachment csi-bbb   # only if still there once the node is gone"}; !slices.Equal(queue.Fix, want) {
		t.Errorf("fix %q, want %q", queue.Fix, want)
	}
	web := findingOn(t, MultiAttach{}, tc, "shop/deployment/web")
	for _, f := range web.Fix {
		if strings.Contains(f, "delete") || strings.Contains(f, "taint") {
			t.Errorf("node-c is Ready: nothing of it is deleted or tainted, got %q", f)
		}
	}
}

func TestMountAndDriverFindingsNameTheVolume(t *testing.T) {
	api := findingOn(t, MountFailures{}, fixture.Case{Fixture: "volume-mount-failed.yaml"}, "shop/deployment/api")
	contains(t, "message", []string{api.Message}, "1 pod of deployment shop/api cannot mount volume config", `configmap "api-config" not found`)
	contains(t, "fix", api.Fix, "kubectl describe pod -n shop api-6f-aaa")

	tc := fixture.Case{Fixture: "csi-driver-not-installed.yaml"}
	db := findingOn(t, CSIDriverMissing{}, tc, "shop/statefulset/db")
	contains(t, "message", []string{db.Message}, "CSI driver ebs.csi.aws.com", "node node-b", "1 other node has registered it")
	contains(t, "evidence", db.Evidence, "CSINode node-b lists no driver")
	agent := findingOn(t, CSIDriverMissing{}, tc, "shop/daemonset/agent")
	contains(t, "message", []string{agent.Message}, "secrets-store.csi.k8s.io", "no node has registered it")
}

func TestVolumeFullSaysHowFull(t *testing.T) {
	tc := fixture.Case{Fixture: "volume-nearly-full.yaml", Probes: usage}
	db := findingOn(t, VolumeFull{}, tc, "shop/statefulset/db")
	contains(t, "message", []string{db.Message}, "claim data-db-0 (pod db-0 on node-a): 9.5Gi of 10Gi used (95%), 512Mi free")
	contains(t, "fix", db.Fix, `kubectl patch -n shop pvc/data-db-0 -p '{"spec":{"resources":{"requests":{"storage":"NEW_SIZE"}}}}'`)
	logs := findingOn(t, VolumeFull{}, tc, "shop/persistentvolumeclaim/logs")
	contains(t, "evidence", logs.Evidence, "inodes 65536 of 65536 used")
}
