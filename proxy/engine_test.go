package proxy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// startEngine starts app → store (external connection to a fake upstream)
// with the given connection options.
func startEngine(t *testing.T, opts upstream.Options) (*proxytest.Instance, *proxytest.ToyUpstream, string) {
	t.Helper()
	return startEngineWith(t, opts, proxytest.Options{})
}

// startEngineWith is startEngine with the instance's options (its Config and
// Formats are set here).
func startEngineWith(t *testing.T, opts upstream.Options, po proxytest.Options) (*proxytest.Instance, *proxytest.ToyUpstream, string) {
	t.Helper()
	up := proxytest.NewToyUpstream(t)
	opts.URL = up.Fake.URL + "/"
	cfg := proxy.Defaults()
	cfg.Connections = map[string]upstream.Options{"public:crates-io": opts}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"store"}},
		{Name: "store", ExternalConnection: "public:crates-io"},
	}}}
	po.Config, po.Formats = &cfg, []formats.Format{proxytest.Toy{}}
	in := proxytest.Start(t, po)
	return in, up, in.URL + "/acme/cargo/app"
}

func held(t *testing.T, in *proxytest.Instance, repo, pkg, version string) bool {
	t.Helper()
	r, err := in.Server.Registry().Repository("acme", repo)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := in.Server.Resolver().VersionRecord(context.Background(), "acme", r.ID, formats.Package{Format: "cargo", Name: pkg}, version)
	if err != nil {
		t.Fatal(err)
	}
	return rec != nil
}

func TestMetadataCaching(t *testing.T) {
	t.Run("stale on error", func(t *testing.T) {
		clock := proxytest.NewClock()
		in, up, base := startEngineWith(t, upstream.Options{TTL: time.Millisecond, Retries: 1}, proxytest.Options{Clock: clock})
		up.Publish(t, "demo", "1.0.0")
		if code, _ := get(t, base+"/demo"); code != 200 {
			t.Fatalf("warm-up: %d", code)
		}
		up.Fake.Fault("/demo.json", upstreamtest.Fault{Status: 500})
		clock.Advance(5 * time.Millisecond)
		if code, body := get(t, base+"/demo"); code != 200 || body != `{"versions":["1.0.0"],"tags":{"latest":"1.0.0"}}` {
			t.Fatalf("stale: %d %s", code, body)
		}
		_ = in
	})
	t.Run("revalidation with 304", func(t *testing.T) {
		clock := proxytest.NewClock()
		_, up, base := startEngineWith(t, upstream.Options{TTL: time.Millisecond}, proxytest.Options{Clock: clock})
		up.Publish(t, "demo", "1.0.0")
		get(t, base+"/demo")
		clock.Advance(5 * time.Millisecond)
		if code, _ := get(t, base+"/demo"); code != 200 {
			t.Fatalf("revalidated: %d", code)
		}
		if n := up.Fake.Hits("/demo.json"); n != 2 {
			t.Fatalf("upstream hits %d, want 2", n)
		}
		if h := up.Fake.LastHeader("/demo.json"); h.Get("If-None-Match") == "" {
			t.Fatalf("the revalidation sent no If-None-Match: %v", h)
		}
	})
	t.Run("fresh metadata is not refetched", func(t *testing.T) {
		_, up, base := startEngine(t, upstream.Options{TTL: time.Hour})
		up.Publish(t, "demo", "1.0.0")
		for i := 0; i < 3; i++ {
			get(t, base+"/demo")
		}
		if n := up.Fake.Hits("/demo.json"); n != 1 {
			t.Fatalf("upstream hits %d, want 1", n)
		}
	})
	t.Run("negative cache", func(t *testing.T) {
		_, up, base := startEngine(t, upstream.Options{NegativeTTL: time.Hour})
		for i := 0; i < 3; i++ {
			if code, _ := get(t, base+"/ghost"); code != 404 {
				t.Fatalf("missing package: %d", code)
			}
		}
		if n := up.Fake.Hits("/ghost.json"); n != 1 {
			t.Fatalf("upstream hits %d, want 1", n)
		}
	})
	t.Run("a name the upstream lacks is remembered without a write", func(t *testing.T) {
		in, up, base := startEngine(t, upstream.Options{NegativeTTL: time.Hour})
		for i := range 50 {
			if code, _ := get(t, fmt.Sprintf("%s/ghost-%d", base, i%10)); code != 404 {
				t.Fatalf("missing package: %d", code)
			}
		}
		if n := up.Fake.Hits("/ghost-3.json"); n != 1 {
			t.Fatalf("upstream hits %d, want 1", n)
		}
		if n := in.CountRecords(storage.DocumentsPrefix()) + in.CountRecords(storage.RevalidationsPrefix()); n != 0 {
			t.Fatalf("%d records stored for names the upstream lacks, want 0", n)
		}
	})
	t.Run("a name published after its 404 is found when the negative TTL ends", func(t *testing.T) {
		clock := proxytest.NewClock()
		_, up, base := startEngineWith(t, upstream.Options{NegativeTTL: 50 * time.Millisecond}, proxytest.Options{Clock: clock})
		if code, _ := get(t, base+"/late"); code != 404 {
			t.Fatalf("before publishing: %d", code)
		}
		up.Publish(t, "late", "1.0.0")
		clock.Advance(60 * time.Millisecond)
		if code, _ := get(t, base+"/late"); code != 200 {
			t.Fatalf("after publishing: %d", code)
		}
	})
	t.Run("a document the upstream drops is replaced by a stored negative", func(t *testing.T) {
		clock := proxytest.NewClock()
		in, up, base := startEngineWith(t, upstream.Options{TTL: time.Millisecond, NegativeTTL: time.Hour}, proxytest.Options{OnDisk: true, Clock: clock})
		up.Publish(t, "gone", "1.0.0")
		if code, _ := get(t, base+"/gone"); code != 200 {
			t.Fatalf("warm-up: %d", code)
		}
		up.Fake.Fault("/gone.json", upstreamtest.Fault{Status: 404})
		clock.Advance(5 * time.Millisecond)
		if code, _ := get(t, base+"/gone"); code != 404 {
			t.Fatalf("after the upstream dropped it: %d", code)
		}
		hits := up.Fake.Hits("/gone.json")
		in.Restart()
		if code, _ := get(t, base+"/gone"); code != 404 {
			t.Fatalf("after a restart: %d", code)
		}
		if n := up.Fake.Hits("/gone.json"); n != hits {
			t.Fatalf("upstream hits %d after a restart, want %d: the negative was not stored", n, hits)
		}
	})
	t.Run("exact version missing from cached metadata revalidates once", func(t *testing.T) {
		_, up, base := startEngine(t, upstream.Options{TTL: time.Hour})
		up.Publish(t, "demo", "1.0.0")
		get(t, base+"/demo")
		up.Publish(t, "demo", "1.0.0", "2.0.0")
		if code, body := get(t, base+"/demo/2.0.0/demo-2.0.0.txt"); code != 200 || body != "the bytes of demo-2.0.0.txt\n" {
			t.Fatalf("new version: %d %q", code, body)
		}
		if code, _ := get(t, base+"/demo/9.9.9/demo-9.9.9.txt"); code != 404 {
			t.Fatalf("unknown version: %d", code)
		}
	})
}

