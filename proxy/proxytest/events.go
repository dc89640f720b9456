package proxytest

import (
	"sync"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
)

// Events counts what servers report through proxy.Hooks, so that a test
// waits on an event (every client has joined the shared fetch, a collector
// pass ended, the shutdown began) instead of sleeping. Replicas started
// with one Options share it. It is safe for concurrent use.
type Events struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced at each event
	counts  EventCounts
}

// EventCounts are the events seen so far.
type EventCounts struct {
	FetchWaits   int // clients that started waiting on a shared upstream fetch
	Collections  int // blob collector passes that ended
	ShutdownsRun int // graceful shutdowns that began
	Indexes      int // package indexes the web interface built
	Reloads      int // reloads of a replica's model after a change in the shared store
}

// NewEvents returns an empty count.
func NewEvents() *Events { return &Events{changed: make(chan struct{})} }

// Counts returns the events seen so far.
func (e *Events) Counts() EventCounts {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts
}

// Await waits until cond holds of the counts, and fails t when it does not
// within 30 s.
func (e *Events) Await(t testing.TB, what string, cond func(EventCounts) bool) {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		e.mu.Lock()
		c, changed := e.counts, e.changed
		e.mu.Unlock()
		if cond(c) {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("proxytest: %s did not happen within 30s (events %+v)", what, c)
		}
	}
}

// Until waits until ok holds, asking it first and again after each event
// (a replica's reload, a collector pass...), and fails t when it does not
// hold within d: for a state that an event brings about but that the
// counts do not say (what a replica lists once it reloaded).
func (e *Events) Until(t testing.TB, what string, d time.Duration, ok func() bool) {
	t.Helper()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		e.mu.Lock()
		changed := e.changed
		e.mu.Unlock()
		if ok() {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("proxytest: %s did not hold within %s (events %+v)", what, d, e.Counts())
		}
	}
}

func (e *Events) add(f func(*EventCounts)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.counts)
	close(e.changed)
	e.changed = make(chan struct{})
}

// hooks reports a server's events here.
func (e *Events) hooks() proxy.Hooks {
	return proxy.Hooks{
		FetchWait:    func() { e.add(func(c *EventCounts) { c.FetchWaits++ }) },
		Collected:    func() { e.add(func(c *EventCounts) { c.Collections++ }) },
		ShuttingDown: func() { e.add(func(c *EventCounts) { c.ShutdownsRun++ }) },
		Indexed:      func() { e.add(func(c *EventCounts) { c.Indexes++ }) },
		Reloaded:     func() { e.add(func(c *EventCounts) { c.Reloads++ }) },
	}
}
