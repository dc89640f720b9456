package proxy

import (
	"sync"
	"sync/atomic"
)

// boundSet keeps metric children already bound to their label values, so
// that a request does not hash its labels into a vector on every hit
// (prometheus' WithLabelValues does, and allocates for the lookup). Reads
// are one atomic load and a map lookup; a new key copies the map, which
// happens once per key: keys are formats, status codes and cache outcomes,
// a few dozen in all.
type boundSet[K comparable, V any] struct {
	m    atomic.Pointer[map[K]V]
	mu   sync.Mutex // serialises copies
	bind func(K) V
}

func newBoundSet[K comparable, V any](bind func(K) V) *boundSet[K, V] {
	s := &boundSet[K, V]{bind: bind}
	s.m.Store(&map[K]V{})
	return s
}

// get returns k's bound value, binding it on first use.
func (s *boundSet[K, V]) get(k K) V {
	if v, ok := (*s.m.Load())[k]; ok {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.m.Load()
	if v, ok := old[k]; ok {
		return v
	}
	v := s.bind(k)
	next := make(map[K]V, len(old)+1)
	for key, val := range old {
		next[key] = val
	}
	next[k] = v
	s.m.Store(&next)
	return v
}
