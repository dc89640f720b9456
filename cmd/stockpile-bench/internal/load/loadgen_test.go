package load

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// body is what the test server sends.
var testBody = []byte(strings.Repeat("stockpile", 1000))

func newCountingServer(t *testing.T, h func(n int64, w http.ResponseWriter)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(hits.Add(1), w)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestLoadCountsRequests(t *testing.T) {
	srv, hits := newCountingServer(t, func(_ int64, w http.ResponseWriter) { w.Write(testBody) })
	cfg := Config{Connections: 4, Requests: 200}
	res, err := Run(context.Background(), cfg, Request{URL: srv.URL, Want: Expect{Status: 200, Bytes: int64(len(testBody))}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 200 || res.OK != 200 || res.Errors.Total() != 0 {
		t.Errorf("got %d requests, %d ok, %d errors; want 200, 200, 0", res.Requests, res.OK, res.Errors.Total())
	}
	if got := hits.Load(); got != 200 {
		t.Errorf("server saw %d requests, want 200", got)
	}
	if res.Bytes != 200*uint64(len(testBody)) {
		t.Errorf("got %d bytes, want %d", res.Bytes, 200*len(testBody))
	}
	if res.Latency.total != 200 || res.Elapsed <= 0 || res.RequestsPerSecond() <= 0 {
		t.Errorf("latency count %d, elapsed %s, rps %f: want 200 and positive numbers", res.Latency.total, res.Elapsed, res.RequestsPerSecond())
	}
}

func TestLoadWarmupIsNotMeasured(t *testing.T) {
	srv, hits := newCountingServer(t, func(_ int64, w http.ResponseWriter) { w.Write(testBody) })
	cfg := Config{Connections: 2, Requests: 50, Warmup: 100 * time.Millisecond}
	res, err := Run(context.Background(), cfg, Request{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 50 {
		t.Errorf("measured %d requests, want 50", res.Requests)
	}
	if got := hits.Load(); got <= 50 {
		t.Errorf("server saw %d requests, want the warm-up's on top of the 50 measured", got)
	}
}

func TestLoadDuration(t *testing.T) {
	srv, _ := newCountingServer(t, func(_ int64, w http.ResponseWriter) { w.Write(testBody) })
	cfg := Config{Connections: 2, Duration: 300 * time.Millisecond}
	t0 := time.Now()
	res, err := Run(context.Background(), cfg, Request{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("a 300ms run took %s", took)
	}
	if res.OK == 0 || res.Elapsed < 250*time.Millisecond || res.Elapsed > 2*time.Second {
		t.Errorf("got %d ok in %s; want some, in about 300ms", res.OK, res.Elapsed)
	}
}

// A known latency distribution: every tenth request takes 40ms, the others
// answer at once, so p50 is fast and p99 is at least 40ms.
func TestLoadPercentilesOfKnownDistribution(t *testing.T) {
	const slow = 40 * time.Millisecond
	srv, _ := newCountingServer(t, func(n int64, w http.ResponseWriter) {
		if n%10 == 0 {
			time.Sleep(slow) // the latency the percentiles must measure
		}
		w.Write(testBody)
	})
	cfg := Config{Connections: 1, Requests: 100}
	res, err := Run(context.Background(), cfg, Request{URL: srv.URL, Want: Expect{Bytes: int64(len(testBody))}})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Latency
	if h.total != 100 {
		t.Fatalf("recorded %d latencies, want 100", h.total)
	}
	if p50 := h.Percentile(50); p50 >= slow/2 {
		t.Errorf("p50 = %s, want well under %s", p50, slow)
	}
	if p80 := h.Percentile(80); p80 >= slow/2 {
		t.Errorf("p80 = %s, want well under %s (90 %% of requests are fast)", p80, slow)
	}
	if p99 := h.Percentile(99); p99 < slow {
		t.Errorf("p99 = %s, want at least %s", p99, slow)
	}
	if p91 := h.Percentile(91); p91 < slow {
		t.Errorf("p91 = %s, want at least %s (10 %% of requests are slow)", p91, slow)
	}
	if h.Max() < slow || h.Max() > 10*slow {
		t.Errorf("max = %s, want about %s", h.Max(), slow)
	}
}

func TestLoadCountsErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler func(n int64, w http.ResponseWriter)
		want    Expect
		check   func(ErrorCounts) bool
	}{
		{
			name: "every other request is a 500",
			handler: func(n int64, w http.ResponseWriter) {
				if n%2 == 0 {
					http.Error(w, "boom", http.StatusInternalServerError)
					return
				}
				w.Write(testBody)
			},
			want:  Expect{Status: 200},
			check: func(e ErrorCounts) bool { return e.Status == 50 && e.Total() == 50 },
		},
		{
			name: "a 500 is an error even without an expected status",
			handler: func(n int64, w http.ResponseWriter) {
				http.Error(w, "boom", http.StatusInternalServerError)
			},
			check: func(e ErrorCounts) bool { return e.Status == 100 },
		},
		{
			name: "body shorter than its Content-Length",
			handler: func(n int64, w http.ResponseWriter) {
				w.Header().Set("Content-Length", strconv.Itoa(len(testBody)))
				w.Write(testBody[:len(testBody)/2])
			},
			check: func(e ErrorCounts) bool { return e.Short == 100 },
		},
		{
			name: "body shorter than expected",
			handler: func(n int64, w http.ResponseWriter) {
				w.Write(testBody[:len(testBody)-1])
			},
			want:  Expect{Bytes: int64(len(testBody))},
			check: func(e ErrorCounts) bool { return e.Short == 100 },
		},
		{
			name:    "wrong bytes",
			handler: func(n int64, w http.ResponseWriter) { w.Write(testBody) },
			want:    Expect{Maphash: 1},
			check:   func(e ErrorCounts) bool { return e.Digest == 100 },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := newCountingServer(t, tc.handler)
			res, err := Run(context.Background(), Config{Connections: 2, Requests: 100}, Request{URL: srv.URL, Want: tc.want})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(res.Errors) {
				t.Errorf("errors %+v (ok %d): not what the case expects", res.Errors, res.OK)
			}
			if res.Requests != 100 {
				t.Errorf("got %d requests, want 100", res.Requests)
			}
			if res.Latency.total != res.OK {
				t.Errorf("recorded %d latencies for %d successes; errors must not be recorded", res.Latency.total, res.OK)
			}
		})
	}
}

func TestLoadRightBytes(t *testing.T) {
	srv, _ := newCountingServer(t, func(_ int64, w http.ResponseWriter) { w.Write(testBody) })
	sum := NewMaphash()
	sum.Write(testBody)
	cfg := Config{Connections: 20, Requests: 20, PerConnection: 1}
	res, err := Run(context.Background(), cfg, Request{URL: srv.URL, Want: Expect{Status: 200, Bytes: int64(len(testBody)), Maphash: sum.Sum64()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 20 || res.Errors.Total() != 0 {
		t.Errorf("got %d ok, errors %+v; want 20 ok", res.OK, res.Errors)
	}
}

// TestLoadPickAndBodyChecks has Pick choose every request: its Expect's
// maphash and Contains must pass on the right body and fail, as a digest
// error, on a wrong one; the mean time to headers is kept.
func TestLoadPickAndBodyChecks(t *testing.T) {
	srv, _ := newCountingServer(t, func(_ int64, w http.ResponseWriter) { w.Write(testBody) })
	h := NewMaphash()
	h.Write(testBody)
	right, wrong := h.Sum64(), h.Sum64()+1
	for _, tc := range []struct {
		name   string
		want   Expect
		digest uint64
	}{
		{"right maphash", Expect{Maphash: right}, 0},
		{"wrong maphash", Expect{Maphash: wrong}, 10},
		{"contains", Expect{Contains: []byte("pilesto")}, 0},
		{"does not contain", Expect{Contains: []byte("npm")}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var picks atomic.Int64
			pick := func(conn int, _ *rand.Rand) Request {
				picks.Add(1)
				return Request{URL: srv.URL + "/" + strconv.Itoa(conn), Want: tc.want}
			}
			res, err := Run(context.Background(), Config{Connections: 2, Requests: 10, Pick: pick})
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors.Digest != tc.digest || res.Requests != 10 || picks.Load() != 10 {
				t.Errorf("%d requests, %d picks, errors %+v; want 10, 10 and %d digest errors", res.Requests, picks.Load(), res.Errors, tc.digest)
			}
			if res.OK > 0 && (res.TTFB <= 0 || res.TTFB > res.Latency.Max()) {
				t.Errorf("mean time to headers %s, slowest request %s", res.TTFB, res.Latency.Max())
			}
		})
	}
}

func TestLoadRefusesRemoteAndUnbounded(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		req  Request
	}{
		{"remote host", Config{Connections: 1, Requests: 1}, Request{URL: "http://192.0.2.1/x"}},
		{"remote name", Config{Connections: 1, Requests: 1}, Request{URL: "http://example.com/x"}},
		{"too many connections", Config{Connections: MaxConnections + 1, Requests: 1}, Request{URL: "http://127.0.0.1:1/"}},
		{"too long", Config{Connections: 1, Duration: MaxDuration + time.Second}, Request{URL: "http://127.0.0.1:1/"}},
		{"no duration", Config{Connections: 1}, Request{URL: "http://127.0.0.1:1/"}},
		{"too much warm-up", Config{Connections: 1, Requests: 1, Warmup: time.Hour}, Request{URL: "http://127.0.0.1:1/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(context.Background(), tc.cfg, tc.req); err == nil {
				t.Error("Run accepted it")
			}
		})
	}
	for _, u := range []string{"ftp://127.0.0.1/x", "127.0.0.1:8080/x", "http:///x", "http://[::1/"} {
		if err := CheckLoopback(u, true); err == nil {
			t.Errorf("CheckLoopback(%s) accepted it", u)
		}
	}
	if err := CheckLoopback("http://192.0.2.1/x", false); !errors.Is(err, ErrRemote) {
		t.Errorf("CheckLoopback(remote) = %v, want ErrRemote", err)
	}
	for _, u := range []string{"http://127.0.0.1:80/", "http://localhost/", "http://[::1]:8080/", "http://192.0.2.1/"} {
		if err := CheckLoopback(u, u == "http://192.0.2.1/"); err != nil {
			t.Errorf("CheckLoopback(%s) = %v, want nil", u, err)
		}
	}
}

func TestLoadStopsOnCancel(t *testing.T) {
	srv, _ := newCountingServer(t, func(_ int64, w http.ResponseWriter) {
		time.Sleep(10 * time.Millisecond) // a slow server, so that requests are in flight at the cancel
		w.Write(testBody)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := Run(ctx, Config{Connections: 2, Duration: time.Minute}, Request{URL: srv.URL})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's", err)
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("cancelled run took %s", took)
	}
}
