package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// body wraps a response body: it aborts the transfer when no byte arrives
// for the idle timeout, classifies read errors, and on Close (idempotent)
// stops its timer, cancels the request's context and frees the connection's
// concurrency slot.
type body struct {
	rc      io.ReadCloser
	ctx     context.Context
	cancel  context.CancelCauseFunc
	release func()
	idle    time.Duration
	timer   *time.Timer
	fired   atomic.Bool
	conn    string
	url     string // redacted
	once    sync.Once
	err     error // result of Close
}

// newBody wraps rc, the body of a request made with ctx, which cancel
// cancels; release frees the concurrency slot.
func newBody(ctx context.Context, cancel context.CancelCauseFunc, rc io.ReadCloser, release func(), idle time.Duration, conn, url string) *body {
	b := &body{rc: rc, ctx: ctx, cancel: cancel, release: release, idle: idle, conn: conn, url: url}
	b.timer = time.AfterFunc(idle, func() {
		b.fired.Store(true)
		cancel(ErrTimeout)
	})
	b.timer.Stop()
	return b
}

// Read reads from the upstream. It returns io.EOF at the end of a complete
// body, and otherwise an error wrapping ErrUnavailable (ErrTimeout when the
// idle timeout or the caller's deadline struck) and the cause, such as
// io.ErrUnexpectedEOF for a truncated body; when the caller cancelled its
// context, the error wraps the context's cause instead.
func (b *body) Read(p []byte) (int, error) {
	if b.fired.Load() {
		return 0, b.idleError()
	}
	b.timer.Reset(b.idle)
	n, err := b.rc.Read(p)
	if !b.timer.Stop() {
		return n, b.idleError()
	}
	if err == nil || err == io.EOF {
		return n, err
	}
	kind := ErrUnavailable
	switch cause := context.Cause(b.ctx); {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(cause, context.DeadlineExceeded):
		kind = ErrTimeout
	case errors.Is(cause, context.Canceled):
		// The caller gave up: not the upstream's failure.
		return n, &readError{conn: b.conn, url: b.url, err: cause}
	}
	return n, &readError{conn: b.conn, url: b.url, err: fmt.Errorf("%w: %w", kind, err)}
}

func (b *body) idleError() error {
	return &readError{conn: b.conn, url: b.url, err: fmt.Errorf("%w: no data for %s", ErrTimeout, b.idle)}
}

// Close closes the upstream body and releases the request's resources. Only
// the first call does anything; later calls return the same result.
func (b *body) Close() error {
	b.once.Do(func() {
		b.timer.Stop()
		b.err = b.rc.Close()
		b.cancel(context.Canceled)
		b.release()
	})
	return b.err
}
