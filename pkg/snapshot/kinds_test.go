package snapshot

import (
	"bytes"
	"compress/gzip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// everyKindKeep is the ConfigMap data testdata/every-kind.yaml has that a recording keeps.
var everyKindKeep = []ConfigMapKey{{"kube-system", "coredns", "Corefile"}}

// everyKind is a snapshot with data of every kind in the table: the objects of
// testdata/every-kind.yaml, and an answer of each probe.
func everyKind(t *testing.T) *Snapshot {
	t.Helper()
	s, err := (&Loader{}).LoadFiles([]string{"testdata/every-kind.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	s.Context, s.Server, s.CollectedAt = "prod", "https://127.0.0.1:6443", time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	s.ServerVersion = "v1.37.2"
	s.AnonymousAccess = []ProbeResult{{Path: "/version", Status: 200}, {Path: "/api/v1/pods", Status: 401}}
	s.DNSMetrics = []DNSMetrics{{Pod: RefTo(KindPods, "kube-system", "coredns-b"), Responses: map[string]float64{"SERVFAIL": 3}},
		{Pod: RefTo(KindPods, "kube-system", "coredns-a"), Error: "connection refused"}}
	s.KubeletConfigs = []KubeletConfig{{Node: "node-b", ResolvConf: "/run/systemd/resolve/resolv.conf"}, {Node: "node-a", Error: "forbidden"}}
	s.Conntrack = &Conntrack{Sources: []string{"Prometheus at http://127.0.0.1:9090"},
		Nodes: []ConntrackNode{{Node: "node-b", Entries: 9, Limit: 10, Counters: &ConntrackCounters{Drop: 4}}, {Node: "node-a", Entries: 1, Limit: 10}}}
	port := int32(80)
	s.HTTPRoutes = []HTTPRoute{{Namespace: "shop", Name: "cart", Rules: []HTTPRouteRules{{BackendRefs: []HTTPBackendRef{{Name: "cart", Port: &port}}}}}}
	s.ServingCertificate = &ServingCertificate{Chain: []CertificateInfo{{Subject: "CN=kube-apiserver", Issuer: "CN=kubernetes",
		NotBefore: metav1.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: metav1.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Leaf: true}}}
	expires := metav1.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s.CertManagerCertificates = []CertManagerCertificate{{Namespace: "shop", Name: "shop-tls", SecretName: "shop-tls", NotAfter: &expires,
		Conditions: []CertManagerCondition{{Type: "Ready", Status: "False", Reason: "Failed"}}}}
	s.VolumeStats = &VolumeStats{Source: "Prometheus at http://127.0.0.1:9090",
		Volumes: []VolumeUsage{{Namespace: "shop", Claim: "data-db-0", Node: "node-a", CapacityBytes: 100, AvailableBytes: 5, Inodes: 10, InodesFree: 9}}}
	written := metav1.Date(2026, 11, 24, 9, 50, 0, 0, time.UTC)
	s.ConfigMapMetadata = []ConfigMapMetadata{{Namespace: "shop", Name: "cart-config", Created: metav1.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		Writes: []metav1.ManagedFieldsEntry{{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate, Time: &written}}}}
	s.ControllerRevisions = []ControllerRevision{{Namespace: "shop", Name: "db-7c9d", OwnerKind: "StatefulSet", OwnerName: "db", OwnerUID: "u-1",
		Revision: 2, Created: written, Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db:2",
			Env: []corev1.EnvVar{{Name: "PASSWORD", Value: RevisionEnvChanged}}}}}}}}
	s.Finish()
	for _, e := range kindEntries {
		if isEmpty(e.data.field(s)) {
			t.Errorf("kind %s has no sample: add an object of it to testdata/every-kind.yaml, or its probe's answer to everyKind", e.kind)
		}
	}
	return s
}

