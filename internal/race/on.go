//go:build race

// Package race tells tests whether the race detector is on: its instrumentation makes code
// allocate many times more (measured: about 11 times on the DNS family), so tests that bound
// allocations scale their bounds by AllocationFactor.
package race

// AllocationFactor scales an allocation bound measured without the race detector.
const AllocationFactor = 16
