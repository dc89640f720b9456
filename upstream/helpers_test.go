package upstream_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// testConn returns the public:pypi connection pointed at srv with opts.
func testConn(t *testing.T, srv *upstreamtest.Server, opts upstream.Options) *upstream.Conn {
	t.Helper()
	return testConnLog(t, srv, opts, nil)
}

// testConnLog is testConn with a logger.
func testConnLog(t *testing.T, srv *upstreamtest.Server, opts upstream.Options, log *slog.Logger) *upstream.Conn {
	t.Helper()
	opts.URL = srv.URL + "/"
	c, err := upstream.New(map[string]upstream.Options{"public:pypi": opts}, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	cn, err := c.Conn("public:pypi")
	if err != nil {
		t.Fatalf("Conn: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return cn
}

// ctx returns a context that ends with the test, bounded to 20 s.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// readAll reads and closes r.
func readAll(t *testing.T, r *upstream.Response) ([]byte, error) {
	t.Helper()
	defer r.Body.Close()
	return io.ReadAll(r.Body)
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		// A poll, not a wait for time to pass: cond reads a gauge such as
		// Conn.Queued (callers blocked on the connection's semaphore), a
		// state nothing announces.
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for log capture.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
