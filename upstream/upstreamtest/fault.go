package upstreamtest

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// dripChunk is the size of the writes of a dripped body.
const dripChunk = 16

// Fault is a misbehaviour injected in front of a path's handler. The steps
// run in field order: wait on Gate, sleep Delay, then either Reset the
// connection, or answer Status, or run the handler and send its answer
// corrupted, dripped and/or truncated.
type Fault struct {
	// Status, when not 0, replaces the handler's answer with this status
	// and a JSON error body.
	Status int
	// RetryAfter is sent as the Retry-After header, when not empty.
	RetryAfter string
	// Times is how many requests the fault applies to; 0 means until
	// ClearFaults.
	Times int
	// Delay is slept before the response headers (ended early when the
	// client goes away).
	Delay time.Duration
	// Truncate, when > 0, declares the full body's Content-Length but sends
	// only this many bytes, then drops the connection.
	Truncate int
	// Drip sleeps this long before each small (16-byte) write of the body,
	// the headers being sent at once.
	Drip time.Duration
	// Reset hijacks the connection and closes it (with a TCP RST) without
	// answering.
	Reset bool
	// Corrupt flips the bits of the middle byte of the body.
	Corrupt bool
	// Gate, when not nil, blocks the request until it is closed or the
	// client goes away.
	Gate <-chan struct{}
}

// Fault installs f for path, replacing the previous one; path "*" applies to
// every path that has no fault of its own.
func (s *Server) Fault(path string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[path] = &f
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// takeFault returns the fault for path, counting one use; s.mu is held.
func (s *Server) takeFault(path string) *Fault {
	key := path
	f := s.faults[key]
	if f == nil {
		key = "*"
		f = s.faults[key]
	}
	if f == nil {
		return nil
	}
	out := *f
	if f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			delete(s.faults, key)
		}
	}
	return &out
}

// apply runs the fault around h.
func (f *Fault) apply(w http.ResponseWriter, r *http.Request, h http.Handler) {
	ctx := r.Context()
	if f.Gate != nil {
		select {
		case <-f.Gate:
		case <-ctx.Done():
			return
		}
	}
	if f.Delay > 0 && !sleep(r, f.Delay) {
		return
	}
	if f.Reset {
		reset(w)
		return
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Status != 0 {
		writeError(w, f.Status, http.StatusText(f.Status))
		return
	}
	if f.Truncate <= 0 && f.Drip <= 0 && !f.Corrupt {
		h.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	body := bytes.Clone(rec.Body.Bytes())
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	if f.Corrupt && len(body) > 0 {
		body[len(body)/2] ^= 0xff
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	if r.Method == http.MethodHead {
		return
	}
	send := body
	truncated := f.Truncate > 0 && f.Truncate < len(body)
	if truncated {
		send = body[:f.Truncate]
	}
	flusher, _ := w.(http.Flusher)
	if f.Drip > 0 {
		if flusher != nil {
			flusher.Flush()
		}
		for len(send) > 0 {
			if !sleep(r, f.Drip) {
				return
			}
			n := min(dripChunk, len(send))
			if _, err := w.Write(send[:n]); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			send = send[n:]
		}
	} else {
		w.Write(send)
	}
	if truncated {
		if flusher != nil {
			flusher.Flush()
		}
		// Drop the connection without finishing the declared body.
		panic(http.ErrAbortHandler)
	}
}

// sleep waits d, or less when the client goes away; it reports whether the
// full time passed.
func sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// reset hijacks the connection and closes it with a TCP RST.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}
