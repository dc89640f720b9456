package scenario

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/procstat"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest/procfs"
)

// Shape, bounds and targets of soak.
const (
	DefaultSoakDuration = 10 * time.Minute
	MaxSoakDuration     = 2 * time.Hour
	MinSoakDuration     = time.Second
	defaultSoakWarmup   = 2 * time.Minute
	// soakWarmPackages is the pool of packages installed over and over.
	soakWarmPackages = 150
	// soakColdEvery is how often a package nobody asked for yet is
	// published to nginx, for the installs to find cold.
	soakColdEvery = time.Second
	// soakNotFound is the share of requests for names or versions that do
	// not exist (a typo, an optional dependency of another platform).
	soakNotFound = 0.01
	// soakMaxSlope is the largest RSS growth after warm-up, per minute,
	// that still counts as flat.
	soakMaxSlope = 1 << 20
)

// soak runs an install-like workload for -soak-duration: -c clients, each
// resolving packages one after another as npm install does (packument with
// npm's Accept, then the tarball it names), mostly from a pool of warm
// packages (popular ones more often), now and then one never asked for
// before (cold: a package is published to nginx every second), and a few
// that do not exist (404). Every answer is checked (status, length, the
// packument's name, the tarball's hash). Stockpile's memory is sampled by
// the runner: the report gives it at the end of the warm-up and its slope
// after.
type soak struct {
	base
	duration time.Duration
	warmup   time.Duration
	clients  int
	interval time.Duration // of the memory samples
	nonce    string
	warm     []*npmPkg

	// pending is, by connection, the package whose packument it asked last.
	pending []*npmPkg
	cold    chan *npmPkg
	missing atomic.Uint64 // requests for what does not exist
	coldN   atomic.Uint64 // cold packages installed
	halt    context.CancelFunc
	bg      sync.WaitGroup // the cold publisher
	// db is the size of Stockpile's database at the end of the warm-up and
	// at the end (not with --target).
	db    [2]uint64
	dbErr error
}

func newSoak(env bench.Env) *soak {
	d := cmp.Or(env.SoakDuration, DefaultSoakDuration)
	s := &soak{base: newBase(env, "soak"), duration: d, warmup: cmp.Or(env.SoakWarmup, min(defaultSoakWarmup, d/5)),
		clients: cmp.Or(env.Connections, 16), interval: min(max(d/200, 100*time.Millisecond), 3*time.Second), halt: func() {}}
	s.undo = append(s.undo, func() error { s.stop(); return nil })
	maps.Copy(s.info, map[string]any{"duration": s.duration.String(), "warmup": s.warmup.String(), "clients": s.clients,
		"warm_packages": soakWarmPackages, "cold_every": soakColdEvery.String(), "memory_sample_interval": s.interval.String()})
	return s
}

// publish generates package name, its packument and tarball sizes
// log-uniform between what small and large packages have, and writes it
// below nginx's root.
func (s *soak) publish(root, base, name string, rng *mrand.Rand) (*npmPkg, error) {
	logU := func(lo, hi float64) int {
		return int(math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo))))
	}
	return publishNPM(root, formattest.NPMOptions{Name: name, Upstream: base + "/", PackumentSize: logU(12<<10, 200<<10), TarballSize: logU(8<<10, 800<<10)})
}

// Setup implements Scenario: the warm pool below nginx's root, nginx,
// Stockpile, and one install of every warm package.
func (s *soak) Setup(ctx context.Context) error {
	if s.duration < MinSoakDuration || s.duration > MaxSoakDuration {
		return fmt.Errorf("soak: duration %s: must be between %s and %s", s.duration, MinSoakDuration, MaxSoakDuration)
	}
	if s.warmup < 0 || s.warmup >= s.duration {
		return fmt.Errorf("soak: warm-up %s: must be shorter than the duration %s", s.warmup, s.duration)
	}
	s.nonce, s.pending, s.cold = nonce(), make([]*npmPkg, s.clients), make(chan *npmPkg, 4)
	err := s.up(ctx, stack.Options{
		Populate: func(root, base string) error {
			s.warm = s.warm[:0]
			rng := mrand.New(mrand.NewChaCha8(formattest.Seed(s.nonce)))
			for i := range soakWarmPackages {
				p, err := s.publish(root, base, fmt.Sprintf("stockpile-bench-soak-%s-%d", s.nonce, i), rng)
				if err != nil {
					return err
				}
				s.warm = append(s.warm, p)
			}
			return nil
		}})
	if err != nil {
		return err
	}
	// Every packument, then every tarball, four at a time: the pool is warm.
	var next atomic.Int64
	n := 2 * len(s.warm)
	res, err := load.Run(ctx, load.Config{Connections: 4, Requests: n, Pick: func(int, *mrand.Rand) load.Request {
		i := int(next.Add(1) - 1)
		p := s.warm[i%len(s.warm)]
		if i < len(s.warm) {
			return s.packument(p, npmInstallAccept)
		}
		return s.tarball(p)
	}})
	if err == nil && res.OK != uint64(n) {
		err = fmt.Errorf("%d of %d requests failed: %+v", res.Errors.Total(), n, res.Errors)
	}
	if err != nil {
		return fmt.Errorf("soak: warming the pool: %w", err)
	}
	// The clients for the duration, Stockpile's memory sampled.
	s.targets = []bench.Target{{
		Name: "soak", Side: bench.SideStockpile, PID: s.StockpilePID, Memory: s.interval,
		Requests: []load.Request{{URL: s.RepoURL + "/", AllowRemote: s.remote}}, // names it: Pick chooses
		Prepare:  s.start,
		Load:     &load.Config{Connections: s.clients, Duration: s.duration, MaxDuration: s.duration, Seed: formattest.Hash64(s.nonce), Pick: s.pick},
	}}
	return nil
}

