package main

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestSelectTools(t *testing.T) {
	for _, tc := range []struct {
		name     string
		only     string
		set      string
		setGiven bool
		extra    []string
		want     []string
		wantErr  string
	}{
		{name: "the default is the test set", set: "test", want: []string{"kube-apiserver", "etcd", "kubectl", "node_exporter", "pushgateway", "alertmanager",
			"kube-controller-manager", "kube-scheduler", "kwok"}},
		{name: "the demo needs a living cluster and kubectl", set: "demo", setGiven: true, want: []string{"kube-apiserver", "etcd", "kubectl", "kube-controller-manager", "kube-scheduler", "kwok"}},
		{name: "all is the catalog", set: "all", setGiven: true, want: []string{"kube-apiserver", "etcd", "kubectl", "node_exporter",
			"pushgateway", "alertmanager", "kube-controller-manager", "kube-scheduler", "kwok", "kube-score", "goreleaser", "krew", "validate-krew-manifest"}},
		{name: "named tools come in the catalog's order, once", only: "etcd, kube-apiserver,etcd", set: "test",
			want: []string{"kube-apiserver", "etcd"}},
		{name: "an unknown tool", only: "etcd,kube-apiservr", set: "test", wantErr: `-only: unknown tool "kube-apiservr" (known: kube-apiserver, etcd,`},
		{name: "an empty name", only: "etcd,", set: "test", wantErr: `-only: unknown tool ""`},
		{name: "an unknown set", set: "bench", setGiven: true, wantErr: `-for: unknown set "bench" (known: demo, test, all)`},
		{name: "both flags", only: "etcd", set: "demo", setGiven: true, wantErr: "-only and -for cannot be used together"},
		{name: "an argument", set: "test", extra: []string{"etcd"}, wantErr: `unexpected argument "etcd"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := selectTools(tc.only, tc.set, tc.setGiven, tc.extra)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// Bad flags exit 2 with the reason on stderr, before anything is built.
func TestBadFlagsExit2AndBuildNothing(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-only", "kube-apiserver,nope"}, `ensure-tools: -only: unknown tool "nope"`},
		{[]string{"-for", "nope"}, `ensure-tools: -for: unknown set "nope"`},
		{[]string{"-only", "etcd", "-for", "demo"}, "ensure-tools: -only and -for cannot be used together"},
		{[]string{"-no-such-flag"}, "flag provided but not defined: -no-such-flag"},
	} {
		args := tc.args
		dir := t.TempDir()
		t.Setenv("ALERTMEND_TOOLS_DIR", dir)
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		if code != 2 || stdout.Len() != 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q on stderr", args, code, stdout.String(), stderr.String(), tc.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%v: the tools cache holds %v", args, entries)
		}
	}
}
