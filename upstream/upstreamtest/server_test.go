package upstreamtest_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// get sends a request and returns status, headers and body (or the read error).
func get(t *testing.T, method, url string, h http.Header) (int, http.Header, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body), err
}

func TestServerURL(t *testing.T) {
	srv := upstreamtest.New(t)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") || strings.HasSuffix(srv.URL, "/") {
		t.Fatalf("URL = %q", srv.URL)
	}
}

func TestHandle(t *testing.T) {
	srv := upstreamtest.New(t)
	srv.Handle("/doc", upstreamtest.Response{Body: []byte("hello"), ContentType: "text/plain"})
	srv.Handle("/gone", upstreamtest.Response{Status: 410, Body: []byte("gone")})
	_, h, _, err := get(t, "GET", srv.URL+"/doc", nil)
	if err != nil {
		t.Fatal(err)
	}
	etag, lm := h.Get("ETag"), h.Get("Last-Modified")
	if !strings.HasPrefix(etag, `"`) || lm == "" {
		t.Fatalf("ETag %q, Last-Modified %q", etag, lm)
	}
	tests := []struct {
		name, method, path string
		header             http.Header
		wantStatus         int
		wantBody           string
	}{
		{"get", "GET", "/doc?x=1", nil, 200, "hello"},
		{"head", "HEAD", "/doc", nil, 200, ""},
		{"post refused", "POST", "/doc", nil, 405, `{"error":"Method not allowed"}`},
		{"etag match", "GET", "/doc", http.Header{"If-None-Match": {etag}}, 304, ""},
		{"etag list match", "GET", "/doc", http.Header{"If-None-Match": {`"a", ` + etag}}, 304, ""},
		{"etag mismatch", "GET", "/doc", http.Header{"If-None-Match": {`"nope"`}}, 200, "hello"},
		{"ims match", "GET", "/doc", http.Header{"If-Modified-Since": {lm}}, 304, ""},
		{"ims older", "GET", "/doc", http.Header{"If-Modified-Since": {"Mon, 02 Jan 2006 15:04:05 GMT"}}, 200, "hello"},
		{"static error status", "GET", "/gone", nil, 410, "gone"},
		{"unknown path", "GET", "/nope", nil, 404, `{"error":"Not found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body, err := get(t, tt.method, srv.URL+tt.path, tt.header)
			if err != nil || status != tt.wantStatus || body != tt.wantBody {
				t.Fatalf("%s %s = %d %q %v; want %d %q", tt.method, tt.path, status, body, err, tt.wantStatus, tt.wantBody)
			}
		})
	}
	srv.Remove("/doc")
	if status, _, _, _ := get(t, "GET", srv.URL+"/doc", nil); status != 404 {
		t.Fatalf("removed path answered %d", status)
	}
}

func TestHitsAndRecords(t *testing.T) {
	srv := upstreamtest.New(t)
	srv.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body) // the record must leave the body readable
		w.Write(b)
	})
	get(t, "GET", srv.URL+"/echo", http.Header{"X-A": {"1"}})
	get(t, "HEAD", srv.URL+"/echo", http.Header{"X-A": {"2"}})
	get(t, "GET", srv.URL+"/other", nil)
	req, _ := http.NewRequest("POST", srv.URL+"/echo?q=1", strings.NewReader("payload"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	echoed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(echoed) != "payload" {
		t.Fatalf("handler read %q", echoed)
	}
	got := []int{srv.Hits("/echo"), srv.Hits("/other"), srv.Hits("/none"), srv.TotalHits()}
	if diff := cmp.Diff([]int{3, 1, 0, 4}, got); diff != "" {
		t.Fatalf("hits (-want +got):\n%s", diff)
	}
	reqs := srv.Requests("/echo")
	if len(reqs) != 3 || reqs[1].Header.Get("X-A") != "2" || reqs[2].Method != "POST" ||
		string(reqs[2].Body) != "payload" || reqs[2].RawQuery != "q=1" {
		t.Fatalf("records = %+v", reqs)
	}
	if srv.LastHeader("/echo").Get("Content-Length") != "7" || srv.LastHeader("/none") != nil {
		t.Fatalf("LastHeader wrong")
	}
	srv.ResetHits()
	if srv.TotalHits() != 0 || srv.Hits("/echo") != 0 || len(srv.Requests("/echo")) != 0 {
		t.Fatal("ResetHits left counts")
	}
}

func TestFaults(t *testing.T) {
	body := strings.Repeat("0123456789", 10)
	tests := []struct {
		name       string
		path       string // fault path
		fault      upstreamtest.Fault
		wantStatus []int  // per request, 0 for a transport error
		wantBody   string // of the last request, when it succeeds
		check      func(t *testing.T, status int, h http.Header, body string, err error)
	}{
		{name: "status times", path: "/doc", fault: upstreamtest.Fault{Status: 503, RetryAfter: "7", Times: 2},
			wantStatus: []int{503, 503, 200}, wantBody: body},
		{name: "star applies everywhere", path: "*", fault: upstreamtest.Fault{Status: 500},
			wantStatus: []int{500, 500}},
		{name: "reset", path: "/doc", fault: upstreamtest.Fault{Reset: true, Times: 1}, wantStatus: []int{0, 200}, wantBody: body},
		{name: "corrupt", path: "/doc", fault: upstreamtest.Fault{Corrupt: true},
			check: func(t *testing.T, status int, h http.Header, got string, err error) {
				if err != nil || len(got) != len(body) || got == body {
					t.Fatalf("corrupt body %q, %v", got, err)
				}
			}},
		{name: "truncate", path: "/doc", fault: upstreamtest.Fault{Truncate: 15},
			check: func(t *testing.T, status int, h http.Header, got string, err error) {
				if !errors.Is(err, io.ErrUnexpectedEOF) || got != body[:15] || h.Get("Content-Length") != "100" {
					t.Fatalf("truncated read %q, %v, length %q", got, err, h.Get("Content-Length"))
				}
			}},
		{name: "drip", path: "/doc", fault: upstreamtest.Fault{Drip: 5 * time.Millisecond},
			check: func(t *testing.T, status int, h http.Header, got string, err error) {
				if err != nil || got != body {
					t.Fatalf("dripped read %q, %v", got, err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := upstreamtest.New(t)
			srv.Handle("/doc", upstreamtest.Response{Body: []byte(body)})
			srv.Fault(tt.path, tt.fault)
			if tt.check != nil {
				status, h, got, err := get(t, "GET", srv.URL+"/doc", nil)
				tt.check(t, status, h, got, err)
				return
			}
			var last string
			for i, want := range tt.wantStatus {
				status, h, got, err := get(t, "GET", srv.URL+"/doc", nil)
				if want == 0 {
					if err == nil {
						t.Fatalf("request %d succeeded with %d", i, status)
					}
					continue
				}
				if err != nil || status != want {
					t.Fatalf("request %d: %d %v, want %d", i, status, err, want)
				}
				if status == 503 && h.Get("Retry-After") != tt.fault.RetryAfter {
					t.Fatalf("Retry-After = %q", h.Get("Retry-After"))
				}
				last = got
			}
			if tt.wantBody != "" && last != tt.wantBody {
				t.Fatalf("last body %q", last)
			}
			if n := srv.Hits("/doc"); n != len(tt.wantStatus) {
				t.Fatalf("hits = %d, want %d", n, len(tt.wantStatus))
			}
		})
	}
}

func TestGateAndClearFaults(t *testing.T) {
	srv := upstreamtest.New(t)
	srv.Handle("/doc", upstreamtest.Response{Body: []byte("x")})
	gate := make(chan struct{})
	srv.Fault("/doc", upstreamtest.Fault{Gate: gate})
	done := make(chan int)
	go func() {
		status, _, _, _ := get(t, "GET", srv.URL+"/doc", nil)
		done <- status
	}()
	srv.Await(t, "the request arriving", func() bool { return srv.InFlight() == 1 })
	select {
	case <-done:
		t.Fatal("gated request answered")
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	if status := <-done; status != 200 {
		t.Fatalf("status %d", status)
	}
	srv.Fault("/doc", upstreamtest.Fault{Status: 500})
	srv.ClearFaults()
	if status, _, _, _ := get(t, "GET", srv.URL+"/doc", nil); status != 200 {
		t.Fatalf("status %d after ClearFaults", status)
	}
	if srv.MaxInFlight() != 1 {
		t.Fatalf("MaxInFlight = %d", srv.MaxInFlight())
	}
}

func TestClose(t *testing.T) {
	srv := upstreamtest.New(t)
	srv.Handle("/doc", upstreamtest.Response{Body: []byte("x")})
	srv.Close()
	srv.Close() // idempotent
	_, _, _, err := get(t, "GET", srv.URL+"/doc", nil)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("request to a closed server: %v, want connection refused", err)
	}
}
