// Package alert sends a watch's findings to Alertmanager as alerts: each finding at or above the
// gate's severity fires while it holds, is re-sent before Alertmanager's resolve timeout, and is
// sent once more, resolved, when an evaluation of its check no longer finds it.
package alert

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/api/v2/models"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/render"
	"github.com/alertmend/kubectl-alertmend/pkg/watch"
)

// DefaultResend is how often firing alerts are sent again: well within Alertmanager's default
// resolve_timeout of 5 minutes, and each send holds an alert for resendsHeld intervals.
const DefaultResend = time.Minute

// resendsHeld is how many resend intervals a firing alert's endsAt lies ahead: an alert whose
// sender stops (the watch ends, the pod is evicted) resolves by itself after that long, and a
// resend or two may be lost without the alert flapping.
const resendsHeld = 3

// defaultBackoff is the first retry's delay after a failed send; it doubles up to Resend.
const defaultBackoff = time.Second

// requestTimeout bounds one send, so that an Alertmanager that accepts the connection but never
// answers counts as down rather than holding its alerts up.
const requestTimeout = 30 * time.Second

// Label names of the alerts, besides alertname (the check ID).
const (
	LabelSeverity  = "severity"
	LabelCategory  = "category"
	LabelCluster   = "cluster"
	LabelNamespace = "namespace"
	// LabelObject is the finding's first object, kind/name (its namespace is LabelNamespace):
	// the object the finding is about, e.g. the Deployment whose pods crash. The rest of its
	// objects are in the objects annotation.
	LabelObject = "object"
	// LabelFinding is the finding's ID (the check and a hash of all its objects), so that two
	// findings of one check are two alerts even when their first objects are the same.
	LabelFinding = "finding"
)

