package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/api/v2/models"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
	"github.com/alertmend/kubectl-alertmend/pkg/watch"
)

var t0 = time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)

// clock is a fake clock: each After is handed to the test on waits, which fires it when it likes.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan wait
}

type wait struct {
	d    time.Duration
	fire chan time.Time
}

func newClock() *clock { return &clock{now: t0, waits: make(chan wait, 100)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	w := wait{d: d, fire: make(chan time.Time, 1)}
	c.waits <- w
	return w.fire
}

// next is the sender's next wait, which must last d.
func (c *clock) next(t *testing.T, d time.Duration) wait {
	t.Helper()
	w := <-c.waits
	if w.d != d {
		t.Fatalf("the sender waits %s, want %s", w.d, d)
	}
	return w
}

// received is one request an Alertmanager of the test's took.
type received struct {
	auth   string
	alerts models.PostableAlerts
}

// fakeAlertmanager answers POST /api/v2/alerts with the statuses of answers in turn, then 200,
// and hands every request to the test.
type fakeAlertmanager struct {
	*httptest.Server
	requests chan received
	mu       sync.Mutex
	answers  []answer
}

type answer struct {
	status int
	body   string
}

func newFakeAlertmanager(t *testing.T, answers ...answer) *fakeAlertmanager {
	f := &fakeAlertmanager{requests: make(chan received, 100), answers: answers}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/prefix/api/v2/alerts" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s (%s), want POST /prefix/api/v2/alerts as JSON", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		var alerts models.PostableAlerts
		if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil {
			t.Errorf("decoding the alerts: %v", err)
		}
		if err := alerts.Validate(nil); err != nil {
			t.Errorf("Alertmanager's own validation refuses the alerts: %v", err)
		}
		f.mu.Lock()
		a := answer{status: http.StatusOK}
		if len(f.answers) > 0 {
			a, f.answers = f.answers[0], f.answers[1:]
		}
		f.mu.Unlock()
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
		f.requests <- received{auth: r.Header.Get("Authorization"), alerts: alerts}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAlertmanager) next(t *testing.T) received {
	t.Helper()
	return <-f.requests
}

// start runs a Sender of cfg (its URL the fake's unless given) until the test ends.
func start(t *testing.T, cfg Config, c *clock) *Sender {
	t.Helper()
	cfg.Now, cfg.After = c.Now, c.After
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func ref(kind, namespace, name string) snapshot.Ref {
	return snapshot.Ref{APIVersion: "v1", Kind: kind, Namespace: namespace, Name: name}
}

func finding(id, checkID string, severity check.Severity, objects ...snapshot.Ref) check.Finding {
	return check.Finding{ID: id, Check: checkID, Category: "workloads", Severity: severity, Title: "Pods crash",
		Message: "2 of 3 pods restart", Objects: objects, Fix: []string{}}
}

func evaluation(at time.Time, findings []check.Finding, notEvaluated ...string) watch.Evaluation {
	r := &report.Report{Metadata: report.Metadata{Context: "prod"}, Findings: findings}
	for _, c := range notEvaluated {
		r.NotEvaluated = append(r.NotEvaluated, report.NotEvaluated{Check: c, Reason: "forbidden", Code: report.CouldNotSee})
	}
	return watch.Evaluation{At: at, Report: r}
}

// byName is the alerts by their finding label.
func byName(t *testing.T, alerts models.PostableAlerts) map[string]*models.PostableAlert {
	t.Helper()
	out := map[string]*models.PostableAlert{}
	for _, a := range alerts {
		out[a.Labels[LabelFinding]] = a
	}
	if len(out) != len(alerts) {
		t.Fatalf("two alerts of one finding in %v", alerts)
	}
	return out
}

func ends(a *models.PostableAlert) time.Time { return time.Time(a.EndsAt) }

func TestAlertsCarryTheFindingsLabelsAndAnnotations(t *testing.T) {
	am := newFakeAlertmanager(t)
	s := start(t, Config{URLs: []string{am.URL + "/prefix"}, FailOn: check.High}, newClock())
	since := t0.Add(-time.Hour)
	crash := finding("crash-a", "pod-crashloop", check.Critical, ref("Deployment", "shop", "cart"), ref("Pod", "shop", "cart-1"))
	crash.Since = &since
	crash.Evidence = []string{"cart-1: exit 137", "cart-2: exit 137"}
	crash.Fix = []string{"kubectl -n shop logs cart-1 --previous", "kubectl -n shop rollout undo deployment/cart"}
	other := finding("crash-b", "pod-crashloop", check.High, ref("Deployment", "shop", "cart"))
	node := finding("node-x", "node-not-ready", check.High, ref("Node", "", "worker-1"))
	node.Category = "nodes"
	low := finding("low", "pod-crashloop", check.Medium, ref("Deployment", "shop", "web"))
	baselined := finding("old", "pod-crashloop", check.Critical, ref("Deployment", "shop", "old"))
	baselined.Baselined = true
	ev := evaluation(t0, []check.Finding{crash, other, node, low, baselined})
	ev.Options = render.Options{Catalog: []check.Meta{{ID: "pod-crashloop", References: []string{"https://docs.example/pod-crashloop"}},
		{ID: "node-not-ready", References: []string{"not a URL"}}}}
	s.Observe(ev)

	got := byName(t, am.next(t).alerts)
	if len(got) != 3 {
		t.Fatalf("sent %d alerts, want the 3 at or above high that are not baselined: %v", len(got), got)
	}
	a := got["crash-a"]
	wantLabels := models.LabelSet{"alertname": "pod-crashloop", "severity": "critical", "category": "workloads", "cluster": "prod",
		"namespace": "shop", "object": "deployment/cart", "finding": "crash-a"}
	if !maps.Equal(a.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", a.Labels, wantLabels)
	}
	wantAnnotations := models.LabelSet{"summary": "Pods crash: 2 of 3 pods restart", "evidence": "cart-1: exit 137\ncart-2: exit 137",
		"fix": "kubectl -n shop logs cart-1 --previous\nkubectl -n shop rollout undo deployment/cart", "runbook": "https://docs.example/pod-crashloop",
		"objects": "shop/deployment/cart\nshop/pod/cart-1"}
	if !maps.Equal(a.Annotations, wantAnnotations) {
		t.Errorf("annotations %v, want %v", a.Annotations, wantAnnotations)
	}
	if !time.Time(a.StartsAt).Equal(since) || !ends(a).Equal(t0.Add(3*DefaultResend)) {
		t.Errorf("startsAt %v endsAt %v, want the finding's since %v and 3 resends ahead", a.StartsAt, a.EndsAt, since)
	}
	if b := got["crash-b"]; b.Labels["object"] != "deployment/cart" || !time.Time(b.StartsAt).Equal(t0) {
		t.Errorf("the second finding on the same object: labels %v startsAt %v, want its own alert starting when first seen", b.Labels, b.StartsAt)
	}
	n := got["node-x"]
	if _, ok := n.Labels["namespace"]; ok || n.Labels["object"] != "node/worker-1" {
		t.Errorf("a cluster-scoped object's labels %v, want no namespace and object node/worker-1", n.Labels)
	}
	if _, ok := n.Annotations["runbook"]; ok {
		t.Errorf("a check whose first reference is no web page has runbook %q", n.Annotations["runbook"])
	}
}

func TestFiringAlertsAreResentAndResolvedWhenGone(t *testing.T) {
	am := newFakeAlertmanager(t)
	c := newClock()
	s := start(t, Config{URLs: []string{am.URL + "/prefix"}, Cluster: "east", Resend: 30 * time.Second}, c)
	a := finding("a", "pod-crashloop", check.High, ref("Deployment", "shop", "cart"))
	b := finding("b", "pod-pending", check.High, ref("Deployment", "shop", "web"))
	s.Observe(evaluation(t0, []check.Finding{a, b}))
	first := byName(t, am.next(t).alerts)
	if first["a"].Labels["cluster"] != "east" {
		t.Errorf("cluster label %q, want the configured east over the context", first["a"].Labels["cluster"])
	}

	resend := c.next(t, 30*time.Second)
	c.set(t0.Add(30 * time.Second))
	resend.fire <- c.Now()
	again := byName(t, am.next(t).alerts)
	if len(again) != 2 || !ends(again["a"]).Equal(t0.Add(120*time.Second)) || !time.Time(again["a"].StartsAt).Equal(t0) {
		t.Fatalf("the resend %v, want both alerts, still started at %v, held 3 intervals from now", again, t0)
	}

	// b's check still runs and no longer finds it: resolved, ended when the evaluation read the state.
	gone := t0.Add(40 * time.Second)
	c.set(t0.Add(41 * time.Second))
	s.Observe(evaluation(gone, []check.Finding{a}))
	c.next(t, 30*time.Second)
	resolved := byName(t, am.next(t).alerts)
	if len(resolved) != 2 || !ends(resolved["b"]).Equal(gone) || !ends(resolved["a"]).After(c.Now()) {
		t.Fatalf("after b is gone: %v, want a firing and b ended at %v", resolved, gone)
	}

	// The resolution was taken: the next send has a alone.
	c.set(t0.Add(50 * time.Second))
	s.Observe(evaluation(t0.Add(50*time.Second), []check.Finding{a, finding("c", "pod-oom", check.High, ref("Pod", "shop", "x"))}))
	next := byName(t, am.next(t).alerts)
	if _, ok := next["b"]; ok || len(next) != 2 {
		t.Errorf("the send after the resolution was taken: %v, want a and c only", next)
	}
}

func TestAFindingOfACheckNotEvaluatedKeepsFiring(t *testing.T) {
	am := newFakeAlertmanager(t)
	c := newClock()
	s := start(t, Config{URLs: []string{am.URL + "/prefix"}}, c)
	a := finding("a", "pod-crashloop", check.High, ref("Deployment", "shop", "cart"))
	s.Observe(evaluation(t0, []check.Finding{a}))
	am.next(t)
	resend := c.next(t, DefaultResend)

	// The check could not see (forbidden): nothing is known, nothing changes.
	s.Observe(evaluation(t0.Add(time.Second), nil, "pod-crashloop"))
	c.set(t0.Add(DefaultResend))
	resend.fire <- c.Now()
	kept := byName(t, am.next(t).alerts)
	if len(kept) != 1 || !ends(kept["a"]).Equal(t0.Add(4*DefaultResend)) {
		t.Fatalf("while its check is not evaluated: %v, want a still firing, held from the resend", kept)
	}

	// Evaluated again without it: now it resolves.
	s.Observe(evaluation(t0.Add(70*time.Second), nil))
	c.next(t, DefaultResend)
	resolved := byName(t, am.next(t).alerts)
	if !ends(resolved["a"]).Equal(t0.Add(70 * time.Second)) {
		t.Errorf("once evaluated without it: %v, want a ended", resolved)
	}
}

func TestANewSeverityResolvesTheOldAlert(t *testing.T) {
	am := newFakeAlertmanager(t)
	c := newClock()
	s := start(t, Config{URLs: []string{am.URL + "/prefix"}}, c)
	s.Observe(evaluation(t0, []check.Finding{finding("a", "pod-crashloop", check.High, ref("Deployment", "shop", "cart"))}))
	am.next(t)
	s.Observe(evaluation(t0.Add(time.Second), []check.Finding{finding("a", "pod-crashloop", check.Critical, ref("Deployment", "shop", "cart"))}))
	got := am.next(t).alerts
	if len(got) != 2 {
		t.Fatalf("after the severity changed: %v, want the old alert resolved and the new one firing", got)
	}
	for _, a := range got {
		switch a.Labels["severity"] {
		case "high":
			if !ends(a).Equal(t0.Add(time.Second)) {
				t.Errorf("the high alert ends %v, want resolved", a.EndsAt)
			}
		case "critical":
			if !ends(a).After(t0.Add(time.Minute)) || !time.Time(a.StartsAt).Equal(t0) {
				t.Errorf("the critical alert %v, want firing since the finding was first seen", a)
			}
		}
	}
}

func TestAnAlertmanagerDownIsRetriedWithBackoffAndGetsEverythingWhenBack(t *testing.T) {
	am := newFakeAlertmanager(t, answer{http.StatusServiceUnavailable, "starting"}, answer{http.StatusBadGateway, ""})
	c := newClock()
	var notes bytes.Buffer
	var notesMu sync.Mutex
	s := start(t, Config{URLs: []string{strings.Replace(am.URL, "http://", "http://ops:s3cret@", 1) + "/prefix"},
		Notes: lockedWriter{&notesMu, &notes}}, c)
	a := finding("a", "pod-crashloop", check.High, ref("Deployment", "shop", "cart"))
	s.Observe(evaluation(t0, []check.Finding{a}))
	if r := am.next(t); r.auth != "Basic b3BzOnMzY3JldA==" {
		t.Errorf("Authorization %q, want the URL's credentials as basic auth", r.auth)
	}
	retry := c.next(t, time.Second)
	if up := metric(s, "alertmend_alertmanager_up"); up != 0 {
		t.Errorf("alertmanager_up %v while it answers 503, want 0", up)
	}

	// a resolves and b appears while it is down: both wait for the retry.
	b := finding("b", "pod-pending", check.High, ref("Deployment", "shop", "web"))
	s.Observe(evaluation(t0.Add(time.Second), []check.Finding{b}))
	retry.fire <- c.Now()
	am.next(t)
	retry = c.next(t, 2*time.Second)
	retry.fire <- c.Now()
	back := byName(t, am.next(t).alerts)
	if len(back) != 2 || !ends(back["a"]).Equal(t0.Add(time.Second)) || !ends(back["b"]).After(c.Now()) {
		t.Fatalf("when it is back: %v, want a's resolution and b firing", back)
	}
	c.next(t, DefaultResend)

	notesMu.Lock()
	text := notes.String()
	notesMu.Unlock()
	if strings.Count(text, "unavailable") != 1 || strings.Count(text, "takes alerts again") != 1 {
		t.Errorf("notes %q, want the outage said once and its end once", text)
	}
	if strings.Contains(text, "s3cret") || !strings.Contains(text, "ops:xxxxx@") {
		t.Errorf("notes %q show the password, or no redacted URL", text)
	}
	if !strings.Contains(text, "503 Service Unavailable: starting") {
		t.Errorf("notes %q, want the first failure's status and message", text)
	}
	if up, failures, sent := metric(s, "alertmend_alertmanager_up"), metric(s, "alertmend_alertmanager_send_failures_total"),
		metric(s, "alertmend_alertmanager_alerts_sent_total"); up != 1 || failures != 2 || sent != 2 {
		t.Errorf("up %v, failures %v, sent %v; want 1, 2, 2", up, failures, sent)
	}
	for _, mf := range s.MetricFamilies() {
		if l := mf.GetMetric()[0].GetLabel()[0]; l.GetName() != "alertmanager" || strings.Contains(l.GetValue(), "s3cret") {
			t.Errorf("%s labelled %s=%s, want the redacted URL", mf.GetName(), l.GetName(), l.GetValue())
		}
	}
}

func TestARefusalIsSaidWithAlertmanagersMessageAndNotRetriedAtOnce(t *testing.T) {
	am := newFakeAlertmanager(t, answer{http.StatusBadRequest, `"at least one label pair required"`},
		answer{http.StatusBadRequest, `"at least one label pair required"`})
	c := newClock()
	var notes bytes.Buffer
	var notesMu sync.Mutex
	s := start(t, Config{URLs: []string{am.URL + "/prefix"}, BearerToken: "tok3n", Notes: lockedWriter{&notesMu, &notes}}, c)
	s.Observe(evaluation(t0, []check.Finding{finding("a", "pod-crashloop", check.High, ref("Deployment", "shop", "cart"))}))
	if r := am.next(t); r.auth != "Bearer tok3n" {
		t.Errorf("Authorization %q, want the bearer token", r.auth)
	}
	// Not a back-off: the same alerts would be refused again.
	resend := c.next(t, DefaultResend)
	resend.fire <- c.Now()
	am.next(t)
	c.next(t, DefaultResend)
	notesMu.Lock()
	text := notes.String()
	notesMu.Unlock()
	if want := "refused the alerts: 400 Bad Request: at least one label pair required"; strings.Count(text, want) != 1 {
		t.Errorf("notes %q, want %q once", text, want)
	}
	if up := metric(s, "alertmend_alertmanager_up"); up != 1 {
		t.Errorf("alertmanager_up %v after a refusal, want 1: it answers", up)
	}
}

func TestNewRefusesBadURLs(t *testing.T) {
	for _, tc := range []struct {
		urls  []string
		token string
		want  string
	}{
		{urls: []string{"alertmanager:9093"}, want: `invalid Alertmanager URL "alertmanager:9093": want an http or https URL`},
		{urls: []string{"ftp://am"}, want: `invalid Alertmanager URL "ftp://am"`},
		{urls: []string{"http://"}, want: `invalid Alertmanager URL "http:"`},
		{urls: []string{"http://u:pw@am:9093?x=1"}, want: `invalid Alertmanager URL "http://u:xxxxx@am:9093?x=1": it cannot have a query`},
		{urls: []string{"http://u:pw@am:9093"}, token: "t", want: `Alertmanager URL "http://u:xxxxx@am:9093" has credentials, and a bearer token`},
		{urls: nil, want: "no Alertmanager URL"},
	} {
		_, err := New(Config{URLs: tc.urls, BearerToken: tc.token})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v): %v, want %q", tc.urls, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("New(%v): %v shows the password", tc.urls, err)
		}
	}
}

