package formats

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want bool
	}{
		{"none", nil, false},
		{"gzip", []string{"gzip, deflate, br"}, true},
		{"x-gzip", []string{"x-gzip"}, true},
		{"refused", []string{"gzip;q=0, *"}, false},
		{"star", []string{"br, *;q=0.1"}, true},
		{"star refused", []string{"*;q=0"}, false},
		{"several headers", []string{"br", "gzip;q=0.5"}, true},
		{"identity", []string{"identity"}, false},
		{"zero with a space", []string{"gzip; q=0.0"}, false},
		{"empty", []string{""}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := AcceptsGzip(tc.in); got != tc.want {
				t.Fatalf("AcceptsGzip(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestETagMatch(t *testing.T) {
	if !ETagMatch(`"x", W/"abc"`, `"abc"`) || ETagMatch(`"x"`, `"abc"`) || !ETagMatch("*", `"abc"`) || GzipETag(`"abc"`) != `"abc-gz"` {
		t.Fatal("validators")
	}
}

func TestServeRendered(t *testing.T) {
	doc := &Rendered{Body: []byte("plain body"), Gzip: []byte("gz"), ContentType: "application/json", ETag: `"abc"`}
	tests := []struct {
		name     string
		method   string
		header   map[string]string
		status   int
		body     string
		etag     string
		encoding string
	}{
		{"plain", "GET", nil, 200, "plain body", `"abc"`, ""},
		{"gzip", "GET", map[string]string{"Accept-Encoding": "gzip"}, 200, "gz", `"abc-gz"`, "gzip"},
		{"head", "HEAD", nil, 200, "", `"abc"`, ""},
		{"not modified", "GET", map[string]string{"If-None-Match": `W/"abc"`}, 304, "", `"abc"`, ""},
		{"not modified in gzip", "GET", map[string]string{"If-None-Match": `"abc-gz"`, "Accept-Encoding": "gzip"}, 304, "", `"abc-gz"`, ""},
		{"changed", "GET", map[string]string{"If-None-Match": `"old"`}, 200, "plain body", `"abc"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := serveContext(tc.method, tc.header)
			if err := ServeRendered(c, doc, "no-cache", "Accept"); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status || rec.Body.String() != tc.body || rec.Header().Get("ETag") != tc.etag ||
				rec.Header().Get("Content-Encoding") != tc.encoding || rec.Header().Get("Vary") != "Accept, Accept-Encoding" {
				t.Fatalf("got %d %q etag=%s enc=%q vary=%q", rec.Code, rec.Body.String(), rec.Header().Get("ETag"), rec.Header().Get("Content-Encoding"), rec.Header().Get("Vary"))
			}
			if tc.status == http.StatusOK && rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
			}
			if tc.method == "GET" && tc.status == http.StatusOK && rec.Header().Get("Content-Length") != strconv.Itoa(len(tc.body)) {
				t.Fatalf("content length %q for %q", rec.Header().Get("Content-Length"), tc.body)
			}
		})
	}
}

// The header values built on a document's first response follow the
// arguments of later calls, and a handler adding to a shared value does
// not change the next response.
func TestServeRenderedPrebuiltHeaders(t *testing.T) {
	doc := &Rendered{Body: []byte("plain body"), ContentType: "text/plain", ETag: `"abc"`}
	serve := func(cacheControl, vary string) http.Header {
		c, rec := serveContext("GET", nil)
		if err := ServeRendered(c, doc, cacheControl, vary); err != nil {
			t.Fatal(err)
		}
		return rec.Header()
	}
	tests := []struct {
		name, cacheControl, vary, wantVary string
	}{
		{"first", "no-cache", "Accept", "Accept"},
		{"other arguments", "max-age=60", "", ""},
		{"back again", "no-cache", "Accept", "Accept"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := serve(tc.cacheControl, tc.vary)
			if h.Get("Cache-Control") != tc.cacheControl || h.Get("Vary") != tc.wantVary {
				t.Fatalf("Cache-Control %q, Vary %q", h.Get("Cache-Control"), h.Get("Vary"))
			}
			h.Add("Vary", "Origin")
			h.Add("Cache-Control", "private")
		})
	}
	if h := serve("no-cache", "Accept"); len(h.Values("Vary")) != 1 || len(h.Values("Cache-Control")) != 1 {
		t.Fatalf("an Add leaked into the next response: %v", h)
	}
}

// serveContext is an echo context for a request with these headers, and
// the recorder of its response.
func serveContext(method string, header map[string]string) (echo.Context, *httptest.ResponseRecorder) {
	req := httptest.NewRequest(method, "/", nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	return echo.New().NewContext(req, rec), rec
}
