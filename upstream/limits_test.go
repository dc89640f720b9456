package upstream_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

func TestMaxConcurrent(t *testing.T) {
	srv := upstreamtest.New(t)
	gate := make(chan struct{})
	var inFlight, peak atomic.Int32
	srv.HandleFunc("/doc", func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "ok")
	})
	cn := testConn(t, srv, upstream.Options{MaxConcurrent: 2})
	const callers = 5
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			resp, err := cn.Get(ctx(t), "doc", upstream.Request{})
			if err == nil {
				_, err = readAll(t, resp)
			}
			errs <- err
		})
	}
	srv.Await(t, "two requests in flight", func() bool { return srv.InFlight() == 2 })
	// Every other caller is queued for a slot, not on its way to the
	// server: had the limit leaked, a third would be in flight instead.
	waitFor(t, "three requests queued", func() bool { return cn.Queued() == callers-2 })
	if n := srv.TotalHits(); n != 2 {
		t.Fatalf("%d requests reached the server while 2 were blocked", n)
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Get: %v", err)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak in flight = %d, want 2", p)
	}
	if n := srv.Hits("/doc"); n != callers {
		t.Errorf("hits = %d, want %d", n, callers)
	}
}

func TestSemaphoreRelease(t *testing.T) {
	tests := []struct {
		name string
		// hold starts a request that occupies the only slot and returns a
		// function that makes it let go.
		hold func(t *testing.T, cn *upstream.Conn, srv *upstreamtest.Server) (letGo func())
	}{
		{
			name: "ctx cancel while waiting for headers",
			hold: func(t *testing.T, cn *upstream.Conn, srv *upstreamtest.Server) func() {
				srv.Fault("/slow", upstreamtest.Fault{Gate: make(chan struct{})}) // never opens
				c, cancel := context.WithCancel(ctx(t))
				done := make(chan error, 1)
				go func() {
					_, err := cn.Get(c, "slow", upstream.Request{})
					done <- err
				}()
				srv.Await(t, "request in flight", func() bool { return srv.InFlight() == 1 })
				return func() {
					cancel()
					if err := <-done; !errors.Is(err, context.Canceled) {
						t.Errorf("cancelled Get error = %v, want context.Canceled", err)
					}
				}
			},
		},
		{
			name: "body closed twice",
			hold: func(t *testing.T, cn *upstream.Conn, srv *upstreamtest.Server) func() {
				resp, err := cn.Get(ctx(t), "doc", upstream.Request{})
				if err != nil {
					t.Fatal(err)
				}
				return func() {
					resp.Body.Close()
					resp.Body.Close() // a second release would panic the semaphore
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := upstreamtest.New(t)
			srv.Handle("/doc", upstreamtest.Response{Body: []byte("x")})
			cn := testConn(t, srv, upstream.Options{MaxConcurrent: 1})
			letGo := tt.hold(t, cn, srv)

			// While held, a second request cannot start.
			c, cancel := context.WithTimeout(ctx(t), 150*time.Millisecond)
			_, err := cn.Get(c, "doc", upstream.Request{})
			cancel()
			if !errors.Is(err, upstream.ErrTimeout) {
				t.Fatalf("Get while the slot is held: %v, want ErrTimeout", err)
			}

			letGo()
			for range 3 {
				resp, err := cn.Get(ctx(t), "doc", upstream.Request{})
				if err != nil {
					t.Fatalf("Get after release: %v", err)
				}
				readAll(t, resp)
			}
		})
	}
}
