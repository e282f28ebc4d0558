//go:build !race

package memtest

// RaceFactor scales an allocation bound measured without the race detector.
const RaceFactor = 1
