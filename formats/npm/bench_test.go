package npm

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// benchServer starts app → npm-store with a fake upstream serving one
// package (formattest.GenerateNPM, as cmd/stockpile-bench's npm-warm
// serves) whose packument is about 150 KB and whose newest tarball is
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
	return startBenchServerOn(b, cfg, log, nil)
}

// startBenchServerOn is startBenchServer on the store open opens (nil:
// Badger).
func startBenchServerOn(b *testing.B, cfg *proxy.Config, log *slog.Logger, open func(testing.TB, *slog.Logger) storage.Store) (in *proxytest.Instance, packument, last string) {
	b.Helper()
	fake := upstreamtest.New(b)
	pkg, err := formattest.GenerateNPM(formattest.NPMOptions{Name: "bench-pkg", Upstream: fake.URL, PackumentSize: 150 << 10, TarballSize: 300 << 10})
	if err != nil {
		b.Fatal(err)
	}
	last = pkg.Version
	fake.Handle(pkg.PackumentPath(), upstreamtest.Response{Body: pkg.Packument, ContentType: "application/json"})
	fake.Handle(pkg.TarballPath(), upstreamtest.Response{Body: pkg.Tarball, ContentType: "application/octet-stream"})

	cfg.Connections = map[string]upstream.Options{"public:npmjs": {URL: fake.URL + "/"}}
	cfg.Domains = []proxy.DomainConfig{{Name: "bench", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"npm-store"}},
		{Name: "npm-store", ExternalConnection: "public:npmjs"},
	}}}
	in = proxytest.Start(b, proxytest.Options{Config: cfg, Formats: []formats.Format{New()}, Log: log, OpenStore: open})
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
