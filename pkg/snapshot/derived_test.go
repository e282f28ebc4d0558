package snapshot

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

type testKey struct{ name string }

func TestDerivedComputesOncePerKey(t *testing.T) {
	s := New(SourceCluster)
	var calls atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := Derived(s, testKey{"a"}, func() int { calls.Add(1); return 42 }); got != 42 {
				t.Errorf("got %d", got)
			}
		})
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("computed %d times", calls.Load())
	}
	if got := Derived(s, testKey{"b"}, func() string { return "other" }); got != "other" {
		t.Errorf("another key shares the value: %q", got)
	}
	s.ForgetDerived()
	Derived(s, testKey{"a"}, func() int { calls.Add(1); return 42 })
	if calls.Load() != 2 {
		t.Errorf("ForgetDerived kept the value")
	}
}

// A compute that panics makes every caller panic with its cause, not with a nil value.
func TestDerivedPanicReachesEveryCaller(t *testing.T) {
	s := New(SourceCluster)
	for i := range 2 {
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(p.(string), "broken view") {
					t.Errorf("call %d: recovered %v", i, p)
				}
			}()
			Derived(s, testKey{"p"}, func() int { panic("broken view") })
		}()
	}
}
