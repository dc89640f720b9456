package load

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	body := strings.Repeat("0123456789", 10_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.Error(w, "no such thing", http.StatusNotFound)
			return
		}
		w.Write([]byte(body + r.Header.Get("X-Tail")))
	}))
	t.Cleanup(srv.Close)
	c := Client(0, false)
	ctx := context.Background()
	t.Run("into a fixed buffer", func(t *testing.T) {
		fb := &FixedBuffer{Buf: make([]byte, len(body))}
		r, err := Get(ctx, c, srv.URL, nil, fb, nil)
		if err != nil || r.Status != 200 || r.Bytes != int64(len(body)) || string(fb.Bytes()) != body || r.Total < r.TTFB {
			t.Errorf("%+v, %v: want the whole body in the buffer", r, err)
		}
		fb = &FixedBuffer{Buf: make([]byte, len(body))}
		if _, err := Get(ctx, c, srv.URL, http.Header{"X-Tail": {"!"}}, fb, nil); err == nil || !strings.Contains(err.Error(), "larger") {
			t.Errorf("a body one byte too long: %v", err)
		}
	})
	t.Run("through a buffer into a hash", func(t *testing.T) {
		h := crc32.NewIEEE()
		r, err := Get(ctx, c, srv.URL, nil, h, make([]byte, 1000))
		if err != nil || r.Bytes != int64(len(body)) || h.Sum32() != crc32.ChecksumIEEE([]byte(body)) {
			t.Errorf("%+v, %v: wrong bytes hashed", r, err)
		}
	})
	t.Run("fetch", func(t *testing.T) {
		got, err := Fetch(ctx, c, srv.URL, nil)
		if err != nil || !bytes.Equal(got, []byte(body)) {
			t.Errorf("%d bytes, %v", len(got), err)
		}
		var se *StatusError
		if _, err := Fetch(ctx, c, srv.URL+"/missing", nil); !errors.As(err, &se) || se.Status != 404 || !strings.Contains(se.Snippet, "no such thing") {
			t.Errorf("404: %v", err)
		}
	})
}

func TestRunMix(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", len(r.URL.Path))))
	}))
	t.Cleanup(srv.Close)
	reqs := []Request{{URL: srv.URL + "/a"}, {URL: srv.URL + "/bbb"}}
	res, err := RunMix(context.Background(), Config{Connections: 2, Requests: 200, Seed: 3}, reqs, []Expect{{Bytes: 2}, {Bytes: 4}})
	if err != nil || res.OK != 200 || res.Errors.Total() != 0 || res.Bytes <= 400 || res.Bytes >= 800 {
		t.Errorf("%+v, %v: want 200 right answers of both lengths", res, err)
	}
	res, err = RunMix(context.Background(), Config{Connections: 1, Requests: 100}, reqs, []Expect{{Bytes: 2}, {Bytes: 2}})
	if err != nil || res.OK == 0 || res.Errors.Short == 0 {
		t.Errorf("%+v, %v: want the long answers counted short", res, err)
	}
	if _, err := RunMix(context.Background(), Config{Connections: 1, Requests: 1}, reqs, nil); err == nil {
		t.Error("requests without expectations accepted")
	}
}
