package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	for _, tc := range []struct {
		name      string
		vars      map[string]string
		container int64
		percent   int
		limit     int64
	}{
		{"defaults", nil, 0, 400, 2 << 30},
		{"a 512 MiB container", nil, 512 << 20, 400, 384 << 20},
		{"a large container", nil, 64 << 30, 400, 2 << 30},
		{"GOGC set", map[string]string{"GOGC": "off"}, 0, -2, -1},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "300MiB"}, 0, 400, -1},
	} {
		percent, limit := tuneGC(env(tc.vars), tc.container)
		if percent != tc.percent || limit != tc.limit {
			t.Errorf("%s: percent %d limit %d, want %d and %d", tc.name, percent, limit, tc.percent, tc.limit)
		}
	}
}

func TestParseMemoryLimit(t *testing.T) {
	for text, want := range map[string]int64{"max\n": 0, "536870912\n": 512 << 20, "9223372036854771712\n": 0, "": 0} {
		if got := parseMemoryLimit(text); got != want {
			t.Errorf("parseMemoryLimit(%q) = %d, want %d", text, got, want)
		}
	}
}
