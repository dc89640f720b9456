package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/fixture"
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
	// soakTimeout bounds each request.
	soakTimeout = 30 * time.Second
)

// soakPkg is a package of the soak: where nginx and Stockpile serve it and
// what its tarball hashes to.
type soakPkg struct {
	name        string
	tarballPath string
	tarballSize int64
	tarballSum  uint64 // maphash, seed soakSeed
}

var soakSeed = maphash.MakeSeed()

// soak runs an install-like workload for -soak-duration: -c clients, each
// resolving packages one after another as npm install does (packument with
// npm's Accept, then the tarball it names), mostly from a pool of warm
// packages (popular ones more often), now and then one never asked for
// before (cold: a package is published to nginx every second), and a few
// that do not exist (404). Every answer is checked (status, length, the
// tarball's hash). Stockpile's memory is sampled every few seconds: the
// report gives it at the end of the warm-up and its slope after.
type soak struct {
	env      bench.Env
	stack    *stack.Stack
	duration time.Duration
	warmup   time.Duration
	clients  int
	nonce    string

	warm  []*soakPkg
	stats map[string]*soakStats // by kind
	mu    sync.Mutex

	series   []procstat.MemSample
	interval time.Duration
	// db is the size of Stockpile's database at the end of the warm-up and
	// at the end (dbOK: both measured; not with --target).
	db      [2]uint64
	dbOK    bool
	cold    int
	server  *procstat.ProcStats
	elapsed time.Duration
}

// Kinds of soak requests.
const (
	soakPackument = "packument"
	soakTarball   = "tarball"
	soakCold      = "cold package"
	soakMissing   = "missing (404)"
)

var soakKinds = []string{soakPackument, soakTarball, soakCold, soakMissing}

// soakStats counts one kind of request.
type soakStats struct {
	ok    uint64
	errs  load.ErrorCounts
	bytes uint64
	hist  load.Histogram
	// firstErr is the first failure, for the report.
	firstErr string
}

func newSoak(env bench.Env) *soak {
	d, w := env.SoakDuration, env.SoakWarmup
	if d == 0 {
		d = DefaultSoakDuration
	}
	if w == 0 {
		w = min(defaultSoakWarmup, d/5)
	}
	c := env.Connections
	if c == 0 {
		c = 16
	}
	return &soak{env: env, stack: stack.New(env.Env), duration: d, warmup: w, clients: c, stats: map[string]*soakStats{}}
}

// Name implements Scenario.
func (s *soak) Name() string { return "soak" }

// soakSizes returns a packument and a tarball size, log-uniform between
// what small and large packages have.
func soakSizes(rng *mrand.Rand) (int, int) {
	logU := func(lo, hi float64) int {
		return int(math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo))))
	}
	return logU(12<<10, 200<<10), logU(8<<10, 800<<10)
}

