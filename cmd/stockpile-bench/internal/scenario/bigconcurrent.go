package scenario

import (
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/fixture"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/procstat"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest/procfs"
)

// Shape, bounds and target of big-concurrent.
const (
	DefaultBigSize    = 1 << 30
	MaxBigSize        = 4 << 30
	MinBigSize        = 64 << 10
	DefaultBigClients = 200
	MaxBigClients     = load.MaxConnections
	// bigRSSTarget is the largest acceptable Stockpile RSS while it serves
	// the clients.
	bigRSSTarget = 150 << 20
	// bigTimeout bounds each download and bigDeadline the whole burst: 200
	// GiB through two shared cores take minutes.
	bigTimeout  = 30 * time.Minute
	bigDeadline = 40 * time.Minute
	// bigSampleInterval is how often Stockpile's memory is sampled.
	bigSampleInterval = 250 * time.Millisecond
	// bigReadBuffer is each client's read buffer.
	bigReadBuffer = 256 << 10
)

// bigConcurrent has N clients (-big-clients, 200) download one large
// tarball (-big-size, 1 GiB) at once from a Stockpile that has fetched it
// once already, and samples Stockpile's memory meanwhile: VmRSS, and its
// anonymous and file-backed parts (Badger reads its value log through
// mmap, so the pages of the file being served count in RSS as RssFile).
// Every client counts its bytes and hashes its body as it streams
// (maphash: fast enough for 200 GiB on two cores, where SHA-256 would
// take the cores from the server being measured).
type bigConcurrent struct {
	env     bench.Env
	stack   *stack.Stack
	size    int64
	clients int

	name, version string
	tarballPath   string
	sum           uint64 // maphash of the tarball, seed bigSeed
	genTime       time.Duration

	warm     load.Response
	results  []bigResult
	elapsed  time.Duration
	series   []procstat.MemSample
	baseline procfs.MemStatus // before the burst
	server   *procstat.ProcStats
	fetches  int
}

// bigSeed is the maphash seed of the run (clients and fixture alike).
var bigSeed = maphash.MakeSeed()

// bigResult is one client's download.
type bigResult struct {
	Bytes   int64
	Sum     uint64
	Status  int
	Err     error
	Latency time.Duration
}

func newBigConcurrent(env bench.Env) *bigConcurrent {
	size, clients := env.BigSize, env.BigClients
	if size == 0 {
		size = DefaultBigSize
	}
	if clients == 0 {
		clients = DefaultBigClients
	}
	return &bigConcurrent{env: env, stack: stack.New(env.Env), size: size, clients: clients}
}

// Name implements Scenario.
func (s *bigConcurrent) Name() string { return "big-concurrent" }

// Setup implements Scenario: the tarball (streamed to disk, its digests
// computed on the way), its packument, nginx with its access log, and
// Stockpile.
func (s *bigConcurrent) Setup(ctx context.Context) error {
	if s.size < MinBigSize || s.size > MaxBigSize {
		return fmt.Errorf("big-concurrent: size %d: must be between %d and %d bytes", s.size, MinBigSize, MaxBigSize)
	}
	if s.clients < 1 || s.clients > MaxBigClients {
		return fmt.Errorf("big-concurrent: %d clients: must be between 1 and %d", s.clients, MaxBigClients)
	}
	// The fixture and Stockpile's copy, and room to spare.
	if err := checkFreeSpace(s.env.TempRoot, 2*s.size+(512<<20)); err != nil {
		return fmt.Errorf("big-concurrent: %w", err)
	}
	s.name = "stockpile-bench-big-" + nonce()
	return s.stack.Up(ctx, stack.Options{Scenario: s.Name(), Format: "npm", NPM: true, AccessLog: true,
		Populate: func(root, base string) error { return s.writeFixture(root, base) }})
}

// bigVersions is how many versions the big package's packument lists.
const bigVersions = 12

// writeFixture streams the tarball to disk in 1 MiB pieces of
// pseudo-random bytes, hashing them on the way (SHA-512 and SHA-1 for the
// packument, maphash for the clients), then writes the packument.
func (s *bigConcurrent) writeFixture(root, base string) error {
	t0 := time.Now()
	s.version = fmt.Sprintf("1.0.%d", bigVersions-1)
	s.tarballPath = formattest.NPMTarballPath(s.name, s.version)
	path := filepath.Join(root, filepath.FromSlash(s.tarballPath))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	h512, h1 := sha512.New(), sha1.New()
	var mh maphash.Hash
	mh.SetSeed(bigSeed)
	w := io.MultiWriter(out, h512, h1, &mh)
	src := mrand.NewChaCha8(formattest.Seed(s.name))
	buf := make([]byte, 1<<20)
	for left := s.size; left > 0; {
		n := int(min(left, int64(len(buf))))
		_, _ = src.Read(buf[:n]) // never fails
		if _, err := w.Write(buf[:n]); err != nil {
			out.Close()
			return fmt.Errorf("big-concurrent: write the tarball: %w", err)
		}
		left -= int64(n)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("big-concurrent: write the tarball: %w", err)
	}
	s.sum = mh.Sum64()
	integrity := "sha512-" + base64.StdEncoding.EncodeToString(h512.Sum(nil))
	shasum := hex.EncodeToString(h1.Sum(nil))
	g := formattest.NPMPackument{Name: s.name, Base: base, Readme: formattest.Readme(s.name, formattest.RNG(s.name))}
	doc, err := g.Render(bigVersions, integrity, shasum)
	if err != nil {
		return err
	}
	if err := fixture.WriteFiles(root, map[string][]byte{fixture.PackumentDir + "/" + s.name + ".json": doc}); err != nil {
		return err
	}
	s.genTime = time.Since(t0)
	s.env.Log.Info("big-concurrent: fixture written", "bytes", s.size, "took", s.genTime.Round(time.Millisecond))
	return nil
}

