package proxy

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestBoundSetBindsOncePerKey(t *testing.T) {
	var binds atomic.Int64
	s := newBoundSet(func(k string) *int {
		binds.Add(1)
		v := len(k)
		return &v
	})
	keys := []string{"npm", "pypi", "maven", "npm", "pypi", "npm"}
	var wg sync.WaitGroup
	got := make([][]*int, 8)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, k := range keys {
				got[g] = append(got[g], s.get(k))
			}
		}()
	}
	wg.Wait()
	if n := binds.Load(); n != 3 {
		t.Fatalf("bound %d times, want once per key (3)", n)
	}
	for g := range got {
		for i, p := range got[g] {
			if p != got[0][i] || *p != len(keys[i]) {
				t.Fatalf("goroutine %d key %q: got %p (%d), want the one bound value %p", g, keys[i], p, *p, got[0][i])
			}
		}
	}
}

func TestObserveRequestAllocatesNothing(t *testing.T) {
	m := newMetrics()
	m.observeRequest("npm", 200, 1000, 10)
	m.Cache("npm", "hit")
	if n := testing.AllocsPerRun(100, func() {
		m.observeRequest("npm", 200, 1000, 10)
		m.Cache("npm", "hit")
	}); n != 0 {
		t.Fatalf("%v allocations per request's metrics, want 0", n)
	}
}
