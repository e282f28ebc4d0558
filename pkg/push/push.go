// Package push sends a run's metrics to a Prometheus Pushgateway, for runs (a CI job, a CronJob)
// that end before anything could scrape them.
package push

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/alertmend/kubectl-alertmend/pkg/redact"
)

// Job is the job label of every group alertmend pushes.
const Job = "kubectl-alertmend"

// requestTimeout bounds a push, so that a gateway which accepts the connection but never answers
// cannot hold the run up.
const requestTimeout = 30 * time.Second

// Push replaces the metrics of the group {job="kubectl-alertmend", grouping...} on the Pushgateway
// at gatewayURL (http or https, optionally with a path prefix) with families.
//
// It uses PUT, which replaces the whole group, where POST would replace only the families pushed
// again: a family this push lacks, such as alertmend_findings once nothing is found, disappears
// instead of keeping its old values, and alertmend_check_findings shows every check that ran,
// at 0 when it found nothing.
//
// Credentials in the URL (http://user:password@host:9091) are sent as basic auth, not as part of
// the URL, and errors name the gateway with the password redacted.
//
// A grouping label with an empty value is left out, as Prometheus does not tell an empty label
// from a missing one; job cannot be one. The gateway sets job and the grouping labels on every
// sample of the group, and the client library refuses samples that carry them already, so a
// sample label of the same name is removed before the push (the group's value wins); families
// itself is not modified. With the grouping {"cluster": ...} nothing is removed:
// alertmend_run_info keeps its context label.
func Push(ctx context.Context, gatewayURL string, grouping map[string]string, families []*dto.MetricFamily) error {
	target, user, err := parseGateway(gatewayURL)
	if err != nil {
		return err
	}
	if err := CheckGrouping(grouping); err != nil {
		return err
	}
	groupLabels := map[string]bool{"job": true}
	pusher := push.New(target, Job).Client(&http.Client{Timeout: requestTimeout})
	for _, name := range slices.Sorted(maps.Keys(grouping)) {
		if grouping[name] == "" {
			continue
		}
		pusher.Grouping(name, grouping[name])
		groupLabels[name] = true
	}
	if user != nil {
		password, _ := user.Password()
		pusher.BasicAuth(user.Username(), password)
	}
	pushed := withoutLabels(families, groupLabels)
	pusher.Gatherer(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return pushed, nil }))
	if err := pusher.PushContext(ctx); err != nil {
		// A transport error repeats the whole push URL; the gateway is named once, below.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		} else if errors.Unwrap(err) == nil {
			// The gateway's answer ends the message, usually with a newline.
			err = errors.New(strings.TrimSpace(err.Error()))
		}
		return fmt.Errorf("pushing metrics to the Pushgateway at %s: %w", redact.URL(gatewayURL), err)
	}
	return nil
}

// CheckGrouping tells whether grouping's labels can name a group: label names Prometheus
// accepts everywhere (letters, digits and underscores), and never job, which is always Job.
func CheckGrouping(grouping map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(grouping)) {
		switch {
		case name == "job":
			return fmt.Errorf("the Pushgateway grouping cannot set job, which is always %s", Job)
		case !model.LegacyValidation.IsValidLabelName(name):
			return fmt.Errorf("invalid Pushgateway grouping label %q: want letters, digits and underscores, not starting with a digit", name)
		}
	}
	return nil
}

// CheckURL tells whether gatewayURL is one Push can send to, so a run can refuse a bad one
// before it reads a cluster.
func CheckURL(gatewayURL string) error {
	_, _, err := parseGateway(gatewayURL)
	return err
}

// parseGateway checks the gateway's URL and splits off its credentials, so that they travel only
// in the Authorization header.
func parseGateway(gatewayURL string) (string, *url.Userinfo, error) {
	const want = "want an http or https URL such as http://pushgateway:9091"
	u, err := url.Parse(gatewayURL)
	if err != nil {
		// The parser's message can quote part of the URL, password included.
		return "", nil, fmt.Errorf("invalid Pushgateway URL: it does not parse; %s", want)
	}
	shown := u.Redacted()
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", nil, fmt.Errorf("invalid Pushgateway URL %q: %s", shown, want)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", nil, fmt.Errorf("invalid Pushgateway URL %q: it cannot have a query or fragment, as the push path goes after it", shown)
	}
	user := u.User
	u.User = nil
	return u.String(), user, nil
}

// withoutLabels is families with the samples' labels named in drop removed, cloned only if some
// sample has one.
func withoutLabels(families []*dto.MetricFamily, drop map[string]bool) []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(families))
	for _, mf := range families {
		clashes := slices.ContainsFunc(mf.GetMetric(), func(m *dto.Metric) bool {
			return slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return drop[l.GetName()] })
		})
		if !clashes {
			out = append(out, mf)
			continue
		}
		mf = proto.Clone(mf).(*dto.MetricFamily)
		for _, m := range mf.Metric {
			m.Label = slices.DeleteFunc(m.Label, func(l *dto.LabelPair) bool { return drop[l.GetName()] })
		}
		out = append(out, mf)
	}
	return out
}
