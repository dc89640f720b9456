package token

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Verifier checks a token and returns its claims; *Issuer is one.
type Verifier interface {
	Verify(token string) (Claims, error)
}

// DefaultCacheSize bounds the tokens a Cache remembers: each entry is a
// hash and the claims, a few hundred bytes.
const DefaultCacheSize = 10000

// Cache remembers the tokens a Verifier accepted, so that a client sending
// the same token on every request pays for the signature check and the
// payload's decoding once per token rather than once per request. Only
// verification is cached: what the claims allow is still decided by the
// caller on every request.
//
// An entry is keyed by the SHA-256 of the token (the cache holds no
// credential), is never served at or after the token's expiry (checked on
// the cache's clock at every lookup), and belongs to the Verifier that
// accepted it: Use drops every entry when the verifier (its key) changes,
// and Reset drops them when anything else that makes a token valid does.
// Refused tokens are not remembered. The cache holds at most max entries;
// when full, expired entries are dropped, then arbitrary ones. It is safe
// for concurrent use.
type Cache struct {
	mu       sync.RWMutex
	verifier Verifier
	now      func() time.Time
	max      int
	entries  map[[sha256.Size]byte]Claims
}

// NewCache returns a cache in front of v holding at most max tokens
// (DefaultCacheSize when max <= 0). now is the clock that expires entries;
// nil means time.Now. It must agree with v's clock: a token is served from
// the cache only while it is before its expiry on both.
func NewCache(v Verifier, max int, now func() time.Time) *Cache {
	if max <= 0 {
		max = DefaultCacheSize
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{verifier: v, now: now, max: max, entries: make(map[[sha256.Size]byte]Claims)}
}

// Verify returns the claims of token: from the cache when the same token
// was accepted before and has not expired, else from the verifier (its
// errors are returned as they are, and nothing is remembered then).
func (c *Cache) Verify(token string) (Claims, error) {
	if len(token) > MaxTokenLen {
		// Not worth hashing: the verifier refuses it.
		return c.current().Verify(token)
	}
	k := sha256.Sum256([]byte(token))
	c.mu.RLock()
	cl, ok := c.entries[k]
	v := c.verifier
	c.mu.RUnlock()
	if ok && c.now().Before(cl.Expires) {
		return cl, nil
	}
	cl, err := v.Verify(token)
	if err != nil {
		if ok {
			c.forget(k, v)
		}
		return Claims{}, err
	}
	c.remember(k, cl, v)
	return cl, nil
}

// Use makes v the verifier and drops every remembered token (a new key
// does not accept what the old one signed).
func (c *Cache) Use(v Verifier) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.verifier = v
	clear(c.entries)
}

// Reset drops every remembered token.
func (c *Cache) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

// Len returns how many tokens are remembered.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

func (c *Cache) current() Verifier {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.verifier
}

// remember keeps cl unless the verifier changed since v verified it.
func (c *Cache) remember(k [sha256.Size]byte, cl Claims, v Verifier) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.verifier != v {
		return
	}
	if len(c.entries) >= c.max {
		c.evict()
	}
	c.entries[k] = cl
}

// forget drops k unless the verifier changed meanwhile (then it is gone).
func (c *Cache) forget(k [sha256.Size]byte, v Verifier) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.verifier == v {
		delete(c.entries, k)
	}
}

// evict makes room: the expired entries, else a quarter of the entries
// (map order is arbitrary), so that a full cache is not swept on every
// insertion. c.mu is held.
func (c *Cache) evict() {
	now := c.now()
	for k, cl := range c.entries {
		if !now.Before(cl.Expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max-c.max/4 {
			break
		}
		delete(c.entries, k)
	}
}
