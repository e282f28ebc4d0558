//go:build e2e

package collect

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	var err error
	cluster, err = testcluster.Start(ctx, testcluster.Options{Log: os.Stderr})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

func client(t *testing.T, cfg *rest.Config, log *requestLog) Clients {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.WrapTransport = log.wrap
	c, err := NewClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCollectPagesAndReadsOnlyWhatIsAsked(t *testing.T) {
	ctx := context.Background()
	ns := "paging"
	admin := cluster.Client
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 7; i++ {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: ns},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
		}
		if _, err := admin.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	log := &requestLog{}
	snap, err := Collect(ctx, client(t, cluster.Config, log), []snapshot.Kind{snapshot.KindPods, snapshot.KindNodes}, Options{Namespace: ns, ChunkSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Pods) != 7 {
		t.Errorf("collected %d pods, want 7", len(snap.Pods))
	}
	for _, p := range snap.Pods {
		if p.ManagedFields != nil {
			t.Errorf("pod %s keeps managedFields", p.Name)
		}
	}
	if pages := log.matching("/api/v1/namespaces/paging/pods"); len(pages) != 3 {
		t.Errorf("7 pods in pages of 3 took %d requests, want 3: %q", len(pages), pages)
	}
	if other := log.matching("deployments"); len(other) != 0 {
		t.Errorf("listed kinds nobody asked for: %q", other)
	}
	for _, r := range log.matching("") {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("non-read request %s", r)
		}
	}
}

func TestCollectRecordsForbiddenKinds(t *testing.T) {
	cfg, err := cluster.UserConfig("stranger")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Collect(context.Background(), client(t, cfg, &requestLog{}), []snapshot.Kind{snapshot.KindNodes, snapshot.KindPods}, Options{})
	if err != nil {
		t.Fatalf("forbidden kinds must not fail the collection: %v", err)
	}
	for _, k := range []snapshot.Kind{snapshot.KindNodes, snapshot.KindPods} {
		if reason := snap.Unavailable[k]; !strings.HasPrefix(reason, "forbidden: ") || !strings.Contains(reason, `"stranger"`) {
			t.Errorf("%s: unavailable reason %q", k, reason)
		}
	}
}

// The test control plane, like many clusters, has no metrics-server: usage is unavailable with
// a reason that says how to make it available, and nothing else is affected.
func TestCollectWithoutTheMetricsAPI(t *testing.T) {
	snap, err := Collect(context.Background(), client(t, cluster.Config, &requestLog{}), []snapshot.Kind{snapshot.KindPodMetrics, snapshot.KindLimitRanges}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if reason := snap.Unavailable[snapshot.KindPodMetrics]; !strings.Contains(reason, "install metrics-server") {
		t.Errorf("podmetrics unavailable reason %q", reason)
	}
	if _, blind := snap.Unavailable[snapshot.KindLimitRanges]; blind {
		t.Errorf("limitranges marked unavailable: %v", snap.Unavailable)
	}
}

// When nothing answers requests without credentials (a proxy that demands a client certificate,
// say), only what reads them is blinded; the rest of the collection goes on.
func TestCollectWhenAnonymousRequestsGetNoAnswer(t *testing.T) {
	clients := client(t, cluster.Config, &requestLog{})
	closed := rest.CopyConfig(cluster.Config)
	closed.Host = "https://127.0.0.1:1"
	unreachable, err := NewClients(closed)
	if err != nil {
		t.Fatal(err)
	}
	clients.Anonymous = unreachable.Anonymous
	snap, err := Collect(context.Background(), clients, []snapshot.Kind{snapshot.KindAnonymousAccess, snapshot.KindNodes}, Options{})
	if err != nil {
		t.Fatalf("an unanswered probe must not fail the collection: %v", err)
	}
	if reason := snap.Unavailable[snapshot.KindAnonymousAccess]; !strings.Contains(reason, "no answer to requests without credentials") {
		t.Errorf("reason %q", reason)
	}
}

// Against the real server, anonymous requests are answered (401 here, as anonymous auth is off)
// and recorded.
func TestCollectProbesAnonymousAccess(t *testing.T) {
	log := &requestLog{}
	snap, err := Collect(context.Background(), client(t, cluster.Config, log), []snapshot.Kind{snapshot.KindAnonymousAccess, snapshot.KindServerVersion}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.ServerVersion != testcluster.KubernetesVersion {
		t.Errorf("server version %q", snap.ServerVersion)
	}
	if len(snap.AnonymousAccess) != 4 {
		t.Fatalf("probe results %+v", snap.AnonymousAccess)
	}
	for _, r := range snap.AnonymousAccess {
		if r.Status != 401 {
			t.Errorf("%s answered %d without credentials, want 401", r.Path, r.Status)
		}
	}
	for _, r := range log.matching("") {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("non-read request %s", r)
		}
	}
}

func TestCollectFailsWhenTheServerIsGone(t *testing.T) {
	cfg := rest.CopyConfig(cluster.Config)
	cfg.Host = "https://127.0.0.1:1"
	c, err := NewClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Collect(context.Background(), c, []snapshot.Kind{snapshot.KindNodes}, Options{})
	if _, ok := err.(*UnreachableError); !ok {
		t.Errorf("err = %v (%T), want *UnreachableError", err, err)
	}
}
