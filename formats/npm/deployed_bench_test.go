package npm

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/logbuf"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/storage"
)

// discardWriter is the cheapest http.ResponseWriter: its header map is
// cleared, not reallocated, between requests, so a benchmark counts the
// server's work and net/http's share of it only.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// BenchmarkWarmDeployed measures one warm hit as deployed: access keys,
// a Bearer token on every request and the access log at info written to a
// file, the handler called directly so that the figure is the server's
// CPU time per hit without the client's and the network's (go test -bench
// WarmDeployed -run '^$' -count 6 ./formats/npm; -cpuprofile for pprof).
func BenchmarkWarmDeployed(b *testing.B) { benchWarmDeployed(b, nil) }

// BenchmarkWarmDeployedReplica is BenchmarkWarmDeployed on a replica's
// store: PostgreSQL and SeaweedFS, the blob served from the local cache.
func BenchmarkWarmDeployedReplica(b *testing.B) { benchWarmDeployed(b, engines.SharedStore(b)) }

func benchWarmDeployed(b *testing.B, open func(testing.TB, *slog.Logger) storage.Store) {
	logFile, err := os.Create(filepath.Join(b.TempDir(), "stockpile.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logFile.Close() })
	in, packument, tarball := deployedServer(b, logFile, open)
	tok := in.Token("bench")
	h := in.Server.Handler()
	for _, tc := range []struct{ name, path, accept, encoding string }{
		{"abbreviated", packument, "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*", ""},
		{"abbreviated-gzip", packument, "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*", "gzip"},
		{"full", packument, "application/json", ""},
		{"full-gzip", packument, "application/json", "gzip"},
		{"tarball", tarball, "*/*", ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.Header.Set("Accept", tc.accept)
			req.Header.Set("Authorization", "Bearer "+tok)
			if tc.encoding != "" {
				req.Header.Set("Accept-Encoding", tc.encoding)
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU(b)
			for range b.N {
				clear(w.h)
				w.status, w.n = 0, 0
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
			b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
			b.SetBytes(int64(w.n))
		})
	}
}

// processCPU returns the CPU time (user and system) the process has used:
// on a shared machine, CPU per hit is steadier than wall time per hit.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// deployedServer is benchServer with access keys and an info-level access
// log on w, buffered as `stockpile serve` buffers it; it returns the
// paths of the packument and of a tarball it has fetched once.
func deployedServer(b *testing.B, w *os.File, open func(testing.TB, *slog.Logger) storage.Store) (in *proxytest.Instance, packument, tarball string) {
	b.Helper()
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIDBENCHMARK", Secret: "bench-secret-bench-secret-bench-secret"}}
	lw := logbuf.New(w, logbuf.DefaultSize)
	tick := time.NewTicker(logbuf.DefaultInterval)
	ctx, cancel := context.WithCancel(context.Background())
	go lw.FlushOn(ctx, tick.C)
	b.Cleanup(func() { cancel(); tick.Stop(); lw.Close() })
	log := slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	in, packument, last := startBenchServerOn(b, &cfg, log, open)
	tarball = packument + "/-/bench-pkg-" + last + ".tgz"
	if _, err := benchGetAs(http.DefaultClient, tarball, "*/*", in.Token("bench")); err != nil {
		b.Fatalf("warm-up %s: %v", tarball, err)
	}
	return in, strings.TrimPrefix(packument, in.URL), strings.TrimPrefix(tarball, in.URL)
}
