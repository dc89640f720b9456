package resolver

import (
	"sync"
	"time"
)

// maxMissing bounds the documents remembered as missing.
const maxMissing = 10000

// missingDocs remembers, in memory and for the connection's negative TTL,
// the documents an upstream answered 404 for that were not cached. Names
// nobody publishes (typos, scans, another platform's optional packages)
// then cost one upstream call per TTL and no write to the database: a
// storm of them must not grow the data directory.
type missingDocs struct {
	mu    sync.Mutex
	until map[string]time.Time // document key → end of the negative TTL
}

func newMissingDocs() *missingDocs { return &missingDocs{until: map[string]time.Time{}} }

// get returns when key stops being known as missing, if it still is at now.
func (m *missingDocs) get(key string, now time.Time) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.until[key]
	if ok && !now.Before(t) {
		delete(m.until, key)
		return time.Time{}, false
	}
	return t, ok
}

// add remembers key as missing until the given time.
func (m *missingDocs) add(key string, until, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.until) >= maxMissing {
		for k, t := range m.until {
			if !now.Before(t) {
				delete(m.until, k)
			}
		}
		if len(m.until) >= maxMissing {
			clear(m.until) // a bound, not a policy: forgetting costs upstream calls
		}
	}
	m.until[key] = until
}

// forget drops key, found after all.
func (m *missingDocs) forget(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.until, key)
}
