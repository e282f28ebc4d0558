package snapshot

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func recordedSnapshot() *Snapshot {
	s := New(SourceCluster)
	s.Context, s.Server, s.CollectedAt = "prod", "https://127.0.0.1:6443", time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	container := corev1.Container{Name: "app", Env: []corev1.EnvVar{{Name: "TOKEN", Value: "s3cr3t"},
		{Name: "FROM_SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}}}}
	s.Pods = []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop",
		Annotations: map[string]string{lastAppliedAnnotation: `{"env":"s3cr3t"}`, "team": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{container}}}}
	s.Deployments = []appsv1.Deployment{{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{InitContainers: []corev1.Container{container}}}}}}
	s.ConfigMaps = []corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"}, Data: map[string]string{"Corefile": ".:53 {}", "extra": "x"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "aws-auth", Namespace: "kube-system"}, Data: map[string]string{"mapRoles": "arn:..."},
			BinaryData: map[string][]byte{"b": {1}}},
	}
	s.MarkUnavailable(KindNodes, "forbidden")
	s.Finish()
	return s
}

func TestRecordKeepsWhatChecksReadAndNoMore(t *testing.T) {
	s := recordedSnapshot()
	keep := []ConfigMapKey{{"kube-system", "coredns", "Corefile"}}
	f := Record(s, []Kind{KindPods, KindDeployments, KindConfigMaps, KindNodes}, keep, "test")
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("s3cr3t")) {
		t.Error("the compressed file is not gzip, or it still holds the secret")
	}
	raw, _ := gzip.NewReader(bytes.NewReader(buf.Bytes()))
	var plain bytes.Buffer
	plain.ReadFrom(raw)
	for _, leaked := range []string{"s3cr3t", "arn:", `"extra"`, lastAppliedAnnotation} {
		if strings.Contains(plain.String(), leaked) {
			t.Errorf("the snapshot holds %q", leaked)
		}
	}
	// The live snapshot is left as it was read.
	if s.Pods[0].Spec.Containers[0].Env[0].Value != "s3cr3t" || s.Pods[0].Annotations[lastAppliedAnnotation] == "" ||
		s.Deployments[0].Spec.Template.Spec.InitContainers[0].Env[0].Value != "s3cr3t" || s.ConfigMaps[1].Data["extra"] != "x" {
		t.Error("Record changed the snapshot it recorded")
	}

	back, meta, err := ReadFile("incident.gz", bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if meta.Context != "prod" || !back.CollectedAt.Equal(s.CollectedAt) || back.Source != SourceCluster || back.Context != "prod" {
		t.Errorf("metadata %+v, snapshot %s %s", meta, back.Source, back.CollectedAt)
	}
	if got := back.Pods[0].Spec.Containers[0].Env; got[0].Name != "TOKEN" || got[0].Value != "" || got[1].ValueFrom == nil {
		t.Errorf("env %+v: names and references stay, values go", got)
	}
	// Sorted by name: aws-auth, coredns.
	if back.Pods[0].Annotations["team"] != "web" || back.ConfigMaps[0].Data != nil || back.ConfigMaps[0].BinaryData != nil ||
		back.ConfigMaps[1].Data["Corefile"] != ".:53 {}" || len(back.ConfigMaps[1].Data) != 1 {
		t.Errorf("configmaps %+v", back.ConfigMaps)
	}
	// What could not be read stays unreadable; what was never asked for is marked so.
	if back.Unavailable[KindNodes] != "forbidden" || !strings.Contains(back.Unavailable[KindRoles], "not recorded in the snapshot incident.gz") {
		t.Errorf("unavailable %v", back.Unavailable)
	}
	if _, ok := back.Unavailable[KindPods]; ok {
		t.Error("pods were recorded")
	}
	if _, ok := back.ObjectMeta(RefTo(KindDeployments, "shop", "d")); !ok {
		t.Error("the replayed snapshot is not indexed")
	}
}

