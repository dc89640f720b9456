package scenario

import (
	"cmp"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/fixture"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/procstat"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
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
	// bigTimeout bounds each download: 200 GiB through two shared cores
	// take minutes.
	bigTimeout = 30 * time.Minute
	// bigSampleInterval is how often Stockpile's memory is sampled.
	bigSampleInterval = 250 * time.Millisecond
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
	base
	size    int64
	clients int

	pkg         string
	tarballPath string
	sum         uint64        // the tarball's load.NewMaphash sum
	warm        time.Duration // the download that made it warm
}

func newBigConcurrent(env bench.Env) *bigConcurrent {
	s := &bigConcurrent{base: newBase(env, "big-concurrent"), size: cmp.Or(env.BigSize, DefaultBigSize), clients: cmp.Or(env.BigClients, DefaultBigClients)}
	s.info["tarball_bytes"], s.info["clients"] = s.size, s.clients
	return s
}

// Setup implements Scenario: the tarball (streamed to disk, its digests
// computed on the way), its packument, nginx with its access log,
// Stockpile, and one download through it, which makes the tarball warm.
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
	s.pkg = "stockpile-bench-big-" + nonce()
	s.info["package"] = s.pkg
	if err := s.up(ctx, stack.Options{AccessLog: true, Populate: s.writeFixture}); err != nil {
		return err
	}
	// Every client's download of the tarball, on a connection of its own,
	// each body counted and hashed as it streams; Stockpile's memory sampled.
	t := bench.Target{
		Name: fmt.Sprintf("stockpile %s tarball x%d", bench.FmtBytes(uint64(s.size)), s.clients), Side: bench.SideStockpile,
		PID: s.StockpilePID,
		Requests: []load.Request{{URL: s.RepoURL + s.tarballPath, Header: s.Header(""),
			Want: load.Expect{Status: http.StatusOK, Bytes: s.size, Maphash: s.sum}}},
		Load:   &load.Config{Connections: s.clients, Requests: s.clients, PerConnection: 1, Timeout: bigTimeout},
		Memory: bigSampleInterval,
	}
	s.targets = []bench.Target{t}
	res, err := load.Run(ctx, load.Config{Connections: 1, Requests: 1, Timeout: bigTimeout}, t.Requests...)
	if err != nil {
		return fmt.Errorf("big-concurrent: warm download: %w", err)
	}
	if res.OK != 1 {
		return fmt.Errorf("big-concurrent: warm download failed: %+v", res.Errors)
	}
	s.warm = res.Elapsed
	return bench.Sleep(ctx, time.Second)
}

// bigVersions is how many versions the big package's packument lists.
const bigVersions = 12

// writeFixture streams the tarball to disk in 1 MiB pieces of
// pseudo-random bytes, hashing them on the way (SHA-512 and SHA-1 for the
// packument, maphash for the clients), then writes the packument.
func (s *bigConcurrent) writeFixture(root, base string) error {
	t0 := time.Now()
	s.tarballPath = formattest.NPMTarballPath(s.pkg, fmt.Sprintf("1.0.%d", bigVersions-1))
	path := filepath.Join(root, filepath.FromSlash(s.tarballPath))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	h512, h1, mh := sha512.New(), sha1.New(), load.NewMaphash()
	w := io.MultiWriter(out, h512, h1, mh)
	src := mrand.NewChaCha8(formattest.Seed(s.pkg))
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
	g := formattest.NPMPackument{Name: s.pkg, Base: base, Readme: formattest.Readme(s.pkg, formattest.RNG(s.pkg))}
	doc, err := g.Render(bigVersions, integrity, hex.EncodeToString(h1.Sum(nil)))
	if err != nil {
		return err
	}
	if err := fixture.WriteFiles(root, map[string][]byte{fixture.PackumentDir + "/" + s.pkg + ".json": doc}); err != nil {
		return err
	}
	took := time.Since(t0).Round(time.Millisecond)
	s.info["fixture_written_in"] = took.String()
	s.env.Log.Info("big-concurrent: fixture written", "bytes", s.size, "took", took)
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

// Check implements Checker: every client's bytes, one upstream fetch, and
// the memory target, split into its anonymous and file-backed parts.
func (s *bigConcurrent) Check(ctx context.Context, results []*bench.TargetReport) ([]bench.Finding, error) {
	if len(results) != 1 || len(results[0].Rounds) != 1 || len(results[0].Rounds[0].Memory) == 0 {
		return nil, errors.New("big-concurrent: nothing measured")
	}
	res, series := results[0].Rounds[0].Result, results[0].Rounds[0].Memory
	counts, err := s.Accesses()
	if err != nil {
		return nil, err
	}
	fetches := counts[s.tarballPath]
	p, before, target := procstat.Peaks(series), series[0], uint64(bigRSSTarget) // series[0]: before the first request
	return []bench.Finding{
		{Name: "clients with every byte right (count and maphash)", OK: res.OK == uint64(s.clients),
			Value: fmt.Sprintf("%d/%d (failures: %s)", res.OK, s.clients, errorKinds(res.Errors))},
		{Name: "upstream fetches of the tarball", Value: fmt.Sprintf("%d (want 1: the warm-up's)", fetches), OK: fetches == 1},
		{Name: "stockpile peak VmRSS under " + bench.FmtBytes(target), OK: p.RSS < target,
			Value: fmt.Sprintf("%s at that sample; %d samples every %s", memParts(p.AtPeakRSS), len(series), bigSampleInterval)},
		{Name: "stockpile peak RssAnon (heap, stacks, buffers)", Value: fmt.Sprintf("%s (before the burst %s)", bench.FmtBytes(p.Anon), bench.FmtBytes(before.Anon)), OK: p.Anon < target},
		{Name: "stockpile peak RssFile (mapped files: the binary, Badger's tables and logs)", Value: fmt.Sprintf("%s (before the burst %s; informative)", bench.FmtBytes(p.File), bench.FmtBytes(before.File)), OK: true},
		{Name: "burst", Value: fmt.Sprintf("%d × %s in %s: %.0f MB/s aggregate; warm-up download %s", s.clients, bench.FmtBytes(uint64(s.size)),
			res.Elapsed.Round(time.Millisecond), float64(s.size)*float64(res.OK)/res.Elapsed.Seconds()/1e6, s.warm.Round(time.Millisecond)), OK: true},
	}, nil
}
