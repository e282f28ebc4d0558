package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/models"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// target is one Alertmanager.
type target struct {
	// endpoint is its alerts API, without credentials; shown is its URL as messages name it.
	endpoint string
	shown    string
	user     *url.Userinfo
	token    string
	wake     chan struct{}

	// Under the Sender's mu:
	// resolved are the resolutions this Alertmanager has not taken yet, by label set.
	resolved map[string]resolvedAlert
	// down is true from a failed send to the next that succeeds; sent and failures count
	// alerts taken and sends that failed, for /metrics.
	down            bool
	sent, failures  float64
	refusedLastTime string
}

// CheckURL tells whether address is an Alertmanager URL a Sender can send to, so that a command
// can refuse a bad one before it reads a cluster.
func CheckURL(address string) error {
	_, err := newTarget(address, "")
	return err
}

// newTarget parses address, splitting its credentials off so that they travel only in the
// Authorization header.
func newTarget(address, token string) (*target, error) {
	const want = "want an http or https URL such as http://alertmanager:9093"
	u, err := url.Parse(address)
	if err != nil {
		// The parser's message can quote part of the URL, password included.
		return nil, fmt.Errorf("invalid Alertmanager URL: it does not parse; %s", want)
	}
	shown := u.Redacted()
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("invalid Alertmanager URL %q: %s", shown, want)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("invalid Alertmanager URL %q: it cannot have a query or fragment, as the API path goes after it", shown)
	}
	if u.User != nil && token != "" {
		return nil, fmt.Errorf("Alertmanager URL %q has credentials, and a bearer token is given too: use one or the other", shown)
	}
	user := u.User
	u.User = nil
	return &target{
		endpoint: u.JoinPath("api", "v2", "alerts").String(),
		shown:    shown,
		user:     user,
		token:    token,
		wake:     make(chan struct{}, 1),
		resolved: map[string]resolvedAlert{},
	}, nil
}

// wakeUp asks t's goroutine to send, without waiting for it.
func (t *target) wakeUp() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// run is t's sending loop. A change is sent at once; an Alertmanager that is down is retried
// after a back-off, doubling up to the resend interval, and changes in between wait for that
// retry, which sends everything anyway.
func (s *Sender) run(ctx context.Context, t *target) {
	var retry <-chan time.Time
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
			if backoff > 0 {
				continue
			}
		case <-retry:
		}
		alerts, resolved := s.payload(t, s.cfg.Now())
		if len(alerts) == 0 {
			retry = nil
			continue
		}
		err := t.post(ctx, s.cfg.Client, alerts)
		if ctx.Err() != nil {
			return
		}
		var refused *refusedError
		switch {
		case err == nil:
			s.delivered(t, resolved)
			s.succeeded(t, len(alerts))
			backoff, retry = 0, s.cfg.After(s.cfg.Resend)
		case errors.As(err, &refused):
			// The same alerts would be refused again: drop the resolutions, which would
			// otherwise be re-sent for ever, and try the firing alerts again at the next
			// resend, in case someone fixes the Alertmanager or its credentials.
			s.delivered(t, resolved)
			s.refused(t, refused)
			backoff, retry = 0, s.cfg.After(s.cfg.Resend)
		default:
			s.failed(t, err)
			backoff = min(max(2*backoff, defaultBackoff), s.cfg.Resend)
			retry = s.cfg.After(backoff)
		}
	}
}

// succeeded counts a send t took, saying so if t was down.
func (s *Sender) succeeded(t *target, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.sent += float64(n)
	if t.down || t.refusedLastTime != "" {
		fmt.Fprintf(s.cfg.Notes, "note: the Alertmanager at %s takes alerts again; sent what is firing and resolved\n", t.shown)
	}
	t.down, t.refusedLastTime = false, ""
}

// failed counts a send that did not reach t, saying so once an outage.
func (s *Sender) failed(t *target, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.failures++
	if !t.down {
		fmt.Fprintf(s.cfg.Notes, "warning: the Alertmanager at %s is unavailable (%v); retrying with back-off, alerts are kept until it is back\n", t.shown, err)
	}
	t.down = true
}

