package resolver

import "time"

// maxMissing bounds the documents remembered as missing.
const maxMissing = 10000

// missingDocs remembers, in memory and for the connection's negative TTL,
// the documents an upstream answered 404 for that were not cached. Names
// nobody publishes (typos, scans, another platform's optional packages)
// then cost one upstream call per TTL and no write to the database: a
// storm of them must not grow the data directory.
type missingDocs struct {
	until *boundedCache[time.Time] // document key → end of the negative TTL
}

func newMissingDocs() *missingDocs {
	return &missingDocs{until: newBoundedCache[time.Time](maxMissing, 0, nil)}
}

// get returns when key stops being known as missing, if it still is at now.
func (m *missingDocs) get(key string, now time.Time) (time.Time, bool) {
	t, ok := m.until.get(key)
	if ok && !now.Before(t) {
		m.until.delete(key)
		return time.Time{}, false
	}
	return t, ok
}

// add remembers key as missing until the given time. When the bound is
// reached, expired entries go first.
func (m *missingDocs) add(key string, until, now time.Time) {
	if m.until.len() >= maxMissing {
		m.until.deleteIf(func(t time.Time) bool { return !now.Before(t) })
	}
	m.until.put(key, until)
}

// forget drops key, found after all.
func (m *missingDocs) forget(key string) { m.until.delete(key) }
