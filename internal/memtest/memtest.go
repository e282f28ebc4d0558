// Package memtest helps tests bound what code allocates, on builds with and without -race.
package memtest

import "runtime"

// Allocated is what fn allocates, in bytes, counted by the runtime (so not thread-local: run
// such tests alone, not in parallel).
func Allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