// checkFreeSpace fails when the file system of dir ("" is the temporary
// directory) has less than need bytes available.
func checkFreeSpace(dir string, need int64) error {
	if dir == "" {
		dir = os.TempDir()
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil // cannot tell: let the writes say
	}
	if avail := int64(st.Bavail) * int64(st.Bsize); avail < need {
		return fmt.Errorf("%s has %d MiB free, the scenario needs %d MiB", dir, avail>>20, need>>20)
	}
	return nil
}

// Targets implements Scenario: big-concurrent is a Driver.
func (s *bigConcurrent) Targets() []bench.Target { return nil }

// Teardown implements Scenario: removes the fixture and Stockpile's copy.
func (s *bigConcurrent) Teardown() error { return s.stack.Down() }

// bigDownload GETs url on a connection of its own, streaming the body
// through buf into a byte count and a maphash.
func bigDownload(ctx context.Context, url string, h http.Header, buf []byte) bigResult {
	c := load.Client(bigTimeout, true)
	defer c.CloseIdleConnections()
	var mh maphash.Hash
	mh.SetSeed(bigSeed)
	r, err := load.Get(ctx, c, url, h, &mh, buf)
	return bigResult{Bytes: r.Bytes, Sum: mh.Sum64(), Status: r.Status, Err: err, Latency: r.Total}
}

// ok reports whether r is the whole tarball.
func (s *bigConcurrent) ok(r bigResult) bool {
	return r.Err == nil && r.Status == http.StatusOK && r.Bytes == s.size && r.Sum == s.sum
}

// Drive implements Driver: one download through Stockpile (the fetch that
// makes it warm), then every client at once, Stockpile's memory sampled.
func (s *bigConcurrent) Drive(ctx context.Context, _ int) ([]*bench.TargetReport, error) {
	url := s.stack.RepoURL + s.tarballPath
	h := s.stack.Header("")
	buf := make([]byte, bigReadBuffer)
	s.env.Log.Info("big-concurrent: warming", "url", url, "bytes", s.size)
	wr := bigDownload(ctx, url, h, buf)
	if !s.ok(wr) {
		return nil, fmt.Errorf("warm download: status %d, %d of %d bytes, right hash %v: %v", wr.Status, wr.Bytes, s.size, wr.Sum == s.sum, wr.Err)
	}
	s.warm = load.Response{Total: wr.Latency, Bytes: wr.Bytes}
	s.env.Log.Info("big-concurrent: warm", "took", wr.Latency.Round(time.Millisecond))
	if err := bench.Sleep(ctx, time.Second); err != nil {
		return nil, err
	}

	pid := s.stack.StockpilePID
	before, err := procfs.ReadMemStatus(pid)
	if err != nil {
		return nil, fmt.Errorf("stockpile is gone: %w", err)
	}
	s.baseline = before
	sampler, err := procstat.Start(pid, bigSampleInterval)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, bigDeadline)
	defer cancel()
	s.results = make([]bigResult, s.clients)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range s.clients {
		wg.Go(func() {
			b := make([]byte, bigReadBuffer)
			<-start
			s.results[i] = bigDownload(dctx, url, h, b)
		})
	}
	s.env.Log.Info("big-concurrent: downloading", "clients", s.clients, "bytes_each", s.size)
	progress := time.NewTicker(15 * time.Second)
	defer progress.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t0 := time.Now()
	sampler.MeasureStart()
	close(start)
