package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/alertmend/kubectl-alertmend/pkg/report"
)

// result is what one in-process run of the command line produced.
type result struct {
	code   int
	stdout string
	stderr string
}

func (r result) report(t *testing.T) *report.Report {
	t.Helper()
	var rep report.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return &rep
}

// testEnv is a controlled process environment: no terminal unless asked, fixed clock.
type testEnv struct {
	terminal bool
	vars     map[string]string
	stdin    io.Reader
	// now, when set, is the clock instead of the fixed one: for runs that judge the age of
	// what a real server made.
	now func() time.Time
}

// run executes the command line in process, as main does.
func run(t *testing.T, env testEnv, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	stdin := env.stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	streams := genericiooptions.IOStreams{In: stdin, Out: &stdout, ErrOut: &stderr}
	environment := Environment{
		Getenv:     func(k string) string { return env.vars[k] },
		IsTerminal: func(io.Writer) bool { return env.terminal },
		Now:        func() time.Time { return time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) },
	}
	if env.now != nil {
		environment.Now = env.now
	}
	code := Execute(context.Background(), NewRootCommand(streams, environment), args, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// findingKeys lists "check object" for each finding, in report order.
func findingKeys(r *report.Report) []string {
	var keys []string
	for _, f := range r.Findings {
		key := f.Check
		if len(f.Objects) > 0 { // cluster-wide findings, such as an API server flag, name no object
			key += " " + f.Objects[0].String()
		}
		keys = append(keys, key)
	}
	return keys
}