// packument is the request of p's packument, which must name it.
func (s *soak) packument(p *npmPkg, accept string) load.Request {
	return load.Request{URL: s.RepoURL + p.packumentPath(), Header: s.Header(accept), AllowRemote: s.remote,
		Want: load.Expect{Status: http.StatusOK, Contains: []byte(`"` + p.name + `"`)}}
}

// tarball is the request of p's tarball, which must have its bytes.
func (s *soak) tarball(p *npmPkg) load.Request {
	return load.Request{URL: s.RepoURL + p.tarballPath, Header: s.Header(""), AllowRemote: s.remote, Want: p.tarballExpect()}
}

// pick is connection conn's next request: the tarball of the package
// whose packument it asked last; else, now and then, a package or version
// that does not exist; else the packument of a cold package when one is
// waiting, or of a warm one, popular packages more often.
func (s *soak) pick(conn int, rng *mrand.Rand) load.Request {
	if p := s.pending[conn]; p != nil {
		s.pending[conn] = nil
		return s.tarball(p)
	}
	if rng.Float64() < soakNotFound {
		s.missing.Add(1)
		req := s.packument(&npmPkg{name: fmt.Sprintf("stockpile-bench-soak-missing-%s-%d-%d", s.nonce, conn, rng.Uint32())}, npmInstallAccept)
		if rng.IntN(2) == 0 {
			req.URL = s.RepoURL + formattest.NPMTarballPath(s.warm[rng.IntN(len(s.warm))].name, "9.9.9")
		}
		req.Want = load.Expect{Status: http.StatusNotFound}
		return req
	}
	var p *npmPkg
	select {
	case p = <-s.cold:
		s.coldN.Add(1)
	default: // an exponential over the pool
		p = s.warm[min(int(rng.ExpFloat64()*float64(len(s.warm))/4), len(s.warm)-1)]
	}
	s.pending[conn] = p
	accept := npmInstallAccept
	if rng.IntN(5) == 0 {
		accept = "application/json"
	}
	return s.packument(p, accept)
}

// start begins the run's background: a cold package published every
// second (never more than a few waiting), the database measured at the end
// of the warm-up, progress logged.
func (s *soak) start(ctx context.Context, _ int, _ *bench.Target) error {
	rctx, cancel := context.WithTimeout(ctx, s.duration)
	s.halt = cancel
	t0 := time.Now()
	s.bg.Go(func() {
		rng := mrand.New(mrand.NewChaCha8(formattest.Seed(s.nonce + "/cold")))
		tick, warmed := time.NewTicker(soakColdEvery), time.NewTimer(s.warmup)
		defer tick.Stop()
		defer warmed.Stop()
		for i := 0; ; i++ {
			select {
			case <-rctx.Done():
				return
			case <-warmed.C:
				s.measureDB(0)
			case <-tick.C:
				if i%60 == 59 {
					m, _ := procfs.ReadMemStatus(s.StockpilePID)
					s.env.Log.Info("soak: progress", "elapsed", time.Since(t0).Round(time.Second), "rss_mib", m.RSS>>20, "anon_mib", m.Anon>>20, "file_mib", m.File>>20)
				}
				if len(s.cold) == cap(s.cold) {
					continue
				}
				p, err := s.publish(s.Root, s.NginxURL, fmt.Sprintf("stockpile-bench-soak-cold-%s-%d", s.nonce, i), rng)
				if err != nil {
					s.env.Log.Error("soak: publish a cold package", "err", err)
					continue
				}
				s.cold <- p // the only sender: never blocks
			}
		}
	})
	return nil
}

// measureDB measures Stockpile's database (not with --target).
func (s *soak) measureDB(i int) {
	if s.Config.DataDir != "" && s.dbErr == nil {
		n, _, err := procstat.DirUsage(s.Config.DataDir, false)
		s.db[i], s.dbErr = uint64(n), err
	}
}