func metric(s *Sender, name string) float64 {
	for _, mf := range s.MetricFamilies() {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return -1
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestMessagesOfAnswersGoOnOneLineWithoutControlCharacters(t *testing.T) {
	for answer, want := range map[string]string{
		`"at least one label pair required"`:           "at least one label pair required",
		`{"code":400,"message":"bad\u001b[31m label"}`: "bad [31m label",
		"<html>\n<b>502</b> Bad Gateway\r\n</html>":    "<html> <b>502</b> Bad Gateway </html>",
		"": "",
	} {
		if got := messageOf([]byte(answer)); got != want {
			t.Errorf("messageOf(%q) = %q, want %q", answer, got, want)
		}
	}
}

// A check the watch holds (it ran without a kind it read before) resolves nothing: its
// finding may only have changed its name for the while.
func TestAFindingOfAHeldCheckKeepsFiring(t *testing.T) {
	am := newFakeAlertmanager(t)
	c := newClock()
	s := start(t, Config{URLs: []string{am.URL + "/prefix"}}, c)
	a := finding("a", "pod-crashloop", check.High, ref("Deployment", "shop", "cart"))
	s.Observe(evaluation(t0, []check.Finding{a}))
	am.next(t)
	resend := c.next(t, DefaultResend)

	held := evaluation(t0.Add(time.Second), nil)
	held.Held = map[string]bool{"pod-crashloop": true}
	s.Observe(held)
	c.set(t0.Add(DefaultResend))
	resend.fire <- c.Now()
	kept := byName(t, am.next(t).alerts)
	if len(kept) != 1 || !ends(kept["a"]).After(t0.Add(DefaultResend)) {
		t.Fatalf("while its check is held: %v, want a still firing", kept)
	}
}