wait:
	for {
		select {
		case <-done:
			break wait
		case <-progress.C:
			if m, err := procfs.ReadMemStatus(pid); err == nil {
				s.env.Log.Info("big-concurrent: progress", "elapsed", time.Since(t0).Round(time.Second),
					"rss_mib", m.RSS>>20, "anon_mib", m.Anon>>20, "file_mib", m.File>>20)
			}
		}
	}
	s.elapsed = time.Since(t0)
	sampler.MeasureEnd()
	st := sampler.Stop()
	s.server = &st
	s.series = sampler.Series()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res := &load.Result{Latency: &load.Histogram{}, Elapsed: s.elapsed}
	for _, r := range s.results {
		res.Requests++
		res.Bytes += uint64(max(r.Bytes, 0))
		switch {
		case s.ok(r):
			res.OK++
			res.Latency.Record(r.Latency)
		case r.Err != nil && r.Bytes == 0:
			res.Errors.Transport++
		case r.Status != http.StatusOK:
			res.Errors.Status++
		case r.Bytes != s.size || r.Err != nil:
			res.Errors.Short++
		default:
			res.Errors.Digest++
		}
	}
	counts, err := s.stack.Accesses()
	if err != nil {
		return nil, err
	}
	s.fetches = counts[s.tarballPath].Requests
	return []*bench.TargetReport{{
		Target: bench.Target{Name: fmt.Sprintf("stockpile %s tarball x%d", fmtByteSize(s.size), s.clients), Side: bench.SideStockpile, PID: pid, Request: load.Request{URL: url}},
		Rounds: []bench.RoundResult{{Round: 1, Load: load.Config{Connections: s.clients, Requests: s.clients, PerConnection: 1}, Result: res, Server: s.server}},
	}}, nil
}

// fmtSize prints a size in the largest binary unit that divides it.
func fmtByteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func memMiB(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// Check implements Checker: every client's bytes, one upstream fetch, and
// the memory target, split into its anonymous and file-backed parts.
func (s *bigConcurrent) Check(ctx context.Context, results []*bench.TargetReport) ([]bench.Finding, error) {
	if len(s.results) == 0 {
		return nil, errors.New("big-concurrent: nothing measured")
	}
	good := 0
	var firstErr error
	for _, r := range s.results {
		if s.ok(r) {
			good++
		} else if firstErr == nil {
			firstErr = fmt.Errorf("status %d, %d bytes, right hash %v, err %v", r.Status, r.Bytes, r.Sum == s.sum, r.Err)
		}
	}
	clients := bench.Finding{Name: "clients with every byte right (count and maphash)", Value: fmt.Sprintf("%d/%d", good, s.clients), OK: good == s.clients}
	if firstErr != nil {
		clients.Value += fmt.Sprintf(" (first failure: %v)", firstErr)
	}
	p := procstat.Peaks(s.series)
	target := uint64(bigRSSTarget)
	rss := bench.Finding{Name: fmt.Sprintf("stockpile peak VmRSS under %s", memMiB(target)), OK: p.RSS < target}
	at := p.AtPeakRSS
	rss.Value = fmt.Sprintf("%s (RssAnon %s + RssFile %s + RssShmem %s at that sample; %d samples every %s)",
		memMiB(p.RSS), memMiB(at.Anon), memMiB(at.File), memMiB(at.Shmem), len(s.series), bigSampleInterval)
	if !rss.OK {
		over := p.RSS - target
		var parts []string
		if at.Anon >= target {
			parts = append(parts, fmt.Sprintf("RssAnon alone is %s, over by %s", memMiB(at.Anon), memMiB(at.Anon-target)))
		}
		if at.File >= target {
			parts = append(parts, fmt.Sprintf("RssFile alone is %s, over by %s (file-backed pages: the value log mapped by Badger)", memMiB(at.File), memMiB(at.File-target)))
		}
		if len(parts) == 0 {
			parts = append(parts, "neither part alone exceeds it: together they do")
		}
		rss.Value += fmt.Sprintf("; over the target by %s: %s", memMiB(over), strings.Join(parts, "; "))
	}
	rate := float64(s.size) * float64(good) / s.elapsed.Seconds()
	return []bench.Finding{
		clients,
		{Name: "upstream fetches of the tarball", Value: fmt.Sprintf("%d (want 1: the warm-up's)", s.fetches), OK: s.fetches == 1},
		rss,
		{Name: "stockpile peak RssAnon (heap, stacks, buffers)", Value: fmt.Sprintf("%s (before the burst %s)", memMiB(p.Anon), memMiB(s.baseline.Anon)), OK: p.Anon < target},
		{Name: "stockpile peak RssFile (mapped files: the binary, Badger's tables and logs)", Value: fmt.Sprintf("%s (before the burst %s; informative)", memMiB(p.File), memMiB(s.baseline.File)), OK: true},
		{Name: "burst", Value: fmt.Sprintf("%d × %s in %s: %.0f MB/s aggregate; warm-up download %s", s.clients, fmtByteSize(s.size),
			s.elapsed.Round(time.Millisecond), rate/1e6, s.warm.Total.Round(time.Millisecond)), OK: true},
	}, nil
}

// Info implements Describer.
func (s *bigConcurrent) Info() map[string]any {
	m := s.stack.Info()
	m["package"] = s.name
	m["tarball_bytes"] = s.size
	m["clients"] = s.clients
	m["fixture_written_in"] = s.genTime.Round(time.Millisecond).String()
	return m
}

// Data implements DataProvider: the memory series.
func (s *bigConcurrent) Data() map[string]any {
	return map[string]any{"memory_series": s.series, "memory_before": s.baseline}
}