// stop ends the run's background.
func (s *soak) stop() {
	s.halt()
	s.bg.Wait()
}

// Check implements Checker: no error, the warm-up RSS, and the slopes.
func (s *soak) Check(ctx context.Context, results []*bench.TargetReport) ([]bench.Finding, error) {
	s.stop()
	if len(results) != 1 || len(results[0].Rounds) != 1 || len(results[0].Rounds[0].Memory) == 0 {
		return nil, errors.New("soak: no memory sample")
	}
	res, series := results[0].Rounds[0].Result, results[0].Rounds[0].Memory
	elapsed, e := res.Elapsed, res.Errors
	s.measureDB(1)
	dbOK := s.Config.DataDir != "" && s.dbErr == nil && elapsed > s.warmup
	if s.dbErr != nil {
		s.env.Log.Warn("soak: measuring the database", "err", s.dbErr)
	}
	w, p := procstat.MemAt(series, s.warmup), procstat.Peaks(series)
	perMin := func(b float64) string { return fmt.Sprintf("%+.2f MiB/min", b/(1<<20)) }
	rss, n := procstat.Slope(series, s.warmup, func(m procfs.MemStatus) uint64 { return m.RSS })
	anon, _ := procstat.Slope(series, s.warmup, func(m procfs.MemStatus) uint64 { return m.Anon })
	file, _ := procstat.Slope(series, s.warmup, func(m procfs.MemStatus) uint64 { return m.File })
	after := elapsed - s.warmup
	out := []bench.Finding{
		{Name: "errors", OK: e.Total() == 0, Value: fmt.Sprintf("%d of %d requests (%s)", e.Total(), res.Requests, errorKinds(e))},
		{Name: "requests", OK: res.Requests > 0, Value: fmt.Sprintf("%d in %s (%.0f/s; %d for what does not exist; %d cold packages published and installed)",
			res.Requests, elapsed.Round(time.Second), float64(res.Requests)/elapsed.Seconds(), s.missing.Load(), s.coldN.Load())},
		{Name: "RSS at the end of the warm-up", OK: true, Value: fmt.Sprintf("%s at %s; at the end %s; peak %s",
			memParts(w.MemStatus), w.At.Round(time.Second), memParts(series[len(series)-1].MemStatus), bench.FmtBytes(p.RSS))},
	}
	vmrss := fmt.Sprintf("%s over %s (%d samples every %s)", perMin(rss), after.Round(time.Second), n, s.interval)
	if !dbOK {
		// No database to measure (--target): all of VmRSS is judged.
		out = append(out, bench.Finding{Name: fmt.Sprintf("VmRSS slope after the warm-up (flat: at most %s)", perMin(soakMaxSlope)), OK: rss <= soakMaxSlope, Value: vmrss})
	} else {
		// Badger maps its tables and logs: the pages of the data it writes
		// stay in RssFile, as page cache the kernel can take back. That
		// much growth is the data stored, not memory held; the rest of
		// VmRSS must be flat.
		db := (float64(s.db[1]) - float64(s.db[0])) / after.Minutes()
		rest := rss - max(db, 0)
		out = append(out,
			bench.Finding{Name: "VmRSS slope after the warm-up (informative)", OK: true, Value: vmrss},
			bench.Finding{Name: "database growth after the warm-up (Badger's files, blocks on disk; informative)", OK: true,
				Value: fmt.Sprintf("%s (%s → %s)", perMin(db), bench.FmtBytes(s.db[0]), bench.FmtBytes(s.db[1]))},
			bench.Finding{Name: fmt.Sprintf("VmRSS slope less the database's growth (flat: at most %s)", perMin(soakMaxSlope)), OK: rest <= soakMaxSlope, Value: perMin(rest)})
	}
	return append(out,
		bench.Finding{Name: "RssAnon slope after the warm-up (heap, stacks, buffers)", OK: anon <= soakMaxSlope, Value: perMin(anon)},
		bench.Finding{Name: "RssFile slope after the warm-up (mapped files; informative)", OK: true, Value: perMin(file)}), nil
}

// memParts is a memory sample's VmRSS and its parts.
func memParts(m procfs.MemStatus) string {
	return fmt.Sprintf("%s (RssAnon %s, RssFile %s, RssShmem %s)", bench.FmtBytes(m.RSS), bench.FmtBytes(m.Anon), bench.FmtBytes(m.File), bench.FmtBytes(m.Shmem))
}

// errorKinds is a run's failed requests by kind.
func errorKinds(e load.ErrorCounts) string {
	return fmt.Sprintf("status %d, short %d, wrong bytes %d, transport %d", e.Status, e.Short, e.Digest, e.Transport)
}