func TestReadFileRefusesWhatItCannotTrust(t *testing.T) {
	gz := func(text string) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write([]byte(text))
		w.Close()
		return buf.Bytes()
	}
	cases := map[string]struct {
		data []byte
		want string
	}{
		"not gzip":    {[]byte("apiVersion: v1\n"), "not gzip data"},
		"not JSON":    {gz("{{{"), "invalid JSON"},
		"a report":    {gz(`{"apiVersion":"alertmend.io/v1alpha1","kind":"Report"}`), `kind "Report"`},
		"wrong types": {gz(`{"apiVersion":"alertmend.io/v1alpha1","kind":"Snapshot","pods":"many"}`), "x.gz is damaged: pods: got a string, want a list"},
		"wrong nested types": {gz(`{"apiVersion":"alertmend.io/v1alpha1","kind":"Snapshot","metadata":{"kinds":"pods"}}`),
			"x.gz is damaged: metadata.kinds: got a string, want a list"},
		"not an object": {gz(`[1]`), "x.gz is damaged or truncated: found a list where a JSON object belongs"},
		"truncated":     {gz(`{"apiVersion":"alertmend.io/v1alpha1","kind":"Snapshot","pods":[`), "damaged or truncated"},
		"a zip bomb":    {gz(`{"apiVersion":"alertmend.io/v1alpha1","kind":"Snapshot","serverVersion":"` + strings.Repeat("v", 3<<20) + `"}`), "expands to more than 2 MiB"},
		"deeply nested": {gz(`{"apiVersion":"alertmend.io/v1alpha1","kind":"Snapshot","pods":[{"metadata":{"labels":` +
			strings.Repeat(`{"a":`, 100000) + strings.Repeat("}", 100000) + "}}]}"), "exceeded max depth"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := readFile("x.gz", bytes.NewReader(c.data), 2<<20)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "x.gz") {
				t.Errorf("error %v, want %q naming the file", err, c.want)
			}
			if err != nil && goTypeNames.MatchString(err.Error()) {
				t.Errorf("error %q names Go types", err)
			}
		})
	}
}

// FuzzReadFile feeds arbitrary bytes, compressed or not, to the snapshot reader: an error or a
// snapshot, never a panic.
func FuzzReadFile(f *testing.F) {
	var buf bytes.Buffer
	Record(recordedSnapshot(), []Kind{KindPods}, nil, "test").Write(&buf)
	f.Add(buf.Bytes(), false)
	f.Add([]byte(`{"apiVersion":"alertmend.io/v1alpha1","kind":"Snapshot","metadata":{"kinds":["pods"]},"pods":[{"metadata":{"ownerReferences":[{"kind":"ReplicaSet","controller":true}]}}]}`), true)
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		if compress {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			w.Write(data)
			w.Close()
			data = z.Bytes()
		}
		if s, _, err := readFile("fuzz.gz", bytes.NewReader(data), 8<<20); err == nil {
			// A snapshot that loads must be safe to index.
			s.ObjectMeta(RefTo(KindPods, "", ""))
		}
	})
}

// A replay knows which unread kinds were absent from the cluster and which could not be seen,
// so its report is as complete, or as incomplete, as the run's.
func TestAbsentKindsSurviveReplay(t *testing.T) {
	s := New(SourceCluster)
	s.MarkAbsent(KindPodMetrics, "the metrics API (metrics.k8s.io) is not available")
	s.MarkUnavailable(KindNodes, "forbidden")
	var buf bytes.Buffer
	if err := Record(s, []Kind{KindNodes, KindPodMetrics, KindPods}, nil, "test").Write(&buf); err != nil {
		t.Fatal(err)
	}
	replayed, _, err := ReadFile("s.gz", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if !replayed.Absent[KindPodMetrics] || replayed.Absent[KindNodes] || replayed.Unavailable[KindPodMetrics] == "" || replayed.Unavailable[KindNodes] != "forbidden" {
		t.Errorf("absent %v, unavailable %v", replayed.Absent, replayed.Unavailable)
	}
	// Kinds the recording never asked for were not looked at: unseen, not absent.
	if replayed.Absent[KindServices] || replayed.Unavailable[KindServices] == "" {
		t.Errorf("an unrecorded kind: absent %v, unavailable %q", replayed.Absent[KindServices], replayed.Unavailable[KindServices])
	}
}
