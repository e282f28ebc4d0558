package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// A run reads the cluster once, decodes it into short-lived lists and exits: collecting garbage
// less often saves about a third of the time on a large cluster. The memory that costs is
// bounded by a soft limit: 2 GiB, or three quarters of the container's memory limit where that
// is smaller, so a memory-capped CI pod is not killed for it.
const (
	gcPercent          = 400
	defaultMemoryLimit = 2 << 30
)

// tuneGC applies that, unless the user chose: GOGC set (off included) leaves the collector as
// they said; GOMEMLIMIT set keeps their limit.
func tuneGC(getenv func(string) string, containerLimit int64) (percent int, limit int64) {
	if getenv("GOGC") != "" {
		return -2, -1
	}
	limit = -1
	if getenv("GOMEMLIMIT") == "" {
		limit = defaultMemoryLimit
		if containerLimit > 0 {
			limit = min(limit, containerLimit*3/4)
		}
		debug.SetMemoryLimit(limit)
	}
	debug.SetGCPercent(gcPercent)
	return gcPercent, limit
}

// cgroupMemoryLimit is the memory limit of the container this runs in (cgroup v2, then v1), or 0
// when there is none or it cannot be read.
func cgroupMemoryLimit() int64 {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if data, err := os.ReadFile(path); err == nil {
			return parseMemoryLimit(string(data))
		}
	}
	return 0
}

// parseMemoryLimit reads a cgroup limit file: "max" (v2) or a huge number (v1) means none.
func parseMemoryLimit(text string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0
	}
	return n
}