// startGatedDemo is startEngine with demo 1.0.0 published, whose file the
// upstream holds back until gate is closed.
func startGatedDemo(t *testing.T) (*proxytest.Instance, *proxytest.ToyUpstream, string, chan struct{}) {
	t.Helper()
	in, up, base := startEngine(t, upstream.Options{})
	up.Publish(t, "demo", "1.0.0")
	gate := make(chan struct{})
	up.Fake.Fault("/files/demo-1.0.0.txt", upstreamtest.Fault{Gate: gate})
	return in, up, base, gate
}

func TestConcurrentColdFetchIsOneUpstreamFetch(t *testing.T) {
	in, up, base, gate := startGatedDemo(t)
	const clients = 50
	waits := in.Events.Counts().FetchWaits
	bodies := make([][]byte, clients)
	codes := make([]int, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(base + "/demo/1.0.0/demo-1.0.0.txt")
			if err != nil {
				return
			}
			defer resp.Body.Close()
			codes[i] = resp.StatusCode
			bodies[i], _ = io.ReadAll(resp.Body)
		}()
	}
	// Every client waits on the shared fetch before the upstream answers.
	in.Events.Await(t, "every client waiting on the fetch", func(c proxytest.EventCounts) bool { return c.FetchWaits >= waits+clients })
	close(gate)
	wg.Wait()
	for i := range clients {
		if codes[i] != 200 || !bytes.Equal(bodies[i], []byte("the bytes of demo-1.0.0.txt\n")) {
			t.Fatalf("client %d: %d %q", i, codes[i], bodies[i])
		}
	}
	if n := up.Fake.Hits("/files/demo-1.0.0.txt"); n != 1 {
		t.Fatalf("upstream fetches %d, want 1", n)
	}
	if !held(t, in, "app", "demo", "1.0.0") || !held(t, in, "store", "demo", "1.0.0") {
		t.Fatal("the version was not retained")
	}
}

