package snapshot

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var eventsRead = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// warning is a Warning event about a pod, last seen minutesAgo before eventsRead.
func warning(name, pod string, minutesAgo int) corev1.Event {
	return corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: pod},
		Type:           corev1.EventTypeWarning, Reason: "BackOff",
		LastTimestamp: metav1.NewTime(eventsRead.Add(-time.Duration(minutesAgo) * time.Minute))}
}

func names(events []corev1.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Name)
	}
	return out
}

// An event's time is the newest its reporter wrote, whichever field that is.
func TestLastSeenIsTheNewestTime(t *testing.T) {
	at := func(minutes int) time.Time { return eventsRead.Add(time.Duration(minutes) * time.Minute) }
	for _, tc := range []struct {
		name  string
		event corev1.Event
		want  time.Time
	}{
		{"series", corev1.Event{EventTime: metav1.NewMicroTime(at(-30)), Series: &corev1.EventSeries{LastObservedTime: metav1.NewMicroTime(at(-2))}}, at(-2)},
		{"lastTimestamp after firstTimestamp", corev1.Event{FirstTimestamp: metav1.NewTime(at(-30)), LastTimestamp: metav1.NewTime(at(-3))}, at(-3)},
		// A series whose last observation is older than the count's last time: the newest wins.
		{"lastTimestamp after series", corev1.Event{LastTimestamp: metav1.NewTime(at(-1)), Series: &corev1.EventSeries{LastObservedTime: metav1.NewMicroTime(at(-9))}}, at(-1)},
		{"eventTime only", corev1.Event{EventTime: metav1.NewMicroTime(at(-4))}, at(-4)},
		{"firstTimestamp only", corev1.Event{FirstTimestamp: metav1.NewTime(at(-5))}, at(-5)},
		{"none: when stored", corev1.Event{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(at(-6))}}, at(-6)},
	} {
		if got := LastSeen(&tc.event); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if n := EventCount(&corev1.Event{Count: 4, Series: &corev1.EventSeries{Count: 9}}); n != 9 {
		t.Errorf("a series' count: %d, want 9", n)
	}
	if n := EventCount(&corev1.Event{}); n != 1 {
		t.Errorf("no count: %d, want 1", n)
	}
}

// The bound keeps the newest few of each object and the newest in all, and says how many it
// left out.
func TestBoundEventsKeepsTheNewest(t *testing.T) {
	var events []corev1.Event
	for i := range 8 {
		events = append(events, warning(fmt.Sprintf("a-%d", i), "a", 10*i)) // a-0 newest
	}
	events = append(events, warning("b-0", "b", 5), warning("b-1", "b", 15), warning("c-0", "c", 1))
	kept, dropped := BoundEvents(slices.Clone(events), 3, 100)
	if want := []string{"a-0", "c-0", "b-0", "a-1", "b-1", "a-2"}; !slices.Equal(names(kept), want) || dropped != 5 {
		t.Errorf("3 per object: kept %v, dropped %d; want %v, 5", names(kept), dropped, want)
	}
	kept, dropped = BoundEvents(slices.Clone(events), 3, 4)
	if want := []string{"a-0", "c-0", "b-0", "a-1"}; !slices.Equal(names(kept), want) || dropped != 7 {
		t.Errorf("4 in all: kept %v, dropped %d; want %v, 7", names(kept), dropped, want)
	}
	// Ties in time are broken by name, so the same events are kept however they were read.
	tied := []corev1.Event{warning("z", "x", 1), warning("y", "y", 1), warning("x", "z", 1)}
	kept, _ = BoundEvents(slices.Clone(tied), 1, 2)
	reversed, _ := BoundEvents([]corev1.Event{tied[2], tied[1], tied[0]}, 1, 2)
	if !slices.Equal(names(kept), []string{"x", "y"}) || !slices.Equal(names(reversed), names(kept)) {
		t.Errorf("ties: %v and %v, want [x y] both", names(kept), names(reversed))
	}
}

// Bounding page by page, as the collector does, keeps what bounding everything at once keeps.
func TestBoundEventsInStepsKeepsTheSame(t *testing.T) {
	var events []corev1.Event
	for i := range 200 {
		// Objects with many events and objects with one, in an order unrelated to time.
		pod := fmt.Sprintf("p-%d", i%13)
		if i%3 == 0 {
			pod = fmt.Sprintf("single-%d", i)
		}
		events = append(events, warning(fmt.Sprintf("e-%03d", i), pod, (i*37)%191))
	}
	whole, wholeDropped := BoundEvents(slices.Clone(events), 4, 30)
	var stepped []corev1.Event
	steppedDropped := 0
	for page := range slices.Chunk(events, 17) {
		var d int
		stepped, d = BoundEvents(append(stepped, page...), 4, 30)
		steppedDropped += d
	}
	if !slices.Equal(names(whole), names(stepped)) || wholeDropped != steppedDropped {
		t.Errorf("at once: %v (%d left out)\nin steps: %v (%d left out)", names(whole), wholeDropped, names(stepped), steppedDropped)
	}
}

// WarningEvents are one object's Warning events, newest first; Normal ones are left out.
func TestWarningEventsOfOneObject(t *testing.T) {
	s := New(SourceCluster)
	normal := warning("n", "web", 0)
	normal.Type = corev1.EventTypeNormal
	node := corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "node", Namespace: "default"}, Type: corev1.EventTypeWarning,
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	s.Events = []corev1.Event{warning("old", "web", 30), normal, warning("other", "api", 1), warning("new", "web", 2), node}
	s.Finish()
	if got := names(s.WarningEvents("Pod", "shop", "web")); !slices.Equal(got, []string{"new", "old"}) {
		t.Errorf("pod shop/web: %v, want [new old]", got)
	}
	if got := names(s.WarningEvents("Node", "", "n1")); !slices.Equal(got, []string{"node"}) {
		t.Errorf("node n1: %v", got)
	}
	if got := s.WarningEvents("Deployment", "shop", "web"); len(got) != 0 {
		t.Errorf("another kind of the same name: %v", names(got))
	}
}

// A recording keeps the events, and that the run left some out, so a replay says so too.
func TestEventsSurviveReplay(t *testing.T) {
	s := New(SourceCluster)
	s.Events = []corev1.Event{warning("e", "web", 3)}
	s.EventsLeftOut = 42
	var buf bytes.Buffer
	if err := Record(s, []Kind{KindEvents}, nil, "test").Write(&buf); err != nil {
		t.Fatal(err)
	}
	replayed, _, err := ReadFile("s.gz", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(replayed.WarningEvents("Pod", "shop", "web")); !slices.Equal(got, []string{"e"}) || replayed.EventsLeftOut != 42 {
		t.Errorf("replayed events %v, left out %d", got, replayed.EventsLeftOut)
	}
	if note := replayed.EventsLeftOutNote(); note == "" {
		t.Error("no note of the events left out")
	}
	if note := New(SourceCluster).EventsLeftOutNote(); note != "" {
		t.Errorf("a note with nothing left out: %q", note)
	}
}
