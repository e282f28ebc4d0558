package cmd

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/alertmend/kubectl-alertmend/pkg/alert"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
)

// alertmanagerTokenEnv holds the bearer token sent to Alertmanager when no token file is named,
// so that a Deployment can set it from a Secret without writing it to a file.
const alertmanagerTokenEnv = "ALERTMANAGER_BEARER_TOKEN"

// alertmanagerFlags are the --alertmanager-* flags: where a watch sends its findings as alerts.
type alertmanagerFlags struct {
	URLs            []string
	BearerTokenFile string
	Resend          time.Duration
}

func (a *alertmanagerFlags) add(f *pflag.FlagSet) {
	// An array, not a slice: a URL may hold a comma, so each flag is one URL.
	f.StringArrayVar(&a.URLs, "alertmanager-url", nil, "With --watch: send each finding at or above --fail-on as an alert to the Alertmanager at `URL` "+
		"(its v2 API), e.g. http://alertmanager:9093; repeat the flag for several. Credentials in the URL "+
		"(http://user:password@host:9093) are sent as basic auth and never shown")
	f.StringVar(&a.BearerTokenFile, "alertmanager-bearer-token-file", "", "With --alertmanager-url: send the token in `FILE` as Authorization: Bearer; "+
		"without it, $"+alertmanagerTokenEnv+" when set")
	f.DurationVar(&a.Resend, "alertmanager-resend", alert.DefaultResend, "With --alertmanager-url: how often firing alerts are sent again; each send "+
		"holds an alert for three intervals, within Alertmanager's resolve_timeout (default 5m)")
}

// sender is the Sender the flags ask for, nil when no --alertmanager-url is given. It checks the
// flags before anything is read: a URL that is not http(s), a token file that cannot be read, or a
// flag that needs --alertmanager-url without it is a usage error naming the flag.
func (a *alertmanagerFlags) sender(notes io.Writer, failOn check.Severity, cluster string, env Environment) (*alert.Sender, error) {
	if len(a.URLs) == 0 {
		switch {
		case a.BearerTokenFile != "":
			return nil, failed("--alertmanager-bearer-token-file is the token of --alertmanager-url: add --alertmanager-url")
		case a.Resend != alert.DefaultResend:
			return nil, failed("--alertmanager-resend is how often --alertmanager-url is sent again: add --alertmanager-url")
		}
		return nil, nil
	}
	if a.Resend <= 0 {
		return nil, failed("--alertmanager-resend must be a positive duration such as 1m, not %s", a.Resend)
	}
	for _, u := range a.URLs {
		if err := alert.CheckURL(u); err != nil {
			return nil, failed("--alertmanager-url: %v", err)
		}
	}
	token := env.Getenv(alertmanagerTokenEnv)
	if a.BearerTokenFile != "" {
		data, err := os.ReadFile(a.BearerTokenFile)
		if err != nil {
			return nil, failed("--alertmanager-bearer-token-file: %v", err)
		}
		if token = strings.TrimSpace(string(data)); token == "" {
			return nil, failed("--alertmanager-bearer-token-file: %s is empty", a.BearerTokenFile)
		}
	}
	s, err := alert.New(alert.Config{URLs: a.URLs, BearerToken: token, FailOn: failOn, Cluster: cluster, Resend: a.Resend, Notes: notes})
	if err != nil {
		return nil, failed("--alertmanager-url: %v", err)
	}
	return s, nil
}
