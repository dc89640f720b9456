package resolver

import (
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
)

// TestRenderCacheAdmission checks that a document is kept from its second
// rendering on, that a kept one is replaced in place, and that the size
// bound holds.
func TestRenderCacheAdmission(t *testing.T) {
	entry := func(n int) *renderEntry { return &renderEntry{doc: &formats.Rendered{Body: make([]byte, n)}} }
	c := newRenderCache(10 << 10)
	tests := []struct {
		name string
		key  string
		size int
		kept bool
	}{
		{"first rendering is not kept", "a", 100, false},
		{"second rendering is kept", "a", 100, true},
		{"a kept one is replaced", "a", 200, true},
		{"another key, once", "b", 2000, false},
		{"another key, twice", "b", 2000, true},
		{"too big for the cache", "c", 3 << 10, false},
		{"too big, twice", "c", 3 << 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := entry(tt.size)
			c.put(tt.key, e)
			if got := c.get(tt.key) == e; got != tt.kept {
				t.Fatalf("kept = %t, want %t", got, tt.kept)
			}
		})
	}
	for i := range 20 {
		k := string(rune('d' + i))
		c.put(k, entry(2000))
		c.put(k, entry(2000))
	}
	if c.used() > c.limit {
		t.Fatalf("%d bytes held, the bound is %d", c.used(), c.limit)
	}
}
