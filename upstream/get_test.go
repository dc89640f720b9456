package upstream_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

func TestGetStatusMapping(t *testing.T) {
	srv := upstreamtest.New(t)
	doc := []byte(`{"name":"demo"}`)
	srv.Handle("/ok", upstreamtest.Response{Body: doc, ContentType: "application/json"})
	etag := func() string {
		r, err := http.Get(srv.URL + "/ok")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.Header.Get("ETag")
	}()
	for _, code := range []int{401, 403, 404, 410, 400, 500, 501, 502, 504} {
		srv.Handle("/status/"+http.StatusText(code), upstreamtest.Response{Status: code, Body: []byte("nope")})
	}
	cn := testConn(t, srv, upstream.Options{Retries: 1})
	tests := []struct {
		name         string
		ref          string
		req          upstream.Request
		wantBody     string
		wantNotMod   bool
		wantErr      error // nil: success
		wantStatus   int   // of the StatusError
		wantNoSentry bool  // StatusError that wraps no sentinel
	}{
		{name: "200", ref: "ok", wantBody: string(doc)},
		{name: "304 by etag", ref: "ok", req: upstream.Request{IfNoneMatch: etag}, wantNotMod: true},
		{name: "200 with stale etag", ref: "ok", req: upstream.Request{IfNoneMatch: `"other"`}, wantBody: string(doc)},
		{name: "404 unknown", ref: "missing", wantErr: upstream.ErrNotFound, wantStatus: 404},
		{name: "410", ref: "status/Gone", wantErr: upstream.ErrNotFound, wantStatus: 410},
		{name: "401", ref: "status/Unauthorized", wantErr: upstream.ErrUnauthorized, wantStatus: 401},
		{name: "403", ref: "status/Forbidden", wantErr: upstream.ErrUnauthorized, wantStatus: 403},
		{name: "500", ref: "status/Internal Server Error", wantErr: upstream.ErrUnavailable, wantStatus: 500},
		{name: "501", ref: "status/Not Implemented", wantErr: upstream.ErrUnavailable, wantStatus: 501},
		{name: "502", ref: "status/Bad Gateway", wantErr: upstream.ErrUnavailable, wantStatus: 502},
		{name: "504 is a timeout", ref: "status/Gateway Timeout", wantErr: upstream.ErrTimeout, wantStatus: 504},
		{name: "400", ref: "status/Bad Request", wantStatus: 400, wantNoSentry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := cn.Get(ctx(t), tt.ref, tt.req)
			if tt.wantErr == nil && !tt.wantNoSentry {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				body, err := readAll(t, resp)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if resp.NotModified != tt.wantNotMod || string(body) != tt.wantBody {
					t.Fatalf("NotModified=%v body=%q; want %v %q", resp.NotModified, body, tt.wantNotMod, tt.wantBody)
				}
				wantCode := 200
				if tt.wantNotMod {
					wantCode = 304
				}
				if resp.StatusCode != wantCode || resp.URL != srv.URL+"/ok" {
					t.Fatalf("StatusCode=%d URL=%q", resp.StatusCode, resp.URL)
				}
				return
			}
			var se *upstream.StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.wantStatus {
				t.Fatalf("Get error = %v, want StatusError %d", err, tt.wantStatus)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get error = %v, want errors.Is %v", err, tt.wantErr)
			}
			if tt.wantNoSentry {
				for _, s := range []error{upstream.ErrNotFound, upstream.ErrUnauthorized, upstream.ErrUnavailable} {
					if errors.Is(err, s) {
						t.Fatalf("Get error %v matches %v", err, s)
					}
				}
			}
		})
	}
}

func TestGetIfModifiedSince(t *testing.T) {
	srv := upstreamtest.New(t)
	lm := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Format(http.TimeFormat)
	srv.Handle("/doc", upstreamtest.Response{Body: []byte("x"), Header: http.Header{"Last-Modified": {lm}}})
	cn := testConn(t, srv, upstream.Options{})
	resp, err := cn.Get(ctx(t), "doc", upstream.Request{IfModifiedSince: lm})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !resp.NotModified || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("NotModified=%v status=%d, want a 304", resp.NotModified, resp.StatusCode)
	}
}

