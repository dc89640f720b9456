package upstream_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		fault      upstreamtest.Fault
		opts       upstream.Options
		wantErr    error // nil: success
		wantStatus int
		wantHits   int
		minElapsed time.Duration
		maxElapsed time.Duration
		wantRetry  time.Duration
	}{
		{name: "500 then 200", fault: upstreamtest.Fault{Status: 500, Times: 1}, wantHits: 2, maxElapsed: 2 * time.Second},
		{name: "reset then 200", fault: upstreamtest.Fault{Reset: true, Times: 1}, wantHits: 2, maxElapsed: 2 * time.Second},
		{name: "429 retry-after 1s honoured", fault: upstreamtest.Fault{Status: 429, RetryAfter: "1", Times: 1},
			wantHits: 2, minElapsed: time.Second, maxElapsed: 3 * time.Second},
		{name: "429 retry-after too long fails at once", fault: upstreamtest.Fault{Status: 429, RetryAfter: "3600"},
			wantErr: upstream.ErrUnavailable, wantStatus: 429, wantHits: 1, maxElapsed: 500 * time.Millisecond, wantRetry: time.Hour},
		{name: "503 retry-after date too long", fault: upstreamtest.Fault{Status: 503,
			RetryAfter: time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat)},
			wantErr: upstream.ErrUnavailable, wantStatus: 503, wantHits: 1, maxElapsed: 500 * time.Millisecond},
		{name: "persistent 503", fault: upstreamtest.Fault{Status: 503}, opts: upstream.Options{Retries: 2},
			wantErr: upstream.ErrUnavailable, wantStatus: 503, wantHits: 3, maxElapsed: 3 * time.Second},
		{name: "persistent 429 with short retry-after", fault: upstreamtest.Fault{Status: 429, RetryAfter: "0"},
			opts: upstream.Options{Retries: 1}, wantErr: upstream.ErrUnavailable, wantStatus: 429, wantHits: 2, maxElapsed: time.Second},
		{name: "501 not retried", fault: upstreamtest.Fault{Status: 501}, wantErr: upstream.ErrUnavailable, wantStatus: 501, wantHits: 1},
		{name: "404 not retried", fault: upstreamtest.Fault{Status: 404}, wantErr: upstream.ErrNotFound, wantStatus: 404, wantHits: 1},
		{name: "401 not retried", fault: upstreamtest.Fault{Status: 401}, wantErr: upstream.ErrUnauthorized, wantStatus: 401, wantHits: 1},
		{name: "persistent reset", fault: upstreamtest.Fault{Reset: true}, opts: upstream.Options{Retries: 1},
			wantErr: upstream.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := upstreamtest.New(t)
			srv.Handle("/doc", upstreamtest.Response{Body: []byte("hello")})
			srv.Fault("/doc", tt.fault)
			cn := testConn(t, srv, tt.opts)
			start := time.Now()
			resp, err := cn.Get(ctx(t), "doc", upstream.Request{})
			elapsed := time.Since(start)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if body, err := readAll(t, resp); err != nil || string(body) != "hello" {
					t.Fatalf("body %q, %v", body, err)
				}
			} else {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Get error = %v, want %v", err, tt.wantErr)
				}
				var se *upstream.StatusError
				if !errors.As(err, &se) || se.StatusCode != tt.wantStatus {
					t.Fatalf("Get error = %#v, want StatusError with status %d", err, tt.wantStatus)
				}
				if tt.wantRetry != 0 && se.RetryAfter != tt.wantRetry {
					t.Fatalf("RetryAfter = %s, want %s", se.RetryAfter, tt.wantRetry)
				}
			}
			if tt.wantHits != 0 && srv.Hits("/doc") != tt.wantHits {
				t.Errorf("hits = %d, want %d", srv.Hits("/doc"), tt.wantHits)
			}
			if elapsed < tt.minElapsed || (tt.maxElapsed != 0 && elapsed > tt.maxElapsed) {
				t.Errorf("took %s, want between %s and %s", elapsed, tt.minElapsed, tt.maxElapsed)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name     string
		fault    upstreamtest.Fault
		opts     upstream.Options
		deadline time.Duration // caller's deadline, 0 for none
		inBody   bool          // the error comes from reading the body
		wantHits int
	}{
		{name: "response header timeout", fault: upstreamtest.Fault{Delay: 10 * time.Second},
			opts: upstream.Options{Timeout: 150 * time.Millisecond, Retries: 1}, wantHits: 2},
		{name: "caller deadline", fault: upstreamtest.Fault{Delay: 10 * time.Second},
			deadline: 200 * time.Millisecond, wantHits: 1},
		{name: "idle body", fault: upstreamtest.Fault{Drip: 2 * time.Second},
			opts: upstream.Options{IdleTimeout: 150 * time.Millisecond}, inBody: true, wantHits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := upstreamtest.New(t)
			srv.Handle("/doc", upstreamtest.Response{Body: make([]byte, 100)})
			srv.Fault("/doc", tt.fault)
			cn := testConn(t, srv, tt.opts)
			c := ctx(t)
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				c, cancel = context.WithTimeout(c, tt.deadline)
				defer cancel()
			}
			start := time.Now()
			resp, err := cn.Get(c, "doc", upstream.Request{})
			if tt.inBody {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				_, err = readAll(t, resp)
			}
			if !errors.Is(err, upstream.ErrTimeout) || !errors.Is(err, upstream.ErrUnavailable) {
				t.Fatalf("error = %v, want ErrTimeout and ErrUnavailable", err)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("took %s", el)
			}
			if got := srv.Hits("/doc"); got != tt.wantHits {
				t.Errorf("hits = %d, want %d", got, tt.wantHits)
			}
		})
	}
}

