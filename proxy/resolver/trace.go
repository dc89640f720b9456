package resolver

import (
	"context"
	"sync"
)

// Trace collects what the engine did for one request, for the access log.
// Formats may fetch in parallel within a request, so it is locked.
type Trace struct {
	mu       sync.Mutex
	Cache    string // hit, miss, stale, revalidated, negative
	Upstream string // external connection used
	sent     int64  // body bytes sent past the response writer (sendfile)
}

// Sent returns the body bytes the engine sent beneath the response writer it
// was given, which that writer did not count.
func (t *Trace) Sent() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sent
}

// addSent records body bytes sent beneath the response writer.
func addSent(ctx context.Context, n int64) {
	if t := traceFrom(ctx); t != nil {
		t.mu.Lock()
		t.sent += n
		t.mu.Unlock()
	}
}

// Outcome returns the cache outcome and the upstream used.
func (t *Trace) Outcome() (cache, upstream string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.Cache, t.Upstream
}

type traceKey struct{}

// WithTrace returns a context that collects into t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

func traceFrom(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// setOutcome records a cache outcome, keeping the most telling one when a
// request touches several documents (a miss or stale answer outranks hits).
func setOutcome(ctx context.Context, outcome string) {
	t := traceFrom(ctx)
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if rank(outcome) >= rank(t.Cache) {
		t.Cache = outcome
	}
}

func setUpstream(ctx context.Context, conn string) {
	if t := traceFrom(ctx); t != nil {
		t.mu.Lock()
		if t.Upstream == "" {
			t.Upstream = conn
		}
		t.mu.Unlock()
	}
}

func rank(o string) int {
	switch o {
	case "hit":
		return 1
	case "negative":
		return 2
	case "revalidated":
		return 3
	case "miss":
		return 4
	case "stale":
		return 5
	}
	return 0
}