func writeAndRead(t *testing.T, f *File, name string) *Snapshot {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	back, _, err := ReadFile(name, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// Every kind of the table goes from manifests through a recording to a replay and comes back
// as it was recorded: what scrubbing leaves, no more and no less.
func TestEveryKindSurvivesRecordAndReplay(t *testing.T) {
	s := everyKind(t)
	f := Record(s, AllKinds(), everyKindKeep, "test")
	back := writeAndRead(t, f, "every-kind.gz")
	if len(back.Unavailable) != 0 {
		t.Errorf("unavailable after replay: %v", back.Unavailable)
	}
	for _, e := range kindEntries {
		recorded, replayed := e.data.field(f.recorded), e.data.field(back)
		if isEmpty(replayed) {
			t.Errorf("%s: nothing replayed", e.kind)
			continue
		}
		if !equality.Semantic.DeepEqual(recorded, replayed) {
			t.Errorf("%s: replayed %+v, recorded %+v", e.kind, replayed, recorded)
		}
	}
	probes := 0
	for _, e := range kindEntries {
		if e.info.Probe {
			probes++
		}
	}
	if got, want := f.ObjectCount(), len(kindEntries)-probes; got != want {
		t.Errorf("the file counts %d objects, want one per object kind (%d)", got, want)
	}

	// What the recording leaves out, it leaves out of every kind.
	var plain bytes.Buffer
	if err := f.Write(&plain); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&plain)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if _, err := text.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	for _, leaked := range []string{"s3cr3t", lastAppliedAnnotation, "managedFields", "not read by any check"} {
		if strings.Contains(text.String(), leaked) {
			t.Errorf("the recording holds %q", leaked)
		}
	}

	// ... and out of its own copy: the snapshot recorded is still whole (a kind whose template is
	// a pointer would otherwise share it with the recording).
	unrecorded := everyKind(t)
	for _, e := range kindEntries {
		if !equality.Semantic.DeepEqual(e.data.field(s), e.data.field(unrecorded)) {
			t.Errorf("%s: recording changed the snapshot recorded", e.kind)
		}
	}
	if back.Pods[0].Annotations["team"] != "web" || back.Pods[0].Spec.Containers[0].Env[1].ValueFrom == nil ||
		back.ConfigMaps[0].Data["Corefile"] == "" {
		t.Error("the recording dropped more than credentials and bulk")
	}
}

// A kind the file does not list as read replays as unavailable, with the reason, never as an
// empty list the checks would take as read: each kind in turn.
func TestAKindMissingFromTheFileIsUnavailable(t *testing.T) {
	s := everyKind(t)
	for _, missing := range AllKinds() {
		recorded := slices.DeleteFunc(AllKinds(), func(k Kind) bool { return k == missing })
		back := writeAndRead(t, Record(s, recorded, everyKindKeep, "test"), "partial.gz")
		if why := back.Unavailable[missing]; !strings.Contains(why, "not recorded in the snapshot partial.gz") {
			t.Errorf("%s left out of the file: unavailable %q", missing, why)
		}
		if len(back.Unavailable) != 1 {
			t.Errorf("%s left out of the file: unavailable %v, want only it", missing, back.Unavailable)
		}
	}
}

// A file the previous version wrote (field by field, from a struct) reads whole, and the same
// snapshot is written back byte for byte.
func TestFilesWrittenBeforeStillRead(t *testing.T) {
	plain, err := os.ReadFile("testdata/every-kind.recorded.json")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	back, metadata, err := ReadFile("every-kind.recorded.json", &gz)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range kindEntries {
		if isEmpty(e.data.field(back)) {
			t.Errorf("%s: not read from the file", e.kind)
		}
	}
	again := Record(back, metadata.Kinds, everyKindKeep, metadata.Tool)
	written, err := again.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.TrimSuffix(plain, []byte("\n")); !bytes.Equal(written, want) {
		t.Errorf("written back differently:\n%s\nwas\n%s", written, want)
	}
	var decoded File
	if err := decoded.UnmarshalJSON(written); err != nil || decoded.ObjectCount() != again.ObjectCount() {
		t.Errorf("UnmarshalJSON: %v, %d objects, want %d", err, decoded.ObjectCount(), again.ObjectCount())
	}
}

// The table is consistent: names unique, and each object kind's list holds its objects.
func TestKindTable(t *testing.T) {
	seen := map[string]Kind{}
	unique := func(what, name string, k Kind) {
		if other, dup := seen[what+" "+name]; dup {
			t.Errorf("%s %q belongs to %s and %s", what, name, other, k)
		}
		seen[what+" "+name] = k
	}
	for _, e := range kindEntries {
		unique("kind", string(e.kind), e.kind)
		unique("file field", e.fileField, e.kind)
		for _, short := range e.shortNames {
			unique("short name", short, e.kind)
			if got, _ := KindForType(strings.ToUpper(short)); got != e.kind {
				t.Errorf("KindForType(%q) = %q, want %s", short, got, e.kind)
			}
		}
		info := e.kind.Info()
		if info.Probe {
			if _, ok := e.kind.ObjectsIn(New(SourceCluster)); ok {
				t.Errorf("probe %s has an object list", e.kind)
			}
			continue
		}
		unique("object kind", info.ObjectKind, e.kind)
		if got, _ := KindOf(info.ObjectKind); got != e.kind {
			t.Errorf("KindOf(%q) = %q", info.ObjectKind, got)
		}
		if info.Resource == "" || info.GroupVersion == "" {
			t.Errorf("%s: %+v", e.kind, info)
		}
		s := New(SourceCluster)
		list, ok := e.kind.ObjectsIn(s)
		if !ok {
			t.Fatalf("%s has no object list", e.kind)
		}
		page := list.NewList()
		if err := meta.SetList(page, []runtime.Object{sampleItem(t, page)}); err != nil {
			t.Fatalf("%s: %v", e.kind, err)
		}
		if n, err := list.Append(page); err != nil || n != 1 || list.Len() != 1 {
			t.Errorf("%s: appended %d (%v), holds %d", e.kind, n, err, list.Len())
		}
	}
}

// sampleItem is a new object of the type page's items have, named.
func sampleItem(t *testing.T, page runtime.Object) runtime.Object {
	t.Helper()
	items, err := meta.GetItemsPtr(page)
	if err != nil {
		t.Fatal(err)
	}
	obj := reflect.New(reflect.TypeOf(items).Elem().Elem()).Interface().(runtime.Object)
	accessor, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	accessor.SetName("sample")
	return obj
}

// Objects are in the order of their "namespace/name" strings, as they always were.
func TestCompareQualifiedIsTheOrderOfJoinedNames(t *testing.T) {
	names := []string{"", "a", "a-b", "a.b", "ab", "a/b", "shop", "shop-v2", "shop2", "z"}
	for _, nsA := range names {
		for _, nsB := range names {
			for _, nameA := range names {
				for _, nameB := range names {
					want := strings.Compare(nsA+"/"+nameA, nsB+"/"+nameB)
					if got := compareQualified(nsA, nameA, nsB, nameB); sign(got) != want {
						t.Fatalf("compareQualified(%q, %q, %q, %q) = %d, want %d", nsA, nameA, nsB, nameB, got, want)
					}
				}
			}
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// deploy/rbac.yaml lets its readers list every kind of the table, and watch it for diagnose
// --watch (all but the metrics API, which a watch re-reads): adding a kind without its permission
// fails here, not on a user's cluster as "not evaluated".
func TestRBACAllowsListingEveryKind(t *testing.T) {
	s, err := (&Loader{}).LoadFiles([]string{"../../deploy/rbac.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	allows := func(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
		for _, r := range rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
				return true
			}
		}
		return false
	}
	var clusterReader, configMapReader []rbacv1.PolicyRule
	for _, role := range s.ClusterRoles {
		if role.Name == "alertmend-reader" {
			clusterReader = role.Rules
		}
	}
	for _, role := range s.Roles {
		if role.Namespace == "kube-system" && role.Name == "alertmend-reader" {
			configMapReader = role.Rules
		}
	}
	if clusterReader == nil || configMapReader == nil {
		t.Fatal("deploy/rbac.yaml has no ClusterRole alertmend-reader, or no Role alertmend-reader in kube-system")
	}
	for _, k := range AllKinds() {
		info := k.Info()
		if info.Probe {
			continue
		}
		rules := clusterReader
		if k == KindConfigMaps {
			rules = configMapReader // ConfigMaps are read where the cluster's add-ons keep theirs
		}
		verbs := []string{"list", "watch"}
		if k == KindPodMetrics {
			verbs = verbs[:1]
		}
		for _, verb := range verbs {
			if !allows(rules, info.Group, info.Resource, verb) {
				t.Errorf("deploy/rbac.yaml does not allow %s on %s (group %q, resource %q)", verb, k, info.Group, info.Resource)
			}
		}
	}
}

func TestObjectTypesAndTheirTypos(t *testing.T) {
	types := ObjectTypes()
	if !slices.Contains(types, "pod") || !slices.Contains(types, "deployment") || !slices.IsSorted(types) {
		t.Errorf("ObjectTypes() = %q", types)
	}
	for _, typ := range types {
		if _, ok := KindForType(typ); !ok {
			t.Errorf("ObjectTypes offers %q, which KindForType does not read", typ)
		}
	}
	for typ, want := range map[string]string{
		"deploymnt": ` (did you mean "deployment"?)`,
		"pdos":      ` (did you mean "pods"?)`,
		"Nodee":     ` (did you mean "node" or "nodes"?)`,
		"widget":    " (e.g. pod, deployment, statefulset, daemonset, node, namespace)",
	} {
		if got := UnknownTypeHint(typ); got != want {
			t.Errorf("UnknownTypeHint(%q) = %q, want %q", typ, got, want)
		}
	}
}