func TestBadUpstreamBytesAreNeverCommitted(t *testing.T) {
	tests := []struct {
		name  string
		fault upstreamtest.Fault
	}{
		{"truncated body", upstreamtest.Fault{Truncate: 5, Times: 1}},
		{"wrong digest", upstreamtest.Fault{Corrupt: true, Times: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, up, base := startEngine(t, upstream.Options{Retries: 1})
			up.Publish(t, "demo", "1.0.0")
			up.Fake.Fault("/files/demo-1.0.0.txt", tc.fault)
			resp, err := http.Get(base + "/demo/1.0.0/demo-1.0.0.txt")
			if err == nil {
				body, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && rerr == nil {
					t.Fatalf("a bad transfer reached the client whole: %q", body)
				}
			}
			if held(t, in, "app", "demo", "1.0.0") || held(t, in, "store", "demo", "1.0.0") {
				t.Fatal("a bad transfer was recorded")
			}
			// The upstream recovers: the next request fetches and serves good bytes.
			if code, body := get(t, base+"/demo/1.0.0/demo-1.0.0.txt"); code != 200 || body != "the bytes of demo-1.0.0.txt\n" {
				t.Fatalf("after recovery: %d %q", code, body)
			}
		})
	}
}

func TestUpstreamFaultsAreNotNotFound(t *testing.T) {
	tests := []struct {
		name       string
		opts       upstream.Options
		fault      upstreamtest.Fault
		want       int
		retryAfter string
	}{
		{"server error", upstream.Options{Retries: 1}, upstreamtest.Fault{Status: 500}, 502, ""},
		{"throttled for too long", upstream.Options{}, upstreamtest.Fault{Status: 429, RetryAfter: "3600"}, 502, "3600"},
		{"timeout", upstream.Options{Timeout: 100 * time.Millisecond, Retries: 1}, upstreamtest.Fault{Delay: 2 * time.Second}, 504, ""},
		{"connection reset", upstream.Options{Retries: 1}, upstreamtest.Fault{Reset: true}, 502, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, up, base := startEngine(t, tc.opts)
			up.Publish(t, "demo", "1.0.0")
			up.Fake.Fault("/demo.json", tc.fault)
			resp, err := http.Get(base + "/demo")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tc.retryAfter)
			}
		})
	}
	t.Run("throttled briefly then served", func(t *testing.T) {
		_, up, base := startEngine(t, upstream.Options{})
		up.Publish(t, "demo", "1.0.0")
		up.Fake.Fault("/demo.json", upstreamtest.Fault{Status: 429, RetryAfter: "1", Times: 1})
		if code, _ := get(t, base+"/demo"); code != 200 {
			t.Fatalf("status %d, want 200 after the Retry-After wait", code)
		}
	})
}

func TestGracefulShutdownFinishesDownloads(t *testing.T) {
	in, up, base, gate := startGatedDemo(t)
	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/demo/1.0.0/demo-1.0.0.txt")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, string(b), err}
	}()
	up.Fake.Await(t, "the download reaching the upstream", func() bool { return up.Fake.Hits("/files/demo-1.0.0.txt") >= 1 })
	stopped := make(chan struct{})
	go func() { in.Stop(); close(stopped) }()
	in.Events.Await(t, "the shutdown", func(c proxytest.EventCounts) bool { return c.ShutdownsRun == 1 })
	close(gate)
	r := <-done
	<-stopped
	if r.err != nil || r.code != 200 || r.body != "the bytes of demo-1.0.0.txt\n" {
		t.Fatalf("in-flight download during shutdown: %+v", r)
	}
}

// TestWarmAssetFromItsFile downloads an asset too large for the hot
// cache's memory again and again: the cold fetch, the first warm hit (found
// through the records), then hits sent from the blob's file as the hot
// cache remembers it, whole, as a range, and as HEAD.
func TestWarmAssetFromItsFile(t *testing.T) {
	_, up, base := startEngine(t, upstream.Options{})
	body := make([]byte, 1<<20+3)
	for i := range body {
		body[i] = byte(i * 7)
	}
	up.PublishBody(t, "big", "1.0.0", body)
	url := base + "/big/1.0.0/big-1.0.0.txt"
	get := func(method, rangeHdr string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		if rangeHdr != "" {
			req.Header.Set("Range", rangeHdr)
		}
		return proxytest.Do(t, req)
	}
	for i := range 4 {
		if code, _, got := get(http.MethodGet, ""); code != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("download %d: %d, %d bytes (equal %t)", i+1, code, len(got), bytes.Equal(got, body))
		}
	}
	if code, _, got := get(http.MethodGet, "bytes=1048576-"); code != http.StatusPartialContent || !bytes.Equal(got, body[1<<20:]) {
		t.Fatalf("range: %d, %q", code, got)
	}
	code, h, got := get(http.MethodHead, "")
	if code != http.StatusOK || len(got) != 0 || h.Get("Content-Length") != "1048579" {
		t.Fatalf("HEAD: %d, %d bytes of body, Content-Length %q", code, len(got), h.Get("Content-Length"))
	}
	if n := up.Fake.Hits("/files/big-1.0.0.txt"); n != 1 {
		t.Fatalf("upstream fetches %d, want 1", n)
	}
}
