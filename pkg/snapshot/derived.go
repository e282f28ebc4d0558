package snapshot

import "sync"

// derivedValues holds views that several checks compute from the same snapshot (the
// NetworkPolicy model, every RBAC grant, the cluster DNS server), so each is built once per run.
type derivedValues struct {
	values sync.Map // key -> *derivedValue
}

type derivedValue struct {
	once  sync.Once
	value any
	// panicked keeps what compute panicked with, so every caller sees the real cause.
	panicked any
}

// Derived returns what compute makes of s, computing it once for each key however many checks
// ask, concurrently or not. key should be a value of an unexported type of the caller's package
// (type modelKey struct{}), so that no two packages can share a key by accident. compute must be
// a pure function of the snapshot, and callers must not modify what it returns: every check sees
// the same value.
func Derived[T any](s *Snapshot, key any, compute func() T) T {
	if s.derived == nil {
		// A snapshot built by hand in a test, without New: nothing to share.
		return compute()
	}
	entry, _ := s.derived.values.LoadOrStore(key, &derivedValue{})
	d := entry.(*derivedValue)
	d.once.Do(func() {
		defer func() {
			if p := recover(); p != nil {
				d.panicked = p
			}
		}()
		d.value = compute()
	})
	if d.panicked != nil {
		panic(d.panicked)
	}
	return d.value.(T)
}

// ForgetDerived drops the shared views, so that tests can compare a snapshot that checks have
// read with a freshly loaded one, or read it again after changing it.
func (s *Snapshot) ForgetDerived() {
	if s.derived != nil {
		s.derived = &derivedValues{}
	}
}
