package main

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

func TestExitCodeOfAnInterruptedRun(t *testing.T) {
	cases := []struct {
		name  string
		code  int
		cause error
		want  int
	}{
		{"Ctrl-C", report.ExitInterrupted, interruptedBy{os.Interrupt}, 130},
		{"SIGTERM", report.ExitInterrupted, interruptedBy{syscall.SIGTERM}, 143},
		{"a signal after the run had ended", report.ExitGateFailed, interruptedBy{syscall.SIGTERM}, report.ExitGateFailed},
		{"no signal", report.ExitOK, nil, report.ExitOK},
		{"another cause", report.ExitInterrupted, errors.New("other"), report.ExitInterrupted},
	}
	for _, tc := range cases {
		if got := exitCode(tc.code, tc.cause); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
}
