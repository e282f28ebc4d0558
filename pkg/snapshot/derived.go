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
}

// Derived returns what compute makes of s, computing it once for each key however many checks
// ask, concurrently or not. compute must be a pure function of the snapshot, and callers must
// not modify what it returns: every check sees the same value.
func Derived[T any](s *Snapshot, key string, compute func() T) T {
	if s.derived == nil {
		// A snapshot built by hand in a test, without New: nothing to share.
		return compute()
	}
	entry, _ := s.derived.values.LoadOrStore(key, &derivedValue{})
	d := entry.(*derivedValue)
	d.once.Do(func() { d.value = compute() })
	return d.value.(T)
}

// ForgetDerived drops the shared views, so that tests can compare a snapshot that checks have
// read with a freshly loaded one.
func (s *Snapshot) ForgetDerived() {
	if s.derived != nil {
		s.derived = &derivedValues{}
	}
}
