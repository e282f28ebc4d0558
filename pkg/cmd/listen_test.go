package cmd

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

func TestListenFlag(t *testing.T) {
	var l listenFlags
	f := pflag.NewFlagSet("diagnose", pflag.ContinueOnError)
	l.add(f)
	if err := f.Parse([]string{"--listen", "127.0.0.1:9000"}); err != nil || l.Addr != "127.0.0.1:9000" {
		t.Fatalf("--listen 127.0.0.1:9000: %v, Addr %q", err, l.Addr)
	}
	if flag := f.Lookup("listen"); flag == nil || flag.DefValue != "" || !strings.Contains(flag.Usage, "/readyz") {
		t.Errorf("--listen is registered as %+v", flag)
	}
}

func TestListenOpensWhatCanBeBound(t *testing.T) {
	if listener, err := (&listenFlags{}).open(); listener != nil || err != nil {
		t.Errorf("without --listen: %v, %v; want nothing bound and no error", listener, err)
	}
	listener, err := (&listenFlags{Addr: "127.0.0.1:0"}).open()
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	addr, ok := listener.Addr().(*net.TCPAddr)
	if !ok || !addr.IP.IsLoopback() || addr.Port == 0 {
		t.Errorf("bound %v, want a loopback port the system chose", listener.Addr())
	}
}

// What cannot be bound is refused with exit 2, naming the flag, the address and the reason.
func TestListenRefusesWhatCannotBeBound(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for addr, want := range map[string]string{
		taken.Addr().String(): "--listen " + taken.Addr().String() + " cannot be bound: bind: address already in use",
		"nonsense":            `--listen "nonsense": missing port in address: want HOST:PORT, e.g. :8080 or 127.0.0.1:9000`,
		"127.0.0.1":           `--listen "127.0.0.1": missing port in address`,
		"127.0.0.1:99999":     "--listen 127.0.0.1:99999 cannot be bound: address 99999: invalid port",
		"[::1:80":             `--listen "[::1:80": missing ']' in address`,
	} {
		listener, err := (&listenFlags{Addr: addr}).open()
		if listener != nil {
			listener.Close()
			t.Errorf("--listen %s was bound", addr)
			continue
		}
		var exit *ExitError
		if !errors.As(err, &exit) || exit.Code != report.ExitError || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("--listen %s: %v, want exit %d with %q", addr, err, report.ExitError, want)
		}
	}
}

// deploy/watch.yaml passes the tool's own gate at --fail-on low, alone and with the rest of
// deploy/ (its default-deny policy covers the CronJob's namespace too): what the README tells
// people to apply is what it would tell them to fix.
func TestDeployWatchPassesTheGate(t *testing.T) {
	for _, files := range [][]string{{"../../deploy/watch.yaml"}, {"../../deploy/rbac.yaml", "../../deploy/watch.yaml"}, {"../../deploy"}} {
		args := []string{"diagnose", "--fail-on", "low", "-o", "json"}
		for _, f := range files {
			args = append(args, "-f", f)
		}
		r := run(t, testEnv{}, args...)
		rep := r.report(t)
		if r.code != report.ExitOK || rep.Summary.ChecksRun == 0 {
			t.Errorf("diagnose -f %s --fail-on low: exit %d after %d checks, findings %q\nstderr: %s", files, r.code, rep.Summary.ChecksRun, findingKeys(rep), r.stderr)
		}
		watched := false
		for _, w := range rep.Findings {
			for _, o := range w.Objects {
				watched = watched || o.Name == "alertmend-watch"
			}
		}
		// The one finding left, informational: egress is open on purpose (see the file).
		if !watched || len(rep.Findings) != 1 || rep.Findings[0].Check != "netpol-egress-unisolated" {
			t.Errorf("diagnose -f %s: findings %q, want only netpol-egress-unisolated about the watch", files, findingKeys(rep))
		}
	}
}