// Config is what a Sender sends, where, and how.
type Config struct {
	// URLs are the Alertmanagers, each http(s)://[user:password@]host[:port][/prefix]; every
	// alert goes to each of them, as Prometheus does. Credentials in a URL are sent as basic
	// auth and never shown.
	URLs []string
	// BearerToken, when set, is sent as Authorization: Bearer to every URL; it cannot be
	// combined with credentials in a URL.
	BearerToken string
	// FailOn is the lowest severity sent (the gate's); "" sends every finding. Baselined
	// findings, which do not fail the gate, are not sent.
	FailOn check.Severity
	// Cluster is the cluster label; "" uses the report's context.
	Cluster string
	// Resend is how often firing alerts are sent again; 0 is DefaultResend.
	Resend time.Duration
	// Notes receives one line when an Alertmanager becomes unreachable or refuses alerts, and
	// one when it is back; nil discards them.
	Notes io.Writer
	// Client sends the requests; nil is a client with a timeout.
	Client *http.Client
	// Now and After are the clock, for tests; nil is time.Now and time.After.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Sender is a watch.Observer that sends the findings of every evaluation to Alertmanager. Observe
// only records what should fire; Run sends it, one goroutine per Alertmanager, so that one that
// is slow or down holds up neither the watch nor the others.
type Sender struct {
	cfg     Config
	targets []*target

	mu sync.Mutex
	// firing are the alerts that hold, by finding ID.
	firing map[string]*firingAlert
}

// firingAlert is a finding's alert as last evaluated.
type firingAlert struct {
	check       string
	labels      models.LabelSet
	annotations models.LabelSet
	startsAt    time.Time
}

var _ watch.Observer = (*Sender)(nil)

// New checks cfg's URLs and returns a Sender for them; nothing is sent until Run.
func New(cfg Config) (*Sender, error) {
	if len(cfg.URLs) == 0 {
		return nil, fmt.Errorf("no Alertmanager URL")
	}
	cfg.Resend = cmp.Or(cfg.Resend, DefaultResend)
	if cfg.Resend < 0 {
		return nil, fmt.Errorf("the resend interval must be positive, not %s", cfg.Resend)
	}
	if cfg.Notes == nil {
		cfg.Notes = io.Discard
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: requestTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	s := &Sender{cfg: cfg, firing: map[string]*firingAlert{}}
	for _, raw := range cfg.URLs {
		t, err := newTarget(raw, cfg.BearerToken)
		if err != nil {
			return nil, err
		}
		s.targets = append(s.targets, t)
	}
	return s, nil
}

// Observe records what the evaluation says should fire, resolves what it no longer finds, and
// wakes the senders when that changed anything. A finding absent because its check was not
// evaluated (forbidden, timed out) keeps firing as last seen: nobody knows it is gone.
func (s *Sender) Observe(ev watch.Evaluation) {
	r := ev.Report
	if r == nil {
		return
	}
	runbooks := map[string]string{}
	for _, m := range ev.Options.Catalog {
		if uri := render.HelpURI(m); uri != "" {
			runbooks[m.ID] = uri
		}
	}
	notEvaluated := map[string]bool{}
	for _, ne := range r.NotEvaluated {
		notEvaluated[ne.Check] = true
	}
	cluster := cmp.Or(s.cfg.Cluster, r.Metadata.Context)
	at := cmp.Or(ev.At, s.cfg.Now())

	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if f.Baselined || (s.cfg.FailOn != "" && !f.Severity.AtLeast(s.cfg.FailOn)) {
			continue
		}
		id := cmp.Or(f.ID, check.FindingID(f))
		seen[id] = true
		next := alertOf(f, id, cluster, runbooks[f.Check])
		prev := s.firing[id]
		switch {
		case prev == nil:
			next.startsAt = at
		case !maps.Equal(prev.labels, next.labels):
			// A new severity is a new label set, so a new alert: the old one resolves.
			s.resolve(prev, at)
			next.startsAt = prev.startsAt
		default:
			next.startsAt = prev.startsAt
		}
		if f.Since != nil {
			next.startsAt = *f.Since
		}
		if prev == nil || !prev.same(next) {
			changed = true
			// An alert that fires again before its resolution reached a target is not resolved there.
			for _, t := range s.targets {
				delete(t.resolved, key(next.labels))
			}
		}
		s.firing[id] = next
	}
	for _, id := range slices.Sorted(maps.Keys(s.firing)) {
		a := s.firing[id]
		if seen[id] || notEvaluated[a.check] || ev.Held[a.check] {
			continue
		}
		s.resolve(a, at)
		delete(s.firing, id)
		changed = true
	}
	if changed {
		for _, t := range s.targets {
			t.wakeUp()
		}
	}
}

// resolve queues a's resolution, ended at, for every target; s.mu is held.
func (s *Sender) resolve(a *firingAlert, at time.Time) {
	for _, t := range s.targets {
		t.resolved[key(a.labels)] = resolvedAlert{firingAlert: a, endsAt: at}
	}
}

// same tells whether a and b would be sent alike.
func (a *firingAlert) same(b *firingAlert) bool {
	return maps.Equal(a.labels, b.labels) && maps.Equal(a.annotations, b.annotations) && a.startsAt.Equal(b.startsAt)
}

// alertOf is f's alert, without its start.
func alertOf(f check.Finding, id, cluster, runbook string) *firingAlert {
	labels := models.LabelSet{
		"alertname":    f.Check,
		LabelSeverity:  string(f.Severity),
		LabelCategory:  string(f.Category),
		LabelCluster:   cluster,
		LabelFinding:   id,
		LabelNamespace: "",
		LabelObject:    "",
	}
	var objects []string
	for i, o := range f.Objects {
		if i == 0 {
			labels[LabelNamespace] = o.Namespace
			labels[LabelObject] = strings.ToLower(o.Kind) + "/" + o.Name
		}
		objects = append(objects, o.String())
	}
	summary := f.Title
	if f.Message != "" {
		summary += ": " + f.Message
	}
	annotations := models.LabelSet{
		"summary":  summary,
		"evidence": strings.Join(f.Evidence, "\n"),
		"fix":      strings.Join(f.Fix, "\n"),
		"runbook":  runbook,
	}
	if len(objects) > 1 {
		annotations["objects"] = strings.Join(objects, "\n")
	}
	// Alertmanager does not tell an empty label from a missing one, and drops empty ones.
	maps.DeleteFunc(labels, func(_, v string) bool { return v == "" })
	maps.DeleteFunc(annotations, func(_, v string) bool { return v == "" })
	return &firingAlert{check: f.Check, labels: labels, annotations: annotations}
}

// key identifies an alert in Alertmanager: its label set.
func key(labels models.LabelSet) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(&b, "%s=%q,", name, labels[name])
	}
	return b.String()
}

// Run sends until ctx ends: every change at once, everything firing every resend interval, and
// after a failure everything again, with back-off, until the Alertmanager takes it. Alerts are
// not resolved when Run ends: they expire by themselves, resendsHeld intervals later.
func (s *Sender) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range s.targets {
		wg.Go(func() { s.run(ctx, t) })
	}
	wg.Wait()
}

// payload is what t should be sent now: every firing alert, held resendsHeld intervals from now,
// and the resolutions it has not taken yet, ordered by labels so that sends are reproducible.
func (s *Sender) payload(t *target, now time.Time) (models.PostableAlerts, map[string]resolvedAlert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	endsAt := now.Add(resendsHeld * s.cfg.Resend)
	var alerts models.PostableAlerts
	for _, a := range s.firing {
		alerts = append(alerts, postable(a, endsAt))
	}
	resolved := maps.Clone(t.resolved)
	for _, r := range resolved {
		alerts = append(alerts, postable(r.firingAlert, r.endsAt))
	}
	slices.SortFunc(alerts, func(a, b *models.PostableAlert) int { return strings.Compare(key(a.Labels), key(b.Labels)) })
	return alerts, resolved
}

// delivered forgets the resolutions t has taken, unless they changed since.
func (s *Sender) delivered(t *target, sent map[string]resolvedAlert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, r := range sent {
		if now, ok := t.resolved[k]; ok && now.endsAt.Equal(r.endsAt) {
			delete(t.resolved, k)
		}
	}
}

// resolvedAlert is an alert that ended and whose resolution a target has not taken yet.
type resolvedAlert struct {
	*firingAlert
	endsAt time.Time
}
