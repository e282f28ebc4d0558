package cmdline

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary command lines (words separated by NUL) to the flag parser. Besides
// never panicking, it must keep pflag's rule that the last occurrence of a flag wins: a probe
// flag appended twice is read back whatever came before (the first copy may be taken as the
// value of a preceding flag that expects one, the second cannot be).
func FuzzParse(f *testing.F) {
	f.Add("kube-apiserver\x00--anonymous-auth=false\x00--audit-log-path\x00-\x00--profiling", "profiling")
	f.Add("sh\x00-c\x00kube-proxy --config=/var/lib/kube-proxy/config.conf --v=2", "")
	f.Add("--\x00-\x00---x=\"'\x00--a\x00--b=", "a")
	f.Fuzz(func(t *testing.T, line, boolFlag string) {
		words := strings.Split(line, "\x00")
		words = append(words, "--fuzz-probe=v1", "--fuzz-probe=v1")
		flags := Parse(words, boolFlag)
		if v, ok := flags.Get("fuzz-probe"); !ok || v != "v1" {
			t.Fatalf("the probe appended last reads %q, %v", v, ok)
		}
		for _, w := range words {
			name := strings.TrimLeft(w, "-")
			name, _, _ = strings.Cut(name, "=")
			if slices.Contains(flags.List(name), "") {
				t.Fatalf("List(%q) holds an empty item", name)
			}
			flags.Bool(name, false)
			flags.Has(name, "x")
		}
	})
}
