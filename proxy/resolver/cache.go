package resolver

import "sync"

// boundedCache is the one in-memory cache type of the engine: a map bounded
// in entries and, when it is given a size function, in bytes. When a bound
// is reached it drops arbitrary entries, which is enough for every use here:
// a dropped entry costs one rebuild, one hash or one upstream call, never a
// wrong answer. It is safe for concurrent use; reads share the lock.
type boundedCache[V any] struct {
	mu         sync.RWMutex
	m          map[string]V
	maxEntries int
	maxBytes   int64 // 0: no bound in bytes
	used       int64
	size       func(V) int64
}

// newBoundedCache returns a cache of at most maxEntries entries and, when
// size is not nil, at most maxBytes bytes as size counts them.
func newBoundedCache[V any](maxEntries int, maxBytes int64, size func(V) int64) *boundedCache[V] {
	return &boundedCache[V]{m: map[string]V{}, maxEntries: maxEntries, maxBytes: maxBytes, size: size}
}

func (c *boundedCache[V]) sizeOf(v V) int64 {
	if c.size == nil {
		return 0
	}
	return c.size(v)
}

// get returns the entry at key.
func (c *boundedCache[V]) get(key string) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[key]
	return v, ok
}

// put sets the entry at key, dropping others to stay within the bounds. An
// entry larger than the byte bound alone is not kept.
func (c *boundedCache[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(key, v)
}

// swap sets the entry at key to what fn returns from the current one, when
// fn says to, in one step; it returns what fn returned.
func (c *boundedCache[V]) swap(key string, fn func(old V, ok bool) (V, bool)) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.m[key]
	v, set := fn(old, ok)
	if set {
		c.putLocked(key, v)
	}
	return v, set
}

func (c *boundedCache[V]) putLocked(key string, v V) {
	n := c.sizeOf(v)
	if c.maxBytes > 0 && n > c.maxBytes {
		return
	}
	if old, ok := c.m[key]; ok {
		c.used -= c.sizeOf(old)
		delete(c.m, key)
	}
	if len(c.m) >= c.maxEntries {
		// Drop an arbitrary tenth: eviction stays rare and cheap.
		for k, old := range c.m {
			c.used -= c.sizeOf(old)
			delete(c.m, k)
			if len(c.m) < c.maxEntries*9/10 {
				break
			}
		}
	}
	if c.maxBytes > 0 {
		for k, old := range c.m {
			if c.used+n <= c.maxBytes {
				break
			}
			c.used -= c.sizeOf(old)
			delete(c.m, k)
		}
	}
	c.m[key] = v
	c.used += n
}

// delete drops the entry at key.
func (c *boundedCache[V]) delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		c.used -= c.sizeOf(old)
		delete(c.m, key)
	}
}

// len returns the number of entries.
func (c *boundedCache[V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// deleteIf drops the entries for which drop holds.
func (c *boundedCache[V]) deleteIf(drop func(V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.m {
		if drop(v) {
			c.used -= c.sizeOf(v)
			delete(c.m, k)
		}
	}
}
