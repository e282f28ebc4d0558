package cmd

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// alertmanagerSender parses args as the --alertmanager-* flags and builds their sender in an
// environment of vars.
func alertmanagerSender(t *testing.T, vars map[string]string, args ...string) (bool, error) {
	t.Helper()
	var a alertmanagerFlags
	f := pflag.NewFlagSet("test", pflag.ContinueOnError)
	a.add(f)
	if err := f.Parse(args); err != nil {
		t.Fatal(err)
	}
	s, err := a.sender(io.Discard, check.High, "prod", Environment{Getenv: func(k string) string { return vars[k] }})
	return s != nil, err
}

func TestAlertmanagerFlagsRefuseBadInputNamingTheFlag(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty-token")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-token")
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"not http", nil, []string{"--alertmanager-url", "alertmanager:9093"}, `--alertmanager-url: invalid Alertmanager URL "alertmanager:9093": want an http or https URL`},
		{"no host", nil, []string{"--alertmanager-url", "http://am:9093", "--alertmanager-url", "https://"}, `--alertmanager-url: invalid Alertmanager URL "https:"`},
		{"password hidden", nil, []string{"--alertmanager-url", "gopher://ops:s3cret@am"}, `invalid Alertmanager URL "gopher://ops:xxxxx@am"`},
		{"token file unreadable", nil, []string{"--alertmanager-url", "http://am:9093", "--alertmanager-bearer-token-file", missing},
			"--alertmanager-bearer-token-file: open " + missing + ": no such file or directory"},
		{"token file empty", nil, []string{"--alertmanager-url", "http://am:9093", "--alertmanager-bearer-token-file", empty},
			"--alertmanager-bearer-token-file: " + empty + " is empty"},
		{"token and credentials", map[string]string{alertmanagerTokenEnv: "t0ken"}, []string{"--alertmanager-url", "http://ops:s3cret@am:9093"},
			`--alertmanager-url: Alertmanager URL "http://ops:xxxxx@am:9093" has credentials, and a bearer token is given too`},
		{"token file alone", nil, []string{"--alertmanager-bearer-token-file", empty}, "add --alertmanager-url"},
		{"resend alone", nil, []string{"--alertmanager-resend", "30s"}, "--alertmanager-resend is how often --alertmanager-url is sent again"},
		{"resend zero", nil, []string{"--alertmanager-url", "http://am:9093", "--alertmanager-resend", "0s"}, "--alertmanager-resend must be a positive duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			built, err := alertmanagerSender(t, tc.vars, tc.args...)
			var exit *ExitError
			if built || !errors.As(err, &exit) || exit.Code != report.ExitError {
				t.Fatalf("sender: built %v, %v; want a usage error (exit 2)", built, err)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q, want %q and no password", err, tc.want)
			}
		})
	}
}

func TestAlertmanagerFlagsBuildASenderOnlyWithAURL(t *testing.T) {
	if built, err := alertmanagerSender(t, map[string]string{alertmanagerTokenEnv: "t0ken"}); built || err != nil {
		t.Errorf("without --alertmanager-url: built %v, %v; want no sender and no error", built, err)
	}
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--alertmanager-url", "http://ops:s3cret@am:9093/prefix", "--alertmanager-url", "https://am2"},
		{"--alertmanager-url", "https://am", "--alertmanager-bearer-token-file", token, "--alertmanager-resend", "20s"},
	} {
		if built, err := alertmanagerSender(t, nil, args...); !built || err != nil {
			t.Errorf("%v: built %v, %v; want a sender", args, built, err)
		}
	}
}
