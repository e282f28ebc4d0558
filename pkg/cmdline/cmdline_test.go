package cmdline

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	f := Parse([]string{"kube-apiserver", "--a=1", "--b", "2", "--profiling", "--list=x,y", "--list", "z", "--a=3",
		`--quoted="q"`, "--audit-log-path", "-", "--service-account-lookup=F"}, "profiling")
	if v, _ := f.Get("a"); v != "3" {
		t.Errorf("a = %q, want the last occurrence, 3", v)
	}
	if v, _ := f.Get("b"); v != "2" {
		t.Errorf("b = %q, want the separate value 2", v)
	}
	if !f.Bool("profiling", false) || f.Bool("missing", false) || !f.Bool("missing", true) {
		t.Error("bare boolean flags are true; missing ones take their default")
	}
	if f.Bool("service-account-lookup", true) {
		t.Error("F is false, as strconv.ParseBool reads it")
	}
	if got := f.List("list"); !reflect.DeepEqual(got, []string{"x", "y", "z"}) {
		t.Errorf("list = %q, want every item of every occurrence", got)
	}
	if v, _ := f.Get("quoted"); v != "q" {
		t.Errorf("quoted = %q", v)
	}
	// A non-boolean flag takes the next word even when it starts with a dash.
	if v, _ := f.Get("audit-log-path"); v != "-" {
		t.Errorf("audit-log-path = %q, want - (stdout)", v)
	}
	wrapped := Parse([]string{"/bin/sh", "-c", "exec kube-apiserver --profiling=false --authorization-mode=Node,RBAC"}, "profiling")
	if wrapped.Bool("profiling", true) || !wrapped.Has("authorization-mode", "RBAC") {
		t.Error("flags inside a shell wrapper are not read")
	}
}
