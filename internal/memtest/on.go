//go:build race

package memtest

// RaceFactor scales an allocation bound measured without the race detector: its
// instrumentation makes code allocate many times more (measured: about 11 times on the DNS
// family).
const RaceFactor = 16
