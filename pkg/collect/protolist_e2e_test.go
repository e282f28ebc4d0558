//go:build e2e

package collect

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// Against the real API server, whose protobuf answers are what the shortcut reads, each kind it
// lists is read as the typed client reads it, without managedFields.
func TestListsAsTheTypedClientAgainstTheRealServer(t *testing.T) {
	ctx := context.Background()
	ns := "stripped"
	admin := cluster.Client
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
	must(admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}))
	pods := benchPodList(4)
	for i := range pods.Items {
		pod := &pods.Items[i]
		pod.Namespace, pod.ManagedFields, pod.OwnerReferences, pod.ResourceVersion, pod.UID = ns, nil, nil, "", ""
		pod.Spec.NodeName, pod.Spec.ServiceAccountName, pod.Spec.DeprecatedServiceAccount = "", "default", "default"
		created, err := admin.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		must(created, err)
		created.Status = pod.Status
		must(admin.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}))
	}
	rs := benchReplicaSetList(benchPodList(1)).Items[0]
	rs.Namespace, rs.ManagedFields, rs.OwnerReferences, rs.ResourceVersion, rs.UID = ns, nil, nil, "", ""
	must(admin.AppsV1().ReplicaSets(ns).Create(ctx, &rs, metav1.CreateOptions{}))
	must(admin.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: rs.Labels},
		Spec: appsv1.DeploymentSpec{Selector: rs.Spec.Selector, Template: rs.Spec.Template}}, metav1.CreateOptions{}))
	must(admin.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}))

	var answers [][]byte
	var mu sync.Mutex
	cfg := rest.CopyConfig(cluster.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err != nil {
				return resp, err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(body))
			mu.Lock()
			answers = append(answers, body)
			mu.Unlock()
			return resp, err
		})
	}
	clients, err := NewClients(cfg)
	must(clients, err)
	snap, err := Collect(ctx, clients, []snapshot.Kind{snapshot.KindPods, snapshot.KindReplicaSets, snapshot.KindDeployments, snapshot.KindServices}, Options{Namespace: ns})
	must(snap, err)
	if len(answers) != 4 {
		t.Errorf("%d answers, want 4", len(answers))
	}
	for _, body := range answers {
		// Metadata-only lists decode any kind's list.
		if ok, _ := unmarshalWithoutManagedFields(body, &metav1.PartialObjectMetadataList{}, nil); !ok {
			t.Errorf("the shortcut cannot read the server's answer %q...", body[:min(len(body), 40)])
		}
	}
	if len(snap.Unavailable) > 0 {
		t.Fatalf("unavailable: %v", snap.Unavailable)
	}

	typedPods, err := admin.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	must(typedPods, err)
	if len(typedPods.Items[0].ManagedFields) == 0 {
		t.Fatal("the server wrote no managedFields")
	}
	typedReplicaSets, err := admin.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	must(typedReplicaSets, err)
	typedDeployments, err := admin.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	must(typedDeployments, err)
	typedServices, err := admin.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	must(typedServices, err)
	for kind, same := range map[snapshot.Kind]bool{
		snapshot.KindPods:        equality.Semantic.DeepEqual(snap.Pods, itemsWithoutManagedFields(typedPods.Items)),
		snapshot.KindReplicaSets: equality.Semantic.DeepEqual(snap.ReplicaSets, itemsWithoutManagedFields(typedReplicaSets.Items)),
		snapshot.KindDeployments: equality.Semantic.DeepEqual(snap.Deployments, itemsWithoutManagedFields(typedDeployments.Items)),
		snapshot.KindServices:    equality.Semantic.DeepEqual(snap.Services, itemsWithoutManagedFields(typedServices.Items)),
	} {
		if !same {
			t.Errorf("%s read differ from the typed client's without managedFields", kind)
		}
	}
}
