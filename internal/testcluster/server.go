package testcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// startServer starts one of the HTTP servers the tests run beside the control plane
// (node_exporter, the Pushgateway), its output in logPath, and waits until ready answers 200.
// The process dies with the test binary, and on a failure to become ready.
func startServer(ctx context.Context, name, binary string, args []string, logPath string,
	ready func(context.Context) (*http.Response, error)) (*exec.Cmd, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { _ = cmd.Wait(); logFile.Close() }()
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
		_ = cmd.Process.Kill()
		return nil, err
	}
	return cmd, nil
}