// refused counts a send t refused, saying so once for each message.
func (s *Sender) refused(t *target, err *refusedError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.failures++
	t.down = false
	if t.refusedLastTime != err.Error() {
		fmt.Fprintf(s.cfg.Notes, "warning: the Alertmanager at %s refused the alerts: %v\n", t.shown, err)
	}
	t.refusedLastTime = err.Error()
}

// refusedError is a 4xx answer: the request, not the Alertmanager, is at fault.
type refusedError struct {
	status  string
	message string
}

func (e *refusedError) Error() string {
	if e.message == "" {
		return e.status
	}
	return e.status + ": " + e.message
}

// post sends alerts to t's API. A 4xx answer is a refusedError carrying Alertmanager's message.
func (t *target) post(ctx context.Context, client *http.Client, alerts models.PostableAlerts) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if t.user != nil {
		password, _ := t.user.Password()
		req.SetBasicAuth(t.user.Username(), password)
	}
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		// The endpoint is named by the message around it; keep the cause.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			return urlErr.Err
		}
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		// A proxy's 408 and 429 say "later", not "never": they are retried as a 5xx is.
		return &refusedError{status: resp.Status, message: messageOf(answer)}
	}
	return fmt.Errorf("%s: %s", resp.Status, messageOf(answer))
}

// messageOf is the message of Alertmanager's error answer: its API writes a JSON string, or an
// object with a message; anything else (a proxy's page) is shown as it is. It goes on one line,
// without control characters, since it comes from the network and goes to a terminal.
func messageOf(answer []byte) string {
	text := string(answer)
	var message string
	var object struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(answer, &message) == nil {
		text = message
	} else if json.Unmarshal(answer, &object) == nil && object.Message != "" {
		text = object.Message
	}
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
	return strings.Join(strings.Fields(text), " ")
}

// postable is a as sent, ending at endsAt.
func postable(a *firingAlert, endsAt time.Time) *models.PostableAlert {
	return &models.PostableAlert{
		Alert:       models.Alert{Labels: a.labels},
		Annotations: a.annotations,
		StartsAt:    strfmt.DateTime(a.startsAt.UTC()),
		EndsAt:      strfmt.DateTime(endsAt.UTC()),
	}
}

// MetricFamilies is the senders' health for /metrics: whether each Alertmanager took the last
// send (1 also before the first), the alerts it took and the sends that failed, labelled with
// its URL, password redacted.
func (s *Sender) MetricFamilies() []*dto.MetricFamily {
	s.mu.Lock()
	defer s.mu.Unlock()
	up := metricFamily("alertmend_alertmanager_up", "1 when the Alertmanager took the last alerts sent to it (or none were sent yet), 0 while it is unreachable or answers 5xx.", dto.MetricType_GAUGE)
	sent := metricFamily("alertmend_alertmanager_alerts_sent_total", "Alerts the Alertmanager took, firing and resolved, re-sends included.", dto.MetricType_COUNTER)
	failures := metricFamily("alertmend_alertmanager_send_failures_total", "Sends to the Alertmanager that failed: unreachable, 5xx, or refused (4xx).", dto.MetricType_COUNTER)
	for _, t := range s.targets {
		label := []*dto.LabelPair{{Name: proto.String("alertmanager"), Value: proto.String(t.shown)}}
		isUp := 1.0
		if t.down {
			isUp = 0
		}
		up.Metric = append(up.Metric, &dto.Metric{Label: label, Gauge: &dto.Gauge{Value: proto.Float64(isUp)}})
		sent.Metric = append(sent.Metric, &dto.Metric{Label: label, Counter: &dto.Counter{Value: proto.Float64(t.sent)}})
		failures.Metric = append(failures.Metric, &dto.Metric{Label: label, Counter: &dto.Counter{Value: proto.Float64(t.failures)}})
	}
	return []*dto.MetricFamily{up, sent, failures}
}

func metricFamily(name, help string, kind dto.MetricType) *dto.MetricFamily {
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: kind.Enum()}
}
