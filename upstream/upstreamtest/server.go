// Package upstreamtest is a programmable fake package registry for tests:
// static documents with validators, custom handlers, hit counters, request
// records and injected faults (statuses, delays, truncation, slow drip,
// connection resets, corruption, gates). It listens on 127.0.0.1 only.
package upstreamtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// maxRecordedBody bounds the request body kept by the request record.
const maxRecordedBody = 1 << 20

// Response is a static document served by Handle.
type Response struct {
	Status      int         // 0 means 200
	Body        []byte      // the body
	Header      http.Header // extra headers; an ETag or Last-Modified here replaces the generated one
	ContentType string      // Content-Type, when not empty
}

// Server is a fake registry. All methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, "http://127.0.0.1:port", without a
	// trailing slash.
	URL string

	srv       *httptest.Server
	closeOnce sync.Once

	mu       sync.Mutex
	handlers map[string]http.Handler
	faults   map[string]*Fault
	hits     map[string]int
	total    int
	requests map[string][]RecordedRequest
	// requests being served now, and the most seen at once
	inflight, maxInflight int
	changed               chan struct{} // closed and replaced when a request comes or goes
}

// New starts a Server on 127.0.0.1 that t.Cleanup closes. It calls t.Fatal
// when it cannot listen.
func New(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("upstreamtest: listen: %v", err)
	}
	s := &Server{
		handlers: make(map[string]http.Handler),
		faults:   make(map[string]*Fault),
		hits:     make(map[string]int),
		requests: make(map[string][]RecordedRequest),
		changed:  make(chan struct{}),
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server: later requests fail to connect. It waits for
// running handlers (gates and delays end with their requests, which Close
// cuts), and may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// Handle serves r at path (matched exactly, query ignored) for GET and HEAD.
// A 200 document gets a strong ETag (quoted sha256 prefix of Body) and a
// Last-Modified of the time of the call, unless r.Header has them, and is
// answered 304 to a matching If-None-Match or, without one, to an
// If-Modified-Since not before Last-Modified. Other methods get 405.
func (s *Server) Handle(path string, r Response) {
	body := bytes.Clone(r.Body)
	h := r.Header.Clone()
	if h == nil {
		h = make(http.Header)
	}
	if r.ContentType != "" {
		h.Set("Content-Type", r.ContentType)
	}
	if h.Get("ETag") == "" {
		sum := sha256.Sum256(body)
		h.Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	}
	if h.Get("Last-Modified") == "" {
		h.Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
	}
	status := r.Status
	if status == 0 {
		status = http.StatusOK
	}
	s.HandleFunc(path, func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
			return
		}
		for k, v := range h {
			w.Header()[k] = v
		}
		if status == http.StatusOK && notModified(req, h) {
			w.Header().Del("Content-Type")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		if req.Method == http.MethodGet {
			w.Write(body)
		}
	})
}

// notModified evaluates If-None-Match, then If-Modified-Since, against the
// validators in h.
func notModified(r *http.Request, h http.Header) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		etag := strings.TrimPrefix(h.Get("ETag"), "W/")
		for _, c := range strings.Split(inm, ",") {
			c = strings.TrimPrefix(strings.TrimSpace(c), "W/")
			if c == "*" || c == etag {
				return true
			}
		}
		return false
	}
	ims, err := http.ParseTime(r.Header.Get("If-Modified-Since"))
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	return err == nil && !lm.After(ims)
}

// HandleFunc serves path (matched exactly, query ignored, every method) with
// h, replacing any previous handler.
func (s *Server) HandleFunc(path string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[path] = h
}

// Remove stops serving path: it answers 404 from then on.
func (s *Server) Remove(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.handlers, path)
}

// writeError writes a JSON error body such as {"error":"Not found"}.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, `{"error":`+strconv.Quote(msg)+`}`)
}

// serve records the request, applies any fault, and dispatches.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.record(r)
	s.mu.Lock()
	s.inflight++
	s.maxInflight = max(s.maxInflight, s.inflight)
	s.notify()
	h := s.handlers[r.URL.Path]
	f := s.takeFault(r.URL.Path)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.notify()
		s.mu.Unlock()
	}()
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusNotFound, "Not found")
		})
	}
	if f == nil {
		h.ServeHTTP(w, r)
		return
	}
	f.apply(w, r, h)
}