func TestGetSendsHeaders(t *testing.T) {
	srv := upstreamtest.New(t)
	srv.Handle("/doc", upstreamtest.Response{Body: []byte("x")})
	cn := testConn(t, srv, upstream.Options{})
	resp, err := cn.Get(ctx(t), "doc", upstream.Request{
		Accept: "application/vnd.pypi.simple.v1+json",
		Header: http.Header{"x-npm-session": {"abc"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	h := srv.LastHeader("/doc")
	got := []string{h.Get("Accept"), h.Get("X-Npm-Session"), h.Get("Accept-Encoding"), h.Get("Authorization")}
	want := []string{"application/vnd.pypi.simple.v1+json", "abc", "identity", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("headers (-want +got):\n%s", diff)
	}
}

func TestGzip(t *testing.T) {
	plain := []byte(strings.Repeat(`{"versions":{}}`, 50))
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	zw.Write(plain)
	zw.Close()
	gz := zbuf.Bytes()

	srv := upstreamtest.New(t)
	// The upstream compresses whatever is asked: a misbehaving file host.
	srv.Handle("/pkg", upstreamtest.Response{Body: gz, Header: http.Header{"Content-Encoding": {"gzip"}}})
	cn := testConn(t, srv, upstream.Options{})
	tests := []struct {
		name         string
		document     bool
		wantBody     []byte
		wantEncoding string
		wantAccept   string
		wantLength   int64
	}{
		{name: "document decompressed", document: true, wantBody: plain, wantAccept: "gzip", wantLength: -1},
		{name: "artifact byte-exact", document: false, wantBody: gz, wantEncoding: "gzip", wantAccept: "identity", wantLength: int64(len(gz))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := cn.Get(ctx(t), "pkg", upstream.Request{Document: tt.document})
			if err != nil {
				t.Fatal(err)
			}
			body, err := readAll(t, resp)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, tt.wantBody) {
				t.Fatalf("body differs: got %d bytes, want %d", len(body), len(tt.wantBody))
			}
			if got := resp.Header.Get("Content-Encoding"); got != tt.wantEncoding {
				t.Errorf("Content-Encoding = %q, want %q", got, tt.wantEncoding)
			}
			if resp.ContentLength != tt.wantLength {
				t.Errorf("ContentLength = %d, want %d", resp.ContentLength, tt.wantLength)
			}
			if got := srv.LastHeader("/pkg").Get("Accept-Encoding"); got != tt.wantAccept {
				t.Errorf("Accept-Encoding sent = %q, want %q", got, tt.wantAccept)
			}
		})
	}
}

func TestCorruptGzipDocument(t *testing.T) {
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	zw.Write(bytes.Repeat([]byte("abcdefgh"), 1000))
	zw.Close()
	srv := upstreamtest.New(t)
	srv.Handle("/pkg", upstreamtest.Response{Body: zbuf.Bytes(), Header: http.Header{"Content-Encoding": {"gzip"}}})
	srv.Fault("/pkg", upstreamtest.Fault{Corrupt: true})
	cn := testConn(t, srv, upstream.Options{})
	resp, err := cn.Get(ctx(t), "pkg", upstream.Request{Document: true})
	if err == nil {
		_, err = readAll(t, resp)
	}
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Fatalf("error = %v, want ErrUnavailable", err)
	}
}

func TestErrorMessage(t *testing.T) {
	srv := upstreamtest.New(t)
	srv.Handle("/long", upstreamtest.Response{Status: 418, Body: []byte(strings.Repeat("teapot\n", 1000))})
	srv.Fault("/busy", upstreamtest.Fault{Status: 503})
	cn := testConn(t, srv, upstream.Options{Retries: 1})
	tests := []struct {
		name, ref, want string
		maxLen          int
	}{
		{name: "status and body", ref: "busy",
			want: "upstream public:pypi: GET " + srv.URL + `/busy: 503 Service Unavailable: {"error":"Service Unavailable"}`},
		{name: "long body trimmed", ref: "long",
			want: "upstream public:pypi: GET " + srv.URL + "/long: 418 I'm a teapot: teapot teapot", maxLen: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cn.Get(ctx(t), tt.ref, upstream.Request{})
			if err == nil {
				t.Fatal("Get succeeded")
			}
			msg := err.Error()
			if tt.maxLen == 0 && msg != tt.want {
				t.Fatalf("message = %q\nwant      %q", msg, tt.want)
			}
			if tt.maxLen > 0 && (!strings.HasPrefix(msg, tt.want) || len(msg) > tt.maxLen) {
				t.Fatalf("message = %q (%d bytes), want prefix %q and at most %d bytes", msg, len(msg), tt.want, tt.maxLen)
			}
		})
	}
}

func TestDo(t *testing.T) {
	srv := upstreamtest.New(t)
	srv.HandleFunc("/-/npm/v1/security/audits/quick", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"bad"}`)
	})
	srv.Fault("/flaky", upstreamtest.Fault{Status: 500})
	cn := testConn(t, srv, upstream.Options{Retries: 2})
	tests := []struct {
		name, method, ref, path string
		body                    io.Reader
		wantStatus, wantHits    int
	}{
		{name: "post passes status through", method: http.MethodPost, ref: "/-/npm/v1/security/audits/quick",
			path: "/-/npm/v1/security/audits/quick", body: strings.NewReader(`{"name":"x"}`), wantStatus: 400, wantHits: 1},
		{name: "post not retried", method: http.MethodPost, ref: "flaky", path: "/flaky", body: strings.NewReader("{}"),
			wantStatus: 500, wantHits: 1},
		{name: "get retried", method: http.MethodGet, ref: "flaky", path: "/flaky", wantStatus: 500, wantHits: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetHits()
			resp, err := cn.Do(ctx(t), tt.method, tt.ref, http.Header{"Content-Type": {"application/json"}}, tt.body)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || srv.Hits(tt.path) != tt.wantHits {
				t.Fatalf("status %d after %d hits, want %d after %d", resp.StatusCode, srv.Hits(tt.path), tt.wantStatus, tt.wantHits)
			}
			if tt.method == http.MethodPost {
				reqs := srv.Requests(tt.path)
				if got := string(reqs[len(reqs)-1].Body); got == "" {
					t.Fatalf("request body not received")
				}
			}
		})
	}
}
