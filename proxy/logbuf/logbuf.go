// Package logbuf buffers the server's log output: one write system call
// per buffer-full or per tick rather than one per line, as nginx's
// access_log buffer= does. The access log writes a line per request, and
// on a warm hit that write(2) costs as much as the rest of the request.
package logbuf

import (
	"bufio"
	"context"
	"io"
	"sync"
	"time"
)

// DefaultSize is the buffer's size: nginx's customary access_log buffer.
const DefaultSize = 64 << 10

// DefaultInterval is how long a line may wait in the buffer when the
// server is quiet.
const DefaultInterval = 100 * time.Millisecond

// Writer is an io.Writer that keeps what is written in a buffer, written
// to the underlying writer when the buffer is full, on every tick of
// FlushOn, on Flush and on Close. A Write is never split: each line (slog
// writes one record per call) reaches the underlying writer whole. After
// Close, writes go straight through, so a line written late (a handler
// still running when the shutdown gave up waiting) is not lost. It is
// safe for concurrent use.
type Writer struct {
	mu     sync.Mutex
	bw     *bufio.Writer
	w      io.Writer
	closed bool
}

// New returns a Writer over w with a buffer of size bytes (DefaultSize
// when size <= 0).
func New(w io.Writer, size int) *Writer {
	if size <= 0 {
		size = DefaultSize
	}
	return &Writer{bw: bufio.NewWriterSize(w, size), w: w}
}

// Write implements io.Writer. A p that does not fit in what is left of the
// buffer first flushes what is there.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.w.Write(p)
	}
	if len(p) > w.bw.Available() && w.bw.Buffered() > 0 {
		if err := w.bw.Flush(); err != nil {
			// bufio keeps the unwritten bytes and fails every later
			// write: start over so that the log keeps going.
			w.bw.Reset(w.w)
		}
	}
	return w.bw.Write(p)
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	err := w.bw.Flush()
	if err != nil {
		w.bw.Reset(w.w)
	}
	return err
}

// Close flushes the buffer; later writes go straight to the underlying
// writer. It does not close that writer.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return w.bw.Flush()
}

// FlushOn flushes on every value of tick until ctx ends (a time.Ticker's
// channel in the server, a channel of the test's in tests). It does not
// flush when ctx ends: Close does.
func (w *Writer) FlushOn(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			_ = w.Flush()
		}
	}
}