// publish generates package name and writes it below nginx's root.
func (s *soak) publish(root, base, name string, rng *mrand.Rand) (*soakPkg, error) {
	ps, ts := soakSizes(rng)
	f, err := formattest.GenerateNPM(formattest.NPMOptions{Name: name, Upstream: base + "/", PackumentSize: ps, TarballSize: ts})
	if err != nil {
		return nil, err
	}
	if err := fixture.WriteNPM(root, f); err != nil {
		return nil, err
	}
	var mh maphash.Hash
	mh.SetSeed(soakSeed)
	mh.Write(f.Tarball)
	return &soakPkg{name: name, tarballPath: f.TarballPath(), tarballSize: int64(len(f.Tarball)), tarballSum: mh.Sum64()}, nil
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
	if s.clients < 1 || s.clients > load.MaxConnections {
		return fmt.Errorf("soak: %d clients: must be between 1 and %d", s.clients, load.MaxConnections)
	}
	s.nonce = nonce()
	err := s.stack.Up(ctx, stack.Options{Scenario: s.Name(), Format: "npm", NPM: true,
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
	// One install of each, four at a time: the pool is warm.
	var wg sync.WaitGroup
	errs := make(chan error, len(s.warm))
	next := make(chan *soakPkg)
	for range 4 {
		wg.Go(func() {
			c := load.Client(soakTimeout, false) // keep-alive, as npm's agent is
			defer c.CloseIdleConnections()
			buf := make([]byte, 256<<10)
			for p := range next {
				if kind, err := s.install(ctx, c, p, buf, nil); err != nil {
					errs <- fmt.Errorf("soak: warm %s (%s): %w", p.name, kind, err)
				}
			}
		})
	}
	for _, p := range s.warm {
		next <- p
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs // nil when none failed
}

// soakGet GETs url and reads the body: into buf when keep (which must then
// be large enough; the body is returned), else through buf into a maphash.
func soakGet(ctx context.Context, c *http.Client, url string, h http.Header, buf []byte, keep bool) (status int, body []byte, n int64, sum uint64, err error) {
	var mh maphash.Hash
	mh.SetSeed(soakSeed)
	if keep {
		fb := &load.FixedBuffer{Buf: buf}
		r, err := load.Get(ctx, c, url, h, fb, nil)
		return r.Status, fb.Bytes(), r.Bytes, 0, err
	}
	r, err := load.Get(ctx, c, url, h, &mh, buf)
	return r.Status, nil, r.Bytes, mh.Sum64(), err
}

// install resolves p as npm does: its packument, then its tarball. rec,
// when set, records each request under its kind (cold packages under
// soakCold). It returns the kind of the first failure.
func (s *soak) install(ctx context.Context, c *http.Client, p *soakPkg, buf []byte, rec soakRecorder) (string, error) {
	accept := npmInstallAccept
	if mrand.IntN(5) == 0 {
		accept = "application/json"
	}
	record := func(kind string, status int, n int64, lat time.Duration, err error, check func() string) error {
		return soakJudge(rec, kind, http.StatusOK, status, n, lat, err, check)
	}
	hd := s.stack.Header(accept)
	t0 := time.Now()
	status, body, n, _, err := soakGet(ctx, c, s.stack.RepoURL+"/"+p.name, hd, buf, true)
	if ctx.Err() != nil {
		return "", nil
	}
	kindDoc, kindTgz := soakPackument, soakTarball
	if rec != nil && strings.Contains(p.name, "-cold-") {
		kindDoc, kindTgz = soakCold, soakCold
	}
	if err := record(kindDoc, status, n, time.Since(t0), err, func() string {
		if !bytes.Contains(body, []byte(`"`+p.name+`"`)) {
			return "packument does not name the package"
		}
		return ""
	}); err != nil {
		return kindDoc, err
	}
	t0 = time.Now()
	status, _, n, sum, err := soakGet(ctx, c, s.stack.RepoURL+p.tarballPath, s.stack.Header(""), buf, false)
	if ctx.Err() != nil {
		return "", nil
	}
	if err := record(kindTgz, status, n, time.Since(t0), err, func() string {
		if n != p.tarballSize {
			return fmt.Sprintf("tarball has %d bytes, want %d", n, p.tarballSize)
		}
		if sum != p.tarballSum {
			return "tarball has the wrong bytes"
		}
		return ""
	}); err != nil {
		return kindTgz, err
	}
	return "", nil
}

// soakJudge classifies one answer: its status against want, then check
// (when set) on its body; it records it with rec (when set) under kind and
// returns the failure.
func soakJudge(rec soakRecorder, kind string, want, status int, n int64, lat time.Duration, err error, check func() string) error {
	var ec load.ErrorCounts
	why := ""
	switch {
	case err != nil && status == 0:
		ec.Transport, why = 1, err.Error()
	case status != want:
		ec.Status, why = 1, fmt.Sprintf("status %d, want %d", status, want)
	case err != nil:
		ec.Short, why = 1, err.Error()
	case check != nil:
		if why = check(); why != "" {
			if strings.Contains(why, "bytes") {
				ec.Short = 1
			} else {
				ec.Digest = 1
			}
		}
	}
	if rec != nil {
		rec(kind, why == "", why, ec, n, lat)
	}
	if why != "" {
		return errors.New(why)
	}
	return nil
}

// soakRecorder records one request (soak.record).
type soakRecorder func(kind string, ok bool, why string, ec load.ErrorCounts, n int64, lat time.Duration)

// Targets implements Scenario: soak is a Driver.
func (s *soak) Targets() []bench.Target { return nil }

// Teardown implements Scenario.
func (s *soak) Teardown() error { return s.stack.Down() }

// record adds one request to the stats of its kind.
func (s *soak) record(kind string, ok bool, why string, ec load.ErrorCounts, n int64, lat time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[kind]
	if st == nil {
		st = &soakStats{}
		s.stats[kind] = st
	}
	st.bytes += uint64(max(n, 0))
	if ok {
		st.ok++
		st.hist.Record(lat)
		return
	}
	st.errs.Add(ec)
	if st.firstErr == "" {
		st.firstErr = why
	}
}

// Drive implements Driver: the clients, the cold publisher and the memory
// series, for the duration.
func (s *soak) Drive(ctx context.Context, _ int) ([]*bench.TargetReport, error) {
	pid := s.stack.StockpilePID
	s.interval = min(max(s.duration/200, 100*time.Millisecond), 3*time.Second)
	sampler, err := procstat.Start(pid, s.interval)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, s.duration)
	defer cancel()

	// Cold packages: one a second, never more than a few waiting.
	cold := make(chan *soakPkg, 4)
	var pub sync.WaitGroup
	pub.Go(func() {
		rng := mrand.New(mrand.NewChaCha8(formattest.Seed(s.nonce + "/cold")))
		t := time.NewTicker(soakColdEvery)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
			}
			if len(cold) == cap(cold) {
				continue
			}
			p, err := s.publish(s.stack.Root, s.stack.NginxURL, fmt.Sprintf("stockpile-bench-soak-cold-%s-%d", s.nonce, i), rng)
			if err != nil {
				s.env.Log.Error("soak: publish a cold package", "err", err)
				continue
			}
			cold <- p
		}
	})

	var wg sync.WaitGroup
	var coldMu sync.Mutex
	progress := time.NewTicker(min(time.Minute, s.duration/4+time.Millisecond))
	defer progress.Stop()
	t0 := time.Now()
	sampler.MeasureStart()
	for w := range s.clients {
		wg.Go(func() {
			c := load.Client(soakTimeout, false) // keep-alive, as npm's agent is
			defer c.CloseIdleConnections()
			rng := mrand.New(mrand.NewPCG(uint64(w), formattest.Hash64(s.nonce)))
			buf := make([]byte, 512<<10)
			for i := 0; rctx.Err() == nil; i++ {
				if rng.Float64() < soakNotFound {
					s.missing(rctx, c, rng, buf, w, i)
					continue
				}
				select {
				case p := <-cold:
					coldMu.Lock()
					s.cold++
					coldMu.Unlock()
					_, _ = s.install(rctx, c, p, buf, s.record)
					continue
				default:
				}
				// Popular packages more often: an exponential over the pool.
				idx := min(int(rng.ExpFloat64()*float64(len(s.warm))/4), len(s.warm)-1)
				_, _ = s.install(rctx, c, s.warm[idx], buf, s.record)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	warmed := time.NewTimer(s.warmup)
	defer warmed.Stop()
	var dbErr error
	dbSample := func(i int) {
		if s.stack.DataDir == "" || dbErr != nil {
			return
		}
		s.db[i], dbErr = procstat.DatabaseBytes(s.stack.DataDir)
	}
wait:
	for {
		select {
		case <-done:
			break wait
		case <-warmed.C:
			dbSample(0)
		case <-progress.C:
			m, _ := procfs.ReadMemStatus(pid)
			s.mu.Lock()
			var n, bad uint64
			for _, st := range s.stats {
				n += st.ok
				bad += st.errs.Total()
			}
			s.mu.Unlock()
			s.env.Log.Info("soak: progress", "elapsed", time.Since(t0).Round(time.Second), "requests", n+bad, "errors", bad,
				"rss_mib", m.RSS>>20, "anon_mib", m.Anon>>20, "file_mib", m.File>>20)
		}
	}
	s.elapsed = time.Since(t0)
	sampler.MeasureEnd()
	dbSample(1)
	s.dbOK = s.stack.DataDir != "" && dbErr == nil && s.elapsed > s.warmup
	if dbErr != nil {
		s.env.Log.Warn("soak: measuring the database", "err", dbErr)
	}
	pub.Wait()
	st := sampler.Stop()
	s.server = &st
	s.series = sampler.Series()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []*bench.TargetReport
	for i, kind := range soakKinds {
		stats := s.stats[kind]
		if stats == nil {
			stats = &soakStats{}
		}
		res := &load.Result{OK: stats.ok, Errors: stats.errs, Bytes: stats.bytes, Elapsed: s.elapsed, Latency: &stats.hist}
		res.Requests = res.OK + res.Errors.Total()
		rr := bench.RoundResult{Round: 1, Load: load.Config{Connections: s.clients, Duration: s.duration}, Result: res}
		if i == 0 {
			rr.Server = s.server // the server's CPU and RSS over the whole soak, once
		}
		out = append(out, &bench.TargetReport{Target: bench.Target{Name: "soak " + kind, Side: bench.SideStockpile, PID: pid, Request: load.Request{URL: s.stack.RepoURL + "/"}}, Rounds: []bench.RoundResult{rr}})
	}
	return out, nil
}

// missing asks for a package that does not exist, or for a version of a
// warm package that does not exist, and wants 404.
func (s *soak) missing(ctx context.Context, c *http.Client, rng *mrand.Rand, buf []byte, w, i int) {
	url := fmt.Sprintf("%s/stockpile-bench-soak-missing-%s-%d-%d", s.stack.RepoURL, s.nonce, w, i)
	if rng.IntN(2) == 0 {
		p := s.warm[rng.IntN(len(s.warm))]
		url = s.stack.RepoURL + formattest.NPMTarballPath(p.name, "9.9.9")
	}
	t0 := time.Now()
	status, _, n, _, err := soakGet(ctx, c, url, s.stack.Header(npmInstallAccept), buf, false)
	if ctx.Err() != nil {
		return
	}
	_ = soakJudge(s.record, soakMissing, http.StatusNotFound, status, n, time.Since(t0), err, nil)
}

// Check implements Checker: no error, the warm-up RSS, and the slopes.
func (s *soak) Check(ctx context.Context, _ []*bench.TargetReport) ([]bench.Finding, error) {
	if len(s.series) == 0 {
		return nil, errors.New("soak: no memory sample")
	}
	var total, bad uint64
	var parts, firsts []string
	for _, kind := range soakKinds {
		st := s.stats[kind]
		if st == nil {
			parts = append(parts, kind+" 0")
			continue
		}
		total += st.ok + st.errs.Total()
		bad += st.errs.Total()
		parts = append(parts, fmt.Sprintf("%s %d", kind, st.ok+st.errs.Total()))
		if st.firstErr != "" {
			firsts = append(firsts, kind+": "+st.firstErr)
		}
	}
	errs := bench.Finding{Name: "errors", OK: bad == 0, Value: fmt.Sprintf("%d of %d requests", bad, total)}
	if len(firsts) > 0 {
		errs.Value += " (first: " + strings.Join(firsts, "; ") + ")"
	}
	w := procstat.MemAt(s.series, s.warmup)
	last := s.series[len(s.series)-1]
	p := procstat.Peaks(s.series)
	perMin := func(b float64) string { return fmt.Sprintf("%+.2f MiB/min", b/(1<<20)) }
	rss, n := procstat.Slope(s.series, s.warmup, func(m procfs.MemStatus) uint64 { return m.RSS })
	anon, _ := procstat.Slope(s.series, s.warmup, func(m procfs.MemStatus) uint64 { return m.Anon })
	file, _ := procstat.Slope(s.series, s.warmup, func(m procfs.MemStatus) uint64 { return m.File })
	after := s.elapsed - s.warmup
	out := []bench.Finding{
		errs,
		{Name: "requests", OK: total > 0, Value: fmt.Sprintf("%s in %s (%.0f/s; %d cold packages published and installed)",
			strings.Join(parts, ", "), s.elapsed.Round(time.Second), float64(total)/s.elapsed.Seconds(), s.cold)},
		{Name: "RSS at the end of the warm-up", OK: true, Value: fmt.Sprintf("%s at %s (RssAnon %s, RssFile %s); at the end %s (RssAnon %s, RssFile %s); peak %s",
			memMiB(w.RSS), w.At.Round(time.Second), memMiB(w.Anon), memMiB(w.File), memMiB(last.RSS), memMiB(last.Anon), memMiB(last.File), memMiB(p.RSS))},
	}
	vmrss := fmt.Sprintf("%s over %s (%d samples every %s)", perMin(rss), after.Round(time.Second), n, s.interval)
	if !s.dbOK {
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
				Value: fmt.Sprintf("%s (%s → %s)", perMin(db), memMiB(s.db[0]), memMiB(s.db[1]))},
			bench.Finding{Name: fmt.Sprintf("VmRSS slope less the database's growth (flat: at most %s)", perMin(soakMaxSlope)), OK: rest <= soakMaxSlope, Value: perMin(rest)})
	}
	return append(out,
		bench.Finding{Name: "RssAnon slope after the warm-up (heap, stacks, buffers)", OK: anon <= soakMaxSlope, Value: perMin(anon)},
		bench.Finding{Name: "RssFile slope after the warm-up (mapped files; informative)", OK: true, Value: perMin(file)}), nil
}

// Info implements Describer.
func (s *soak) Info() map[string]any {
	m := s.stack.Info()
	m["duration"] = s.duration.String()
	m["warmup"] = s.warmup.String()
	m["clients"] = s.clients
	m["warm_packages"] = len(s.warm)
	m["cold_every"] = soakColdEvery.String()
	m["memory_sample_interval"] = s.interval.String()
	return m
}

// Data implements DataProvider: the memory series.
func (s *soak) Data() map[string]any {
	return map[string]any{"memory_series": s.series}
}
