package cmd

import (
	"errors"
	"net"

	"github.com/spf13/pflag"
)

// listenFlags is --listen: where a watch serves /metrics, /healthz and /readyz.
type listenFlags struct {
	Addr string
}

func (l *listenFlags) add(f *pflag.FlagSet) {
	f.StringVar(&l.Addr, "listen", "", "With --watch: serve /metrics (the findings as -o prometheus has them, updated on every evaluation), "+
		"/healthz and /readyz (ready after the first evaluation) on this `ADDR`, e.g. :8080 or 127.0.0.1:9000")
}

// open binds --listen before the cluster is read, so that an address that cannot be bound ends
// the run at once (exit 2) rather than after a watch has started. Without --listen it returns
// nil and no error.
func (l *listenFlags) open() (net.Listener, error) {
	if l.Addr == "" {
		return nil, nil
	}
	if _, _, err := net.SplitHostPort(l.Addr); err != nil {
		var addrErr *net.AddrError
		if errors.As(err, &addrErr) {
			err = errors.New(addrErr.Err)
		}
		return nil, failed("--listen %q: %v: want HOST:PORT, e.g. :8080 or 127.0.0.1:9000", l.Addr, err)
	}
	listener, err := net.Listen("tcp", l.Addr)
	if err != nil {
		// net.OpError repeats the address; its Err is the reason (a port in use, a host not
		// resolved, an address not this machine's).
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			err = opErr.Err
		}
		return nil, failed("--listen %s cannot be bound: %v", l.Addr, err)
	}
	return listener, nil
}
