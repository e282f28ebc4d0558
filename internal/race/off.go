//go:build !race

package race

// AllocationFactor scales an allocation bound measured without the race detector.
const AllocationFactor = 1
