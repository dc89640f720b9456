package upstream_test

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

func TestRedirectCredentials(t *testing.T) {
	tests := []struct {
		name     string
		opts     upstream.Options
		header   http.Header // caller's extra headers
		wantAuth string
	}{
		{name: "basic", opts: upstream.Options{Username: "alice", Password: "s3cret"},
			wantAuth: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))},
		{name: "bearer", opts: upstream.Options{Token: "tok-123"}, wantAuth: "Bearer tok-123"},
		{name: "caller header", header: http.Header{"Authorization": {"Bearer from-caller"}}, wantAuth: "Bearer from-caller"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			index := upstreamtest.New(t)
			files := upstreamtest.New(t) // another port: another origin
			files.Handle("/files/demo-1.0.tar.gz", upstreamtest.Response{Body: []byte("tarball")})
			index.HandleFunc("/demo-1.0.tar.gz", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, files.URL+"/files/demo-1.0.tar.gz", http.StatusFound)
			})
			opts := tt.opts
			opts.AllowedHosts = []string{strings.TrimPrefix(files.URL, "http://")}
			cn := testConn(t, index, opts)
			resp, err := cn.Get(ctx(t), "demo-1.0.tar.gz", upstream.Request{Header: tt.header})
			if err != nil {
				t.Fatal(err)
			}
			if body, err := readAll(t, resp); err != nil || string(body) != "tarball" {
				t.Fatalf("body %q, %v", body, err)
			}
			if resp.URL != files.URL+"/files/demo-1.0.tar.gz" {
				t.Errorf("final URL = %q", resp.URL)
			}
			if got := index.LastHeader("/demo-1.0.tar.gz").Get("Authorization"); got != tt.wantAuth {
				t.Errorf("own host got Authorization %q, want %q", got, tt.wantAuth)
			}
			if got := files.LastHeader("/files/demo-1.0.tar.gz").Get("Authorization"); got != "" {
				t.Errorf("redirect target got Authorization %q", got)
			}
		})
	}
}

func TestRedirectLoop(t *testing.T) {
	srv := upstreamtest.New(t)
	srv.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	cn := testConn(t, srv, upstream.Options{})
	_, err := cn.Get(ctx(t), "loop", upstream.Request{})
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Fatalf("error = %v, want ErrUnavailable", err)
	}
	if n := srv.Hits("/loop"); n != 11 {
		t.Fatalf("hits = %d, want 11 (one request, ten redirects, no retry)", n)
	}
}

func TestCredentialsNeverInErrorsOrLogs(t *testing.T) {
	const user, pass = "alice", "pa55w0rd-zz9"
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	srv := upstreamtest.New(t)
	// A hostile upstream that echoes the Authorization header in its errors.
	echo := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			w.Write([]byte("you sent " + r.Header.Get("Authorization") + " decoded " + pass))
		}
	}
	srv.HandleFunc("/401", echo(401))
	srv.HandleFunc("/500", echo(500))
	srv.Fault("/reset", upstreamtest.Fault{Reset: true})
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cn := testConnLog(t, srv, upstream.Options{Username: user, Password: pass, Retries: 1}, log)
	for _, ref := range []string{"401", "500", "reset", "missing"} {
		t.Run(ref, func(t *testing.T) {
			_, err := cn.Get(ctx(t), ref, upstream.Request{})
			if err == nil {
				t.Fatal("Get succeeded")
			}
			for _, secret := range []string{pass, basic} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q contains a credential", err)
				}
			}
		})
	}
	if logs.String() == "" {
		t.Fatal("no debug logs captured")
	}
	if !strings.Contains(logs.String(), "upstream=public:pypi") {
		t.Errorf("logs are not scoped to the connection:\n%s", logs)
	}
	for _, secret := range []string{pass, basic} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("logs contain a credential:\n%s", logs)
		}
	}
}
