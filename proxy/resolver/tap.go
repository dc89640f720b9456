package resolver

import (
	"net/http"
	"strconv"
	"sync"
)

// holdBack is how many of the most recent bytes a tap keeps from the client
// until the whole transfer is verified, so that a client can never receive a
// complete body whose digest turns out wrong: on failure the connection is
// cut short of the declared length.
const holdBack = 64 << 10

// tap streams an upstream body to the client that started a fetch while the
// bytes are written to storage. Every method is safe on a nil tap and safe to
// call from the fetching goroutine while the handler goroutine detaches.
type tap struct {
	mu     sync.Mutex
	w      http.ResponseWriter
	length int64 // > 0: stream, headers at the first byte
	on     bool  // headers written
	gone   bool  // client left or write failed: drop everything
	held   []byte
}

func newTap(w http.ResponseWriter) *tap { return &tap{w: w} }

// start streams the body when the length is known and larger than what is
// held back anyway; other bodies are not streamed: the client is served from
// storage afterwards, and a failed fetch is a clean error status. The
// headers go out with the first byte, which storage reads only once it has
// accepted the upload: a store that refuses it from the start (a full disk)
// is a clean error status too.
func (t *tap) start(length int64, name string) {
	if t == nil || length <= holdBack {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.length = length
}

// writeHeader sends the headers of a streamed body; t.mu is held.
func (t *tap) writeHeader() {
	h := t.w.Header()
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("Content-Length", strconv.FormatInt(t.length, 10))
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	t.w.WriteHeader(http.StatusOK)
	t.on = true
}

// Write never fails: the fetch goes on for the other clients whatever
// happens to this one.
func (t *tap) Write(p []byte) (int, error) {
	if t == nil {
		return len(p), nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gone || t.length <= 0 || len(p) == 0 {
		return len(p), nil
	}
	if !t.on {
		t.writeHeader()
	}
	t.held = append(t.held, p...)
	if over := len(t.held) - holdBack; over > 0 {
		if _, err := t.w.Write(t.held[:over]); err != nil {
			t.gone = true
			t.held = nil
			return len(p), nil
		}
		t.held = append(t.held[:0], t.held[over:]...)
	}
	return len(p), nil
}

// release sends the held tail once the bytes are verified and committed.
func (t *tap) release() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.on && !t.gone && len(t.held) > 0 {
		if _, err := t.w.Write(t.held); err != nil {
			t.gone = true
		}
		if f, ok := t.w.(http.Flusher); ok {
			f.Flush()
		}
	}
	t.held = nil
}

// fail drops the held tail: the client must not see a complete body.
func (t *tap) fail() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.held = nil
	t.gone = true
	t.mu.Unlock()
}

// detach is called when the client's request ends before the fetch does.
// The client is gone as when the fetch fails: its held tail is dropped.
func (t *tap) detach() { t.fail() }

// started reports whether headers went out on this tap.
func (t *tap) started() bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.on
}
