package collect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// withoutManagedFields is what the typed client's list becomes once pages drops managedFields.
func withoutManagedFields(list *corev1.PodList) *corev1.PodList {
	out := list.DeepCopy()
	itemsWithoutManagedFields(out.Items)
	return out
}

func itemsWithoutManagedFields[T any, PT interface {
	*T
	SetManagedFields([]metav1.ManagedFieldsEntry)
}](items []T) []T {
	for i := range items {
		PT(&items[i]).SetManagedFields(nil)
	}
	return items
}

// smallPod has metadata and a pod message short enough that leaving out its managedFields
// shortens their length prefixes from two bytes to one.
func smallPod(name string, managed bool) corev1.Pod {
	pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if managed {
		pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "m", Operation: metav1.ManagedFieldsOperationUpdate,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{` + strings.Repeat(" ", 150) + `}}}`)}}}
	}
	return pod
}

func TestManagedFieldsAreLeftOutAndAllElseKept(t *testing.T) {
	remaining := int64(42)
	realistic := benchPodList(3)
	realistic.Items[1].ManagedFields = nil
	cases := map[string]*corev1.PodList{
		"empty":             {},
		"list metadata":     {ListMeta: metav1.ListMeta{ResourceVersion: "7", Continue: "next", RemainingItemCount: &remaining}},
		"realistic":         realistic,
		"small":             {Items: []corev1.Pod{smallPod("a", true), smallPod("b", false), smallPod("c", true)}},
		"none managed":      {Items: []corev1.Pod{smallPod("a", false), smallPod("b", false)}},
		"only managed ones": {Items: []corev1.Pod{smallPod("a", true)}},
	}
	for name, list := range cases {
		raw, ok := protobufList(protobufBody(t, list))
		if !ok {
			t.Fatalf("%s: not a protobuf list", name)
		}
		got, err := appendWithoutManagedFields(nil, raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := withoutManagedFields(list)
		wantBytes, err := want.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, wantBytes) {
			t.Errorf("%s: stripped list is not the list marshalled without managedFields", name)
		}
		var decoded corev1.PodList
		if err := decoded.Unmarshal(got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !equality.Semantic.DeepEqual(&decoded, want) {
			t.Errorf("%s: decoded list differs from the typed client's once managedFields are dropped", name)
		}
		// The whole answer, as the lister reads it: the same list, its items allocated once.
		var viaLister corev1.PodList
		if ok, _ := unmarshalWithoutManagedFields(protobufBody(t, list), &viaLister, nil); !ok {
			t.Fatalf("%s: not decoded", name)
		}
		if !equality.Semantic.DeepEqual(&viaLister, want) || cap(viaLister.Items) != len(list.Items) {
			t.Errorf("%s: %d items in room for %d, want the list without managedFields in room for exactly %d",
				name, len(viaLister.Items), cap(viaLister.Items), len(list.Items))
		}
	}
}

// Fields this client does not know (a newer server's) are copied as they are, at every level,
// and a field 17 elsewhere than in metadata is not taken for managedFields.
func TestUnknownFieldsAreKept(t *testing.T) {
	field := func(num protowire.Number, contents []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), contents)
	}
	marshal := func(m interface{ Marshal() ([]byte, error) }) []byte {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pod := smallPod("a", true)
	entry := marshal(&pod.ManagedFields[0])
	pod.ManagedFields = nil
	list := func(managed bool) []byte {
		meta := marshal(&pod.ObjectMeta)
		if managed {
			meta = append(meta, field(metaManagedFields, entry)...)
		}
		meta = append(meta, field(99, []byte("a newer metadata field"))...)
		if managed {
			meta = append(meta, field(metaManagedFields, entry)...)
		}
		item := append(field(objectMetadata, meta), field(2, marshal(&pod.Spec))...)
		item = append(item, field(metaManagedFields, []byte("a pod field numbered 17"))...)
		item = protowire.AppendVarint(protowire.AppendTag(item, 98, protowire.VarintType), 7)
		out := field(1, marshal(&metav1.ListMeta{ResourceVersion: "1"}))
		out = append(out, field(listItems, item)...)
		out = protowire.AppendFixed32(protowire.AppendTag(out, 97, protowire.Fixed32Type), 3)
		return append(out, field(listItems, item)...)
	}
	for _, managed := range []bool{true, false} {
		got, err := appendWithoutManagedFields(nil, list(managed))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, list(false)) {
			t.Errorf("managed %v: got %x\nwant %x", managed, got, list(false))
		}
	}
}

func TestCutOrMalformedAnswers(t *testing.T) {
	body := protobufBody(t, benchPodList(2))
	raw, _ := protobufList(body)
	var list corev1.PodList
	for _, cut := range []int{len(body) - 1, len(body) / 2, len(protobufMagic) + 1} {
		if ok, _ := unmarshalWithoutManagedFields(body[:cut], &list, nil); ok {
			t.Errorf("body cut at %d of %d was decoded", cut, len(body))
		}
	}
	for _, cut := range []int{len(raw) - 1, len(raw) / 2, 1} {
		if _, err := appendWithoutManagedFields(nil, raw[:cut]); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("list cut at %d of %d: err %v", cut, len(raw), err)
		}
	}
	// Field number 0 is not protobuf.
	if _, err := appendWithoutManagedFields(nil, []byte{0x02, 0x00}); err == nil || !strings.Contains(err.Error(), "protobuf") {
		t.Errorf("malformed list: err %v", err)
	}
}

func TestOtherAnswersAreLeftToTheUsualDecoder(t *testing.T) {
	status := protobufBody(t, &metav1.Status{Status: metav1.StatusFailure, Code: 500})
	for name, body := range map[string][]byte{
		"JSON":               []byte(`{"kind":"PodList","apiVersion":"v1","items":[]}`),
		"a Status":           status,
		"the magic and none": []byte(protobufMagic),
	} {
		var list corev1.PodList
		if ok, _ := unmarshalWithoutManagedFields(body, &list, nil); ok {
			t.Errorf("%s: decoded; want it left to client-go", name)
		}
	}
}

// Pages are decoded through one scratch buffer: what a page decoded to must not change when the
// next one is read.
func TestPagesDoNotShareTheScratchBuffer(t *testing.T) {
	lists := benchPodList(4)
	first, second := lists.DeepCopy(), lists.DeepCopy()
	first.Items, second.Items = first.Items[:2], second.Items[2:]
	var got1, got2 corev1.PodList
	ok1, buf := unmarshalWithoutManagedFields(protobufBody(t, first), &got1, nil)
	ok2, _ := unmarshalWithoutManagedFields(protobufBody(t, second), &got2, buf)
	if !ok1 || !ok2 {
		t.Fatal("not decoded")
	}
	if !equality.Semantic.DeepEqual(&got1, withoutManagedFields(first)) || !equality.Semantic.DeepEqual(&got2, withoutManagedFields(second)) {
		t.Error("a page changed when the next was decoded")
	}
}

// fakePods is an API server that lists pods in pages, in protobuf or in JSON. Before answering,
// it asks intercept (when set) whether to answer otherwise.
type fakePods struct {
	t         *testing.T
	pods      []corev1.Pod
	json      bool
	intercept func(n int, token string, w http.ResponseWriter) bool
	// hold, when set, keeps the request for this continue token unanswered until the client
	// gives it up, then closes holdEnded.
	hold      string
	holdEnded chan struct{}

	mu     sync.Mutex
	tokens []string // the continue token of each LIST, "" for the first page
}

func (f *fakePods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/namespaces/default/pods" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	token := r.URL.Query().Get("continue")
	f.mu.Lock()
	f.tokens = append(f.tokens, token)
	n := len(f.tokens)
	f.mu.Unlock()
	if f.hold != "" && token == f.hold {
		select {
		case <-r.Context().Done():
			close(f.holdEnded)
		case <-time.After(30 * time.Second):
		}
		return
	}
	if f.intercept != nil && f.intercept(n, token, w) {
		return
	}
	start, _ := strconv.Atoi(strings.TrimPrefix(token, "p"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	end := len(f.pods)
	if limit > 0 {
		end = min(start+limit, end)
	}
	page := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}, Items: f.pods[start:end]}
	if end < len(f.pods) {
		page.Continue = fmt.Sprintf("p%d", end)
		page.RemainingItemCount = new(int64(len(f.pods) - end))
	}
	f.write(w, http.StatusOK, page)
}

// write encodes obj as the API server would, in protobuf unless it answers JSON.
func (f *fakePods) write(w http.ResponseWriter, code int, obj runtime.Object) {
	mediaType := runtime.ContentTypeProtobuf
	if f.json {
		mediaType = runtime.ContentTypeJSON
	}
	info, _ := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), mediaType)
	var body bytes.Buffer
	if err := scheme.Codecs.EncoderForVersion(info.Serializer, corev1.SchemeGroupVersion).Encode(obj, &body); err != nil {
		f.t.Error(err)
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(code)
	w.Write(body.Bytes())
}

func (f *fakePods) requested() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.tokens...)
}

func fakeClients(t *testing.T, handler http.Handler) Clients {
	t.Helper()
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	clients, err := NewClients(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatal(err)
	}
	return clients
}

// sevenPods are realistic pods, managedFields included, named in the order a snapshot sorts them.
func sevenPods() []corev1.Pod {
	pods := benchPodList(7).Items
	for i := range pods {
		pods[i].Name, pods[i].Namespace = fmt.Sprintf("p%d", i), "default"
	}
	return pods
}

// Pods are read in pages, as the typed client would read them but without managedFields, in
// protobuf or JSON: plainly; and with a server error once, then an expired continue token, when
// the page is asked for again, then the list starts over whole.
func TestPagesWithoutManagedFields(t *testing.T) {
	cases := []struct {
		name       string
		intercept  func(fake *fakePods) func(n int, token string, w http.ResponseWriter) bool
		wantTokens []string
	}{
		{"plain", nil, []string{"", "p3", "p6"}},
		{"500 then 410", func(fake *fakePods) func(int, string, http.ResponseWriter) bool {
			return func(n int, token string, w http.ResponseWriter) bool {
				switch {
				case n == 2 && token == "p3":
					fake.write(w, http.StatusInternalServerError, &apierrors.NewInternalError(errors.New("etcd hiccup")).ErrStatus)
				case n == 4 && token == "p6":
					fake.write(w, http.StatusGone, &apierrors.NewResourceExpired("continue token too old").ErrStatus)
				default:
					return false
				}
				return true
			}
		}, []string{"", "p3", "p3", "p6", ""}},
	}
	for _, json := range []bool{false, true} {
		for _, tc := range cases {
			name := fmt.Sprintf("%s, json %v", tc.name, json)
			fake := &fakePods{t: t, pods: sevenPods(), json: json}
			if tc.intercept != nil {
				fake.intercept = tc.intercept(fake)
			}
			var mu sync.Mutex
			received := 0
			snap, err := Collect(context.Background(), fakeClients(t, fake), []snapshot.Kind{snapshot.KindPods}, Options{
				Namespace: "default", ChunkSize: 3,
				Received: func(_ snapshot.Kind, n int) { mu.Lock(); received += n; mu.Unlock() },
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if reason, blind := snap.Unavailable[snapshot.KindPods]; blind {
				t.Fatalf("%s: pods unavailable: %s", name, reason)
			}
			if got := fake.requested(); !equality.Semantic.DeepEqual(got, tc.wantTokens) {
				t.Errorf("%s: continue tokens asked for %q, want %q", name, got, tc.wantTokens)
			}
			want := withoutManagedFields(&corev1.PodList{Items: sevenPods()}).Items
			if !equality.Semantic.DeepEqual(snap.Pods, want) {
				t.Errorf("%s: pods read differ from the server's without managedFields", name)
			}
			if tc.intercept == nil && cap(snap.Pods) != 7 {
				t.Errorf("%s: cap %d: the list was not sized from the remaining item count", name, cap(snap.Pods))
			}
			if received != 7 {
				t.Errorf("%s: told of %d pods received, want 7", name, received)
			}
		}
	}
}

// An answer cut short inside the protobuf, though whole for HTTP, fails as client-go fails it,
// and is asked for again.
func TestACutAnswerIsAskedForAgain(t *testing.T) {
	fake := &fakePods{t: t, pods: sevenPods()}
	fake.intercept = func(n int, _ string, w http.ResponseWriter) bool {
		if n > 2 {
			return false
		}
		body := protobufBody(t, &corev1.PodList{Items: fake.pods})
		w.Header().Set("Content-Type", runtime.ContentTypeProtobuf)
		w.Write(body[:len(body)-100])
		return true
	}
	clients := fakeClients(t, fake)
	_, err := listWithoutManagedFields[corev1.PodList](clients.Kube.CoreV1().RESTClient(), "default", "pods")(context.Background(), metav1.ListOptions{})
	if !transient(err) {
		t.Errorf("err %v, want one to ask again for", err)
	}
	snap, err := Collect(context.Background(), clients, []snapshot.Kind{snapshot.KindPods}, Options{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Pods) != 7 || len(fake.requested()) != 3 {
		t.Errorf("read %d pods in %d requests, want 7 in 3 (%v)", len(snap.Pods), len(fake.requested()), snap.Unavailable)
	}
}

// What client-go reads but the shortcut does not (a field number past protobuf's limit, which
// the generated decoders skip as unknown) is still read.
func TestAnswersTheShortcutCannotReadAreDecodedAsBefore(t *testing.T) {
	fake := &fakePods{t: t, pods: sevenPods()}
	fake.intercept = func(_ int, _ string, w http.ResponseWriter) bool {
		raw, err := (&corev1.PodList{Items: fake.pods}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, "\xa0\xa0\xa0\xa0\xa0\x30\x30"...) // found by FuzzAppendWithoutManagedFields
		body, err := (&runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: "v1", Kind: "PodList"}, Raw: raw}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		w.Header().Set("Content-Type", runtime.ContentTypeProtobuf)
		w.Write(append([]byte(protobufMagic), body...))
		return true
	}
	snap, err := Collect(context.Background(), fakeClients(t, fake), []snapshot.Kind{snapshot.KindPods}, Options{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if want := withoutManagedFields(&corev1.PodList{Items: sevenPods()}).Items; !equality.Semantic.DeepEqual(snap.Pods, want) {
		t.Errorf("read %d pods, not the server's without managedFields (%v)", len(snap.Pods), snap.Unavailable)
	}
}

// The server's refusals come back as its Status, so that the reason shown is its own.
func TestRefusalsAreTheServersStatus(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	forbidden := apierrors.NewForbidden(pods, "", errors.New(`User "stranger" cannot list resource "pods"`))
	cases := []struct {
		status     *apierrors.StatusError
		is         func(error) bool
		wantReason string
		// wantAbsent: not there to read, so checks needing it do not apply, rather than unseen.
		wantAbsent bool
	}{
		{forbidden, apierrors.IsForbidden, "forbidden: " + forbidden.ErrStatus.Message, false},
		{apierrors.NewNotFound(pods, ""), apierrors.IsNotFound, "not served by this API server", true},
		{apierrors.NewServiceUnavailable("try later"), apierrors.IsServiceUnavailable, "server error: try later", false},
	}
	for _, json := range []bool{false, true} {
		for _, tc := range cases {
			fake := &fakePods{t: t, json: json}
			fake.intercept = func(_ int, _ string, w http.ResponseWriter) bool {
				fake.write(w, int(tc.status.ErrStatus.Code), &tc.status.ErrStatus)
				return true
			}
			clients := fakeClients(t, fake)
			_, err := listWithoutManagedFields[corev1.PodList](clients.Kube.CoreV1().RESTClient(), "default", "pods")(context.Background(), metav1.ListOptions{})
			var status *apierrors.StatusError
			if !errors.As(err, &status) || !tc.is(err) || status.ErrStatus.Message != tc.status.ErrStatus.Message {
				t.Errorf("json %v, %d: err %#v, want the server's Status", json, tc.status.ErrStatus.Code, err)
			}
			snap, err := Collect(context.Background(), clients, []snapshot.Kind{snapshot.KindPods}, Options{Namespace: "default"})
			if err != nil {
				t.Fatal(err)
			}
			if got := snap.Unavailable[snapshot.KindPods]; got != tc.wantReason {
				t.Errorf("json %v, %d: reason %q, want %q", json, tc.status.ErrStatus.Code, got, tc.wantReason)
			}
			if snap.Absent[snapshot.KindPods] != tc.wantAbsent {
				t.Errorf("json %v, %d: absent %v, want %v", json, tc.status.ErrStatus.Code, snap.Absent[snapshot.KindPods], tc.wantAbsent)
			}
		}
	}
}

func TestListingStopsWhenCancelled(t *testing.T) {
	clients := fakeClients(t, &fakePods{t: t, pods: sevenPods()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := listWithoutManagedFields[corev1.PodList](clients.Kube.CoreV1().RESTClient(), "default", "pods")(ctx, metav1.ListOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

// Whatever the server sends, leaving out managedFields neither panics nor changes what the rest
// decodes to. (Run it outside this package's TestMain, which starts a control plane in every
// fuzzing worker.)
func FuzzAppendWithoutManagedFields(f *testing.F) {
	for _, list := range []*corev1.PodList{{}, benchPodList(2), {Items: []corev1.Pod{smallPod("a", true), smallPod("b", false)}}} {
		raw, err := list.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		stripped, err := appendWithoutManagedFields(nil, raw)
		if err != nil {
			return // left to client-go's decoder
		}
		var want, got corev1.PodList
		wantErr, gotErr := want.Unmarshal(raw), got.Unmarshal(stripped)
		switch {
		case wantErr == nil && gotErr != nil:
			t.Fatalf("the stripped list does not decode: %v", gotErr)
		case wantErr == nil && !equality.Semantic.DeepEqual(&got, withoutManagedFields(&want)):
			t.Fatal("the stripped list decodes to something else")
		}
	})
}

// The next page is asked for as soon as a page arrives, before it is decoded and before the
// caller asks; a caller that wants something else gets that, and the page read ahead is dropped.
func TestTheNextPageIsReadAhead(t *testing.T) {
	fake := &fakePods{t: t, pods: sevenPods()}
	lister := listWithoutManagedFields[corev1.PodList](fakeClients(t, fake).Kube.CoreV1().RESTClient(), "default", "pods")
	first, err := lister(t.Context(), metav1.ListOptions{Limit: 3})
	if err != nil || first.Continue != "p3" {
		t.Fatalf("first page: continue %q, %v", first.Continue, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(fake.requested()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := fake.requested(); !slices.Equal(got, []string{"", "p3"}) {
		t.Fatalf("asked for %q before the second page was wanted, want the first and the second", got)
	}
	second, err := lister(t.Context(), metav1.ListOptions{Limit: 3, Continue: "p3"})
	if err != nil || len(second.Items) != 3 || second.Items[0].Name != "p3" || second.Continue != "p6" {
		t.Fatalf("second page: %d items, continue %q, %v", len(second.Items), second.Continue, err)
	}
	// Started over instead of going on to p6: the whole list, asked for afresh. The page read
	// ahead, p6, is cancelled, before or after the server saw it.
	whole, err := lister(t.Context(), metav1.ListOptions{})
	if err != nil || len(whole.Items) != 7 {
		t.Fatalf("whole list: %d items, %v", len(whole.Items), err)
	}
	if got := fake.requested(); !slices.Equal(got, []string{"", "p3", "p6", ""}) && !slices.Equal(got, []string{"", "p3", ""}) {
		t.Errorf("asked for %q", got)
	}
	if !equality.Semantic.DeepEqual(whole.Items, withoutManagedFields(&corev1.PodList{Items: sevenPods()}).Items) {
		t.Errorf("the whole list differs from the server's without managedFields")
	}
}

func TestContinueTokenIsReadWithoutDecoding(t *testing.T) {
	page := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "9", Continue: "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", RemainingItemCount: new(int64(4))},
		Items: sevenPods()[:3]}
	if got := continueToken(protobufBody(t, page)); got != page.Continue {
		t.Errorf("token %q, want %q", got, page.Continue)
	}
	page.Continue = ""
	if got := continueToken(protobufBody(t, page)); got != "" {
		t.Errorf("last page: token %q", got)
	}
	if got := continueToken([]byte(`{"kind":"PodList","metadata":{"continue":"x"}}`)); got != "" {
		t.Errorf("JSON: token %q, want none (decoded as usual)", got)
	}
}

// A page read ahead that the caller does not want is cancelled, not waited for: a server slow
// to answer it does not hold the list up.
func TestAnUnwantedPageReadAheadIsCancelled(t *testing.T) {
	fake := &fakePods{t: t, pods: sevenPods(), hold: "p3", holdEnded: make(chan struct{})}
	lister := listWithoutManagedFields[corev1.PodList](fakeClients(t, fake).Kube.CoreV1().RESTClient(), "default", "pods")
	if _, err := lister(t.Context(), metav1.ListOptions{Limit: 3}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !slices.Contains(fake.requested(), "p3") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // until the server holds the page read ahead
	}
	started := time.Now()
	whole, err := lister(t.Context(), metav1.ListOptions{})
	if err != nil || len(whole.Items) != 7 {
		t.Fatalf("whole list: %d items, %v", len(whole.Items), err)
	}
	select {
	case <-fake.holdEnded:
	case <-time.After(20 * time.Second):
		t.Fatalf("the page read ahead was never given up (requests %q)", fake.requested())
	}
	if waited := time.Since(started); waited > 20*time.Second {
		t.Errorf("the list waited %s for a page it did not want", waited)
	}
}

// A request that got no answer is asked again, as client-go's Do does for a GET.
func TestAConnectionBrokenBeforeTheAnswerIsAskedAgain(t *testing.T) {
	fake := &fakePods{t: t, pods: sevenPods()}
	fake.intercept = func(n int, _ string, w http.ResponseWriter) bool {
		if n > 1 {
			return false
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return true
		}
		conn.Close()
		return true
	}
	lister := listWithoutManagedFields[corev1.PodList](fakeClients(t, fake).Kube.CoreV1().RESTClient(), "default", "pods")
	list, err := lister(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 7 || len(fake.requested()) != 2 {
		t.Errorf("%d pods in %d requests, %v; want 7 in 2", len(list.Items), len(fake.requested()), err)
	}
}

// A Status in a successful answer is the error it describes, as client-go reads it.
func TestAStatusInASuccessfulAnswerIsAnError(t *testing.T) {
	for _, json := range []bool{false, true} {
		fake := &fakePods{t: t, json: json}
		fake.intercept = func(_ int, _ string, w http.ResponseWriter) bool {
			fake.write(w, http.StatusOK, &apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "x", errors.New("odd")).ErrStatus)
			return true
		}
		lister := listWithoutManagedFields[corev1.PodList](fakeClients(t, fake).Kube.CoreV1().RESTClient(), "default", "pods")
		if _, err := lister(t.Context(), metav1.ListOptions{}); !apierrors.IsConflict(err) {
			t.Errorf("json %v: err %v, want the Status's conflict", json, err)
		}
	}
}
