package load

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFetch(t *testing.T) {
	body := strings.Repeat("0123456789", 10_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.Error(w, "no such thing", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Encoding", r.Header.Get("X-Encoding"))
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c := Client(0, false)
	ctx := context.Background()
	got, enc, err := Fetch(ctx, c, srv.URL, nil)
	if err != nil || enc != "" || !bytes.Equal(got, []byte(body)) {
		t.Errorf("%d bytes, encoding %q, %v", len(got), enc, err)
	}
	got, enc, err = Fetch(ctx, c, srv.URL, http.Header{"X-Encoding": {"gzip"}})
	if err != nil || enc != "gzip" || !bytes.Equal(got, []byte(body)) {
		t.Errorf("%d bytes, encoding %q, %v: want the body as sent, and its encoding", len(got), enc, err)
	}
	var se *StatusError
	if _, _, err := Fetch(ctx, c, srv.URL+"/missing", nil); !errors.As(err, &se) || se.Status != 404 || !strings.Contains(se.Snippet, "no such thing") {
		t.Errorf("404: %v", err)
	}
}

func TestRunMix(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", len(r.URL.Path))))
	}))
	t.Cleanup(srv.Close)
	a, b := Request{URL: srv.URL + "/a", Want: Expect{Bytes: 2}}, Request{URL: srv.URL + "/bbb", Want: Expect{Bytes: 4}}
	res, err := Run(context.Background(), Config{Connections: 2, Requests: 200, Seed: 3}, a, b)
	if err != nil || res.OK != 200 || res.Errors.Total() != 0 || res.Bytes <= 400 || res.Bytes >= 800 {
		t.Errorf("%+v, %v: want 200 right answers of both lengths", res, err)
	}
	b.Want.Bytes = 2
	res, err = Run(context.Background(), Config{Connections: 1, Requests: 100}, a, b)
	if err != nil || res.OK == 0 || res.Errors.Short == 0 {
		t.Errorf("%+v, %v: want the long answers counted short", res, err)
	}
	if _, err := Run(context.Background(), Config{Connections: 1, Requests: 1}); err == nil {
		t.Error("a run without requests accepted")
	}
}
