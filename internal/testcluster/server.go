package testcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"time"
)

// startServer starts one of the HTTP servers the tests run beside the control plane
// (node_exporter, the Pushgateway), its output in logPath, and waits until ready answers 200.
// The process is killed if it does not become ready.
func startServer(ctx context.Context, name, binary string, args []string, logPath string,
	ready func(context.Context) (*http.Response, error)) (*exec.Cmd, error) {
	p, err := startServerProcess(ctx, name, binary, args, logPath, ready)
	if err != nil {
		return nil, err
	}
	return p.cmd, nil
}

// startServerProcess is startServer for a caller that waits for the process to end (to start it
// again on the same port).
func startServerProcess(ctx context.Context, name, binary string, args []string, logPath string,
	ready func(context.Context) (*http.Response, error)) (*process, error) {
	p, err := startLogged(binary, logPath, args)
	if err != nil {
		return nil, err
	}
	err = poll(ctx, 20*time.Second, name+" to answer", func() error {
		resp, err := ready(ctx)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		_ = p.cmd.Process.Kill()
		return nil, err
	}
	return p, nil
}
