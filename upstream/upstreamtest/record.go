package upstreamtest

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"
)

// RecordedRequest is what the server keeps of a request it received.
type RecordedRequest struct {
	Method   string
	Path     string
	RawQuery string
	Host     string
	Header   http.Header
	Body     []byte // first MiB of the body
}

// record counts the request and keeps a copy of it; the body is buffered so
// that handlers can still read it.
func (s *Server) record(r *http.Request) {
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		data, _ := io.ReadAll(io.LimitReader(r.Body, maxRecordedBody))
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data), r.Body))
		body = data
	}
	rec := RecordedRequest{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Host:     r.Host,
		Header:   r.Header.Clone(),
		Body:     body,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits[r.URL.Path]++
	s.total++
	s.requests[r.URL.Path] = append(s.requests[r.URL.Path], rec)
}

// Hits returns how many requests path received (any method, any query,
// faults included) since the start or the last ResetHits.
func (s *Server) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// TotalHits returns how many requests the server received since the start
// or the last ResetHits.
func (s *Server) TotalHits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetHits zeroes the counters (MaxInFlight restarts from InFlight) and
// forgets the recorded requests.
func (s *Server) ResetHits() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.hits)
	clear(s.requests)
	s.total = 0
	s.maxInflight = s.inflight
}

// InFlight returns how many requests are being served now (waiting on a
// gate or a delay included).
func (s *Server) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight
}

// MaxInFlight returns the most requests served at once since the start or
// the last ResetHits.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInflight
}

// Requests returns copies of the requests path received, oldest first.
func (s *Server) Requests(path string) []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RecordedRequest, len(s.requests[path]))
	for i, r := range s.requests[path] {
		r.Header = r.Header.Clone()
		r.Body = bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// LastHeader returns a copy of the headers of the last request to path, or
// nil when there was none.
func (s *Server) LastHeader(path string) http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.requests[path]
	if len(rs) == 0 {
		return nil
	}
	return rs[len(rs)-1].Header.Clone()
}

// notify wakes the waiters of Await; s.mu is held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Await waits until cond holds, looking again each time a request arrives
// or ends (cond reads Hits, InFlight...), and fails t when it does not
// within 30 s: a test waits for requests to arrive instead of sleeping.
func (s *Server) Await(t testing.TB, what string, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("upstreamtest: %s did not happen within 30s", what)
		}
	}
}