func TestSlowButSteadyBodyIsNotIdle(t *testing.T) {
	srv := upstreamtest.New(t)
	body := make([]byte, 80) // five 16-byte writes
	srv.Handle("/doc", upstreamtest.Response{Body: body})
	srv.Fault("/doc", upstreamtest.Fault{Drip: 60 * time.Millisecond})
	cn := testConn(t, srv, upstream.Options{IdleTimeout: 250 * time.Millisecond})
	resp, err := cn.Get(ctx(t), "doc", upstream.Request{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, resp)
	if err != nil || len(got) != len(body) {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(body))
	}
}

func TestTruncatedBody(t *testing.T) {
	srv := upstreamtest.New(t)
	srv.Handle("/a.tgz", upstreamtest.Response{Body: make([]byte, 1000)})
	srv.Fault("/a.tgz", upstreamtest.Fault{Truncate: 100})
	cn := testConn(t, srv, upstream.Options{})
	resp, err := cn.Get(ctx(t), "a.tgz", upstream.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != 1000 {
		t.Errorf("ContentLength = %d, want the declared 1000", resp.ContentLength)
	}
	got, err := readAll(t, resp)
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("read %d bytes with error %v, want a failure", len(got), err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, upstream.ErrUnavailable) {
		t.Fatalf("error = %v, want io.ErrUnexpectedEOF and ErrUnavailable", err)
	}
}

func TestServerGone(t *testing.T) {
	srv := upstreamtest.New(t)
	srv.Handle("/doc", upstreamtest.Response{Body: []byte("x")})
	cn := testConn(t, srv, upstream.Options{Retries: 1})
	srv.Close()
	_, err := cn.Get(ctx(t), "doc", upstream.Request{})
	var se *upstream.StatusError
	if !errors.Is(err, upstream.ErrUnavailable) || !errors.As(err, &se) || se.StatusCode != 0 {
		t.Fatalf("error = %v, want a StatusError without status wrapping ErrUnavailable", err)
	}
}

func TestOffline(t *testing.T) {
	srv := upstreamtest.New(t)
	srv.Handle("/doc", upstreamtest.Response{Body: []byte("x")})
	cn := testConn(t, srv, upstream.Options{Offline: true})
	tests := []struct {
		name string
		call func() error
	}{
		{"get", func() error { _, err := cn.Get(ctx(t), "doc", upstream.Request{}); return err }},
		{"do", func() error { _, err := cn.Do(ctx(t), http.MethodPost, "doc", nil, nil); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, upstream.ErrUnavailable) {
				t.Fatalf("error = %v, want ErrUnavailable", err)
			}
			if n := srv.TotalHits(); n != 0 {
				t.Fatalf("server saw %d requests", n)
			}
		})
	}
}
