package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// An API server restart breaks every watch at once: one line when the first breaks, one when the
// last resumes; a kind that was never read (forbidden from the start) is no outage.
func TestOutageIsToldOnce(t *testing.T) {
	var notes bytes.Buffer
	w := &watcher{Config: Config{Notes: &notes}, changed: make(chan struct{}, 1)}
	pods := &source{kind: snapshot.KindPods, name: "pods"}
	nodes := &source{kind: snapshot.KindNodes, name: "nodes"}
	forbidden := &source{kind: snapshot.KindServices, name: "services"}
	w.health(pods, nil, true)
	w.health(nodes, nil, true)
	w.health(forbidden, errors.New("forbidden"), true)
	refused := errors.New("connection refused")
	w.health(pods, refused, false)
	w.health(nodes, refused, true)
	w.health(pods, refused, false)
	if ready, failure := pods.state(); ready || failure != refused {
		t.Errorf("pods in the outage: ready %v, failure %v", ready, failure)
	}
	w.health(pods, nil, true)
	if strings.Contains(notes.String(), "resumed") {
		t.Errorf("resumed while nodes are still unread:\n%s", notes.String())
	}
	w.health(nodes, nil, false)
	want := "watch of pods interrupted: connection refused; resuming\nwatch resumed: every kind is read again\n"
	if notes.String() != want {
		t.Errorf("notes:\n%s\nwant:\n%s", notes.String(), want)
	}
}

// A kind whose informer cannot list is unavailable with collect's reason, so its checks are not
// evaluated; the others are filled from their stores in namespace/name order.
func TestFillMarksWhatCannotBeRead(t *testing.T) {
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	for _, name := range []string{"b", "a", "c"} {
		if err := store.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}}); err != nil {
			t.Fatal(err)
		}
	}
	snap := snapshot.New(snapshot.SourceCluster)
	if err := fill(context.Background(), snap, snapshot.KindPods, []*source{{kind: snapshot.KindPods, store: store, listed: true}}); err != nil {
		t.Fatal(err)
	}
	if len(snap.Pods) != 3 || snap.Pods[0].Name != "a" || snap.Pods[2].Name != "c" {
		t.Errorf("pods: %v", snap.Pods)
	}
	denied := apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", errors.New("user bob cannot list nodes"))
	nodes := &source{kind: snapshot.KindNodes, store: cache.NewStore(cache.MetaNamespaceKeyFunc), failure: denied}
	if err := fill(context.Background(), snap, snapshot.KindNodes, []*source{nodes}); err != nil {
		t.Fatal(err)
	}
	if reason := snap.Unavailable[snapshot.KindNodes]; !strings.HasPrefix(reason, "forbidden: ") {
		t.Errorf("nodes unavailable because %q, want collect's forbidden reason", reason)
	}
}

// Informers keep what a run keeps: no managedFields (but their slim form where change times are
// read), no last-applied copy, and events reduced to what checks read.
func TestTransformKeepsWhatChecksRead(t *testing.T) {
	managed := []metav1.ManagedFieldsEntry{{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}}}
	annotations := map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":"s3cr3t"}`, "team": "web"}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ManagedFields: managed, Annotations: annotations}}
	if _, err := transform(snapshot.KindPods)(pod); err != nil {
		t.Fatal(err)
	}
	if pod.ManagedFields != nil || len(pod.Annotations) != 1 || pod.Annotations["team"] != "web" {
		t.Errorf("pod kept %v, %v", pod.ManagedFields, pod.Annotations)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ManagedFields: managed}}
	if _, err := transform(snapshot.KindConfigMaps)(cm); err != nil {
		t.Fatal(err)
	}
	if len(cm.ManagedFields) != 1 || cm.ManagedFields[0].Manager != "helm" || cm.ManagedFields[0].FieldsV1 != nil {
		t.Errorf("configmap's change times: %v", cm.ManagedFields)
	}
	event := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Labels: map[string]string{"a": "b"}}, Reason: "BackOff"}
	if _, err := transform(snapshot.KindEvents)(event); err != nil {
		t.Fatal(err)
	}
	if event.Labels != nil || event.Reason != "BackOff" {
		t.Errorf("event: %+v", event)
	}
	if _, err := transform(snapshot.KindPods)(cache.DeletedFinalStateUnknown{Key: "x"}); err != nil {
		t.Errorf("a tombstone: %v", err)
	}
}

// An events store keeps what the bound keeps: the rest is forgotten at the evaluation, so the
// watch holds about what a run would, not every event of the hour.
func TestEventsStoreIsBounded(t *testing.T) {
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	base := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	for i := range 12 {
		at := metav1.NewTime(base.Add(time.Duration(i) * time.Minute))
		e := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: fmt.Sprintf("cart.%02d", i)}, Type: corev1.EventTypeWarning,
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "cart"}, LastTimestamp: at, FirstTimestamp: at}
		if err := store.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	warnings := &source{kind: snapshot.KindEvents, store: store, listed: true, perObject: 5, total: 100}
	snap := snapshot.New(snapshot.SourceCluster)
	if err := fill(context.Background(), snap, snapshot.KindEvents, []*source{warnings}); err != nil {
		t.Fatal(err)
	}
	if len(snap.Events) != 5 || snap.EventsLeftOut != 7 {
		t.Fatalf("the snapshot holds %d events, %d left out; want 5 and 7", len(snap.Events), snap.EventsLeftOut)
	}
	if keys := store.ListKeys(); len(keys) != 5 || !slices.Contains(keys, "shop/cart.11") {
		t.Errorf("the store keeps %v, want the newest 5", keys)
	}
}
