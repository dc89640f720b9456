package npm

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// benchServer starts app → npm-store with a fake upstream serving one
// package whose packument is about 160 KB and whose newest tarball is
// 300 KB, and warms both paths once.
func benchServer(b *testing.B) (packument, tarball string) {
	b.Helper()
	cfg := proxy.Defaults()
	_, packument, last := startBenchServer(b, &cfg, nil)
	tarball = packument + "/-/bench-pkg-" + last + ".tgz"
	for _, u := range []string{packument, tarball} {
		n, err := benchGet(http.DefaultClient, u, "")
		if err != nil {
			b.Fatalf("warm-up %s: %v", u, err)
		}
		b.Logf("%s: %d bytes", u[strings.LastIndex(u, "/")+1:], n)
	}
	return packument, tarball
}

// startBenchServer starts cfg (its connections and domains set here) with
// log over the fake upstream and warms the packument in both of its
// representations (twice: the engine keeps a document from its second
// rendering on). It returns the packument's URL and the newest version.
func startBenchServer(b *testing.B, cfg *proxy.Config, log *slog.Logger) (in *proxytest.Instance, packument, last string) {
	b.Helper()
	fake := upstreamtest.New(b)
	tgz := make([]byte, 300<<10)
	rand.Read(tgz)
	s512 := sha512.Sum512(tgz)
	s1 := sha1.Sum(tgz)
	versions := map[string]any{}
	times := map[string]any{}
	for i := 0; len(mustJSON(versions)) < 150<<10; i++ {
		v := fmt.Sprintf("1.0.%d", i)
		versions[v] = map[string]any{
			"name": "bench-pkg", "version": v, "description": "a package for benchmarks",
			"main": "index.js", "license": "MIT", "dependencies": map[string]string{"left-pad": "^1.3.0"},
			"repository": map[string]string{"type": "git", "url": "git+https://example.test/bench-pkg.git"},
			"_id":        "bench-pkg@" + v,
			"dist": map[string]any{
				"tarball":   fake.URL + "/bench-pkg/-/bench-pkg-" + v + ".tgz",
				"integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"shasum":    hex.EncodeToString(s1[:]),
			},
		}
		times[v] = "2026-01-01T00:00:00.000Z"
		last = v
	}

	doc := map[string]any{"_id": "bench-pkg", "name": "bench-pkg", "dist-tags": map[string]string{"latest": last},
		"versions": versions, "time": times, "readme": strings.Repeat("A readme line.\n", 200)}
	fake.Handle("/bench-pkg", upstreamtest.Response{Body: mustJSON(doc), ContentType: "application/json"})
	fake.Handle("/bench-pkg/-/bench-pkg-"+last+".tgz", upstreamtest.Response{Body: tgz, ContentType: "application/octet-stream"})

	cfg.Connections = map[string]upstream.Options{"public:npmjs": {URL: fake.URL + "/"}}
	cfg.Domains = []proxy.DomainConfig{{Name: "bench", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"npm-store"}},
		{Name: "npm-store", ExternalConnection: "public:npmjs"},
	}}}
	in = proxytest.Start(b, proxytest.Options{Config: cfg, Formats: []formats.Format{New()}, Log: log})
	packument = in.URL + "/bench/npm/app/bench-pkg"
	tok := ""
	if !cfg.Open() {
		tok = in.Token("bench")
	}
	for range 2 {
		for _, accept := range []string{"application/json", "application/vnd.npm.install-v1+json"} {
			if _, err := benchGetAs(http.DefaultClient, packument, accept, tok); err != nil {
				b.Fatalf("warm-up %s: %v", accept, err)
			}
		}
	}
	return in, packument, last
}

func benchGet(c *http.Client, url, token string) (int64, error) {
	return benchGetAs(c, url, "application/json", token)
}

func benchGetAs(c *http.Client, url, accept, token string) (int64, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", accept)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return n, err
}

// BenchmarkWarm measures the warm packument and tarball paths over HTTP on
// loopback, clients in parallel (go test -bench Warm -run '^$' ./formats/npm).
func BenchmarkWarm(b *testing.B) {
	packument, tarball := benchServer(b)
	for _, tc := range []struct{ name, url string }{{"packument", packument}, {"tarball", tarball}} {
		b.Run(tc.name, func(b *testing.B) {
			n, err := benchGet(http.DefaultClient, tc.url, "")
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(n)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				c := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
				for pb.Next() {
					if _, err := benchGet(c, tc.url, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
