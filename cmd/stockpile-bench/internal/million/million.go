// Package million is the million scenario: warm latency and start-up with
// 1,000,000 cached versions against 1,000 (see the comment below).
package million

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/procstat"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest/procfs"
)

// The million scenario checks the target "1,000,000 cached package
// versions: warm p99 latency within 2 times of the 1,000-version case, and
// start-up under 3 seconds".
//
// It writes the records of N npm package versions (10 per package, one
// tarball each) straight into a data directory with the storage and model
// packages — the encoding the resolver itself writes, no HTTP — then starts
// the stockpile binary on it, and on a second directory of 1,000 versions
// built the same way. The repository holding the records has no external
// connection: every answer comes from records and blobs. Measured:
//
//   - start-up: process start to the first 200 of /-/ready, several times;
//   - a warm-up pass: every sampled URL once, one client (the first touch,
//     read from Badger; reported, not judged);
//   - warm latency: C connections ask random URLs of the sample (tarballs,
//     then packuments) for D, 1M and 1K servers in turn, R rounds; the
//     judged number is p99(1M)/p99(1K) of the medians over rounds.
//
// -million-dir and -million-versions set the first two of its knobs; the
// environment sets them all:
//
//	STOCKPILE_BENCH_MILLION_DIR       keep the populated 1M data here and reuse it
//	                                  on later runs (populate once: about a minute)
//	STOCKPILE_BENCH_MILLION_VERSIONS  versions of the large case (1000000)
//	STOCKPILE_BENCH_MILLION_SAMPLE    packages and tarballs sampled (1000)
//	STOCKPILE_BENCH_MILLION_CONNS     connections of the warm runs (8)
//	STOCKPILE_BENCH_MILLION_DURATION  measured time of each warm run (10s)
//	STOCKPILE_BENCH_MILLION_ROUNDS    rounds (3)
//	STOCKPILE_BENCH_MILLION_STARTS    start-ups measured on the 1M data (3)

// Names and layout of the populated data.
const (
	millionDomain = "bench"
	millionRepo   = "cache"
	// millionLayout changes whenever what populate writes changes: a kept
	// directory of another layout is refused, not reused.
	millionLayout   = 2
	millionMarker   = "stockpile-bench-million.json"
	millionDataDir  = "data"
	millionBlobs    = 4
	millionConn     = "public:npmjs"
	millionUpstream = "http://127.0.0.1:9/" // recorded origin only: never contacted
	// millionBatchBytes bounds one storage.Apply (Badger refuses
	// transactions above 15 % of the 32 MiB memtable).
	millionBatchBytes = 2 << 20
)

// Targets of the scenario.
const (
	millionStartupLimit = 3 * time.Second
	millionMaxP99Ratio  = 2.0
)

// millionOptions are the scenario's knobs.
type millionOptions struct {
	// Dir keeps the large case's data (reused when it was populated with
	// the same Versions and layout); empty: a temporary directory.
	Dir        string
	Versions   int // large case
	Baseline   int // small case
	PerPackage int
	// Sample is how many packages (packuments) and versions (tarballs) are
	// asked, at most all of them.
	Sample      int
	Connections int
	Duration    time.Duration
	Warmup      time.Duration
	Rounds      int
	Starts      int
	Seed        uint64
}

func defaultMillionOptions() millionOptions {
	return millionOptions{
		Versions: 1_000_000, Baseline: 1_000, PerPackage: 10,
		Sample: 1_000, Connections: 8, Duration: 10 * time.Second, Warmup: time.Second,
		Rounds: 3, Starts: 3, Seed: 1,
	}
}

// millionOptionsFromEnv reads the STOCKPILE_BENCH_MILLION_* variables.
func millionOptionsFromEnv(getenv func(string) string) (millionOptions, error) {
	o := defaultMillionOptions()
	o.Dir = getenv("STOCKPILE_BENCH_MILLION_DIR")
	var errs []error
	ints := []struct {
		name string
		dst  *int
	}{
		{"VERSIONS", &o.Versions}, {"SAMPLE", &o.Sample}, {"CONNS", &o.Connections},
		{"ROUNDS", &o.Rounds}, {"STARTS", &o.Starts},
	}
	for _, v := range ints {
		if s := getenv("STOCKPILE_BENCH_MILLION_" + v.name); s != "" {
			n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
			if err != nil {
				errs = append(errs, fmt.Errorf("STOCKPILE_BENCH_MILLION_%s=%q: not a number", v.name, s))
				continue
			}
			*v.dst = n
		}
	}
	if s := getenv("STOCKPILE_BENCH_MILLION_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("STOCKPILE_BENCH_MILLION_DURATION=%q: %w", s, err))
		}
		o.Duration = d
	}
	errs = append(errs, o.validate())
	return o, errors.Join(errs...)
}

func (o millionOptions) validate() error {
	var errs []error
	if o.PerPackage < 1 || o.PerPackage > 100 {
		errs = append(errs, fmt.Errorf("million: %d versions per package: want 1..100", o.PerPackage))
	}
	if o.Versions < o.PerPackage || o.Versions > 20_000_000 {
		errs = append(errs, fmt.Errorf("million: %d versions: want %d..20000000", o.Versions, o.PerPackage))
	}
	if o.Baseline < o.PerPackage || o.Baseline > o.Versions {
		errs = append(errs, fmt.Errorf("million: baseline of %d versions: want %d..%d", o.Baseline, o.PerPackage, o.Versions))
	}
	if o.Sample < 1 || o.Sample > 100_000 {
		errs = append(errs, fmt.Errorf("million: sample of %d: want 1..100000", o.Sample))
	}
	if o.Connections < 1 || o.Connections > load.MaxConnections {
		errs = append(errs, fmt.Errorf("million: %d connections: want 1..%d", o.Connections, load.MaxConnections))
	}
	if o.Duration <= 0 || o.Duration > load.MaxDuration || o.Warmup < 0 || o.Warmup > load.MaxWarmup {
		errs = append(errs, fmt.Errorf("million: duration %s, warm-up %s: want (0, %s] and [0, %s]", o.Duration, o.Warmup, load.MaxDuration, load.MaxWarmup))
	}
	if o.Rounds < 1 || o.Rounds > bench.MaxRounds || o.Starts < 1 || o.Starts > 10 {
		errs = append(errs, fmt.Errorf("million: %d rounds, %d starts: want 1..%d and 1..10", o.Rounds, o.Starts, bench.MaxRounds))
	}
	return errors.Join(errs...)
}

// ---- servers ----------------------------------------------------------------

// millionServer is a Stockpile started on a populated directory.
type millionServer struct {
	label   string // "1M", "1K"
	workDir string // configuration and log, below stockpile-LABEL
	dataDir string
	srv     *stack.Server
	repoURL string // URL/bench/npm/cache
	starts  []time.Duration
}

// start starts Stockpile on the records and records its start-up time.
func (m *millionServer) start(ctx context.Context, bin string, log *slog.Logger) error {
	dir := filepath.Join(m.workDir, "stockpile-"+m.label)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("million: %w", err)
	}
	srv, err := stack.StartStockpile(ctx, bin, dir, stack.StockpileConfig{DataDir: m.dataDir, Standalone: []string{millionRepo}}, log)
	if err != nil {
		return fmt.Errorf("million: stockpile %s: %w", m.label, err)
	}
	m.srv, m.repoURL = srv, srv.URL+"/"+millionDomain+"/npm/"+millionRepo
	m.starts = append(m.starts, srv.Startup)
	return nil
}

func (m *millionServer) stop() error {
	if m.srv == nil {
		return nil
	}
	err := stack.StopStockpile(m.srv.Child)
	m.srv = nil
	return err
}

// rss is the server's resident set: anonymous memory (the heap) and file
// pages (Badger's mmap'd tables, reclaimable).
func (m *millionServer) rss() procfs.MemStatus {
	if m.srv == nil {
		return procfs.MemStatus{}
	}
	st, _ := procfs.ReadMemStatus(m.srv.PID())
	return st
}

// ---- samples and load ---------------------------------------------------------

// millionURL is one sampled request and the length its body must have.
type millionURL struct {
	URL    string
	Accept string
	Bytes  int64 // learned in the warm-up pass for packuments
	SHA256 string
}

// millionSample picks the packuments and tarballs asked of a server:
// sample distinct packages, and sample distinct versions, at random.
func millionSample(spec millionSpec, pop *millionPopulated, repoURL string, sample int, seed uint64) (docs, tgzs []millionURL) {
	rng := rand.New(rand.NewPCG(seed, uint64(spec.Versions)))
	n := spec.packages()
	for _, i := range rng.Perm(n)[:min(sample, n)] {
		p := millionPackage(i)
		docs = append(docs, millionURL{URL: repoURL + "/" + millionEscaped(p), Accept: "application/json"})
	}
	// Versions are numbered i*PerPackage+j; the last package may be short.
	picked := map[int]bool{}
	for len(tgzs) < min(sample, spec.Versions) {
		k := rng.IntN(spec.Versions)
		if picked[k] {
			continue
		}
		picked[k] = true
		i, j := k/spec.PerPackage, k%spec.PerPackage
		p := millionPackage(i)
		v := millionVersion(i, j)
		b := pop.Blobs[(i+j)%len(pop.Blobs)]
		tgzs = append(tgzs, millionURL{
			URL:   repoURL + "/" + millionDisplay(p) + "/-/" + millionTarballName(p, v),
			Bytes: b.Size, SHA256: b.SHA256,
		})
	}
	return docs, tgzs
}

// millionWarm asks every URL once, in order, with one client: the first
// touch of each, served from Badger. It checks the answers (tarballs by
// digest, packuments by their versions and tarball links) and records each
// packument's length.
func millionWarm(ctx context.Context, urls []millionURL, spec millionSpec, repoURL string, timeout time.Duration) (*load.Histogram, error) {
	c := load.Client(timeout, false)
	defer c.CloseIdleConnections()
	h := &load.Histogram{}
	for k := range urls {
		u := &urls[k]
		var hd http.Header
		if u.Accept != "" {
			hd = http.Header{"Accept": {u.Accept}}
		}
		t0 := time.Now()
		body, err := load.Fetch(ctx, c, u.URL, hd)
		lat := time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("million: warm: %w", err)
		}
		if u.SHA256 != "" {
			sum := sha256.Sum256(body)
			if hex.EncodeToString(sum[:]) != u.SHA256 || int64(len(body)) != u.Bytes {
				return nil, fmt.Errorf("million: warm %s: %d bytes, not the blob %s", u.URL, len(body), u.SHA256)
			}
		} else {
			if err := millionCheckPackument(body, spec, repoURL); err != nil {
				return nil, fmt.Errorf("million: warm %s: %w", u.URL, err)
			}
			u.Bytes = int64(len(body))
		}
		h.Record(lat)
	}
	return h, nil
}

// millionCheckPackument checks that a packument lists its package's
// versions with tarballs below the repository and their digests.
func millionCheckPackument(doc []byte, spec millionSpec, repoURL string) error {
	var p struct {
		Name     string            `json:"name"`
		DistTags map[string]string `json:"dist-tags"`
		Versions map[string]struct {
			Dist struct {
				Tarball   string `json:"tarball"`
				Integrity string `json:"integrity"`
			} `json:"dist"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		return fmt.Errorf("packument is not JSON: %w", err)
	}
	if len(p.Versions) == 0 || len(p.Versions) > spec.PerPackage {
		return fmt.Errorf("packument of %s has %d versions, want 1..%d", p.Name, len(p.Versions), spec.PerPackage)
	}
	if _, ok := p.Versions[p.DistTags["latest"]]; !ok {
		return fmt.Errorf("packument of %s: latest %q is not listed", p.Name, p.DistTags["latest"])
	}
	for v, vo := range p.Versions {
		if !strings.HasPrefix(vo.Dist.Tarball, repoURL+"/") || !strings.HasPrefix(vo.Dist.Integrity, "sha512-") {
			return fmt.Errorf("packument of %s: version %s has tarball %q and integrity %q", p.Name, v, vo.Dist.Tarball, vo.Dist.Integrity)
		}
	}
	return nil
}

// ---- the scenario -------------------------------------------------------------

// million is the scenario.
type million struct {
	env  bench.Env
	opts millionOptions
	// optsErr is a bad STOCKPILE_BENCH_MILLION_* variable, reported by Setup.
	optsErr error

	workDir string
	bigDir  string // the 1M data (kept when opts.Dir is set)
	big     *millionPopulated
	small   *millionPopulated
	bigSrv  millionServer
	smSrv   millionServer
	bigUse  [2]int64 // on disk, apparent
	// samples, per case: packuments and tarballs
	bigDocs, bigTgzs []millionURL
	smDocs, smTgzs   []millionURL
	firstTouch       map[string]*load.Histogram // "1M tarball" → warm-up pass latencies
	rss              map[string]procfs.MemStatus
	results          map[string]bench.Summary // "1M tarball" → medians over rounds
}

// New returns the million scenario; its knobs come from env and the
// STOCKPILE_BENCH_MILLION_* variables.
func New(env bench.Env) bench.Scenario { return newMillion(env) }

func newMillion(env bench.Env) *million {
	o, err := millionOptionsFromEnv(os.Getenv)
	if err == nil && (env.MillionDir != "" || env.MillionVersions != 0) {
		if env.MillionDir != "" {
			o.Dir = env.MillionDir
		}
		if env.MillionVersions != 0 {
			o.Versions = env.MillionVersions
		}
		err = o.validate()
	}
	return newMillionWith(env, o, err)
}

func newMillionWith(env bench.Env, o millionOptions, err error) *million {
	m := &million{env: env, opts: o, optsErr: err}
	m.bigSrv.label, m.smSrv.label = "1M", "1K"
	if o.Versions != 1_000_000 {
		m.bigSrv.label = fmt.Sprintf("%dv", o.Versions)
	}
	if o.Baseline != 1_000 {
		m.smSrv.label = fmt.Sprintf("%dv", o.Baseline)
	}
	return m
}

// Name implements Scenario.
func (m *million) Name() string { return "million" }

// Setup implements Scenario: populate (or reuse) both directories, measure
// the large case's start-up opts.Starts times, start the baseline, and warm
// both with every sampled URL.
func (m *million) Setup(ctx context.Context) error {
	if m.optsErr != nil {
		return m.optsErr
	}
	if m.env.Target != "" {
		return errors.New("million: starts its own Stockpile on directories it populates; --target is not supported")
	}
	if m.env.Stockpile == "" {
		return errors.New("million: no stockpile binary")
	}
	log := m.env.Log
	dir, err := os.MkdirTemp(m.env.TempRoot, "stockpile-bench-million-*")
	if err != nil {
		return fmt.Errorf("million: %w", err)
	}
	m.workDir = dir
	m.bigDir = m.opts.Dir
	if m.bigDir == "" {
		m.bigDir = filepath.Join(dir, "big")
	}
	spec := millionSpec{Layout: millionLayout, Versions: m.opts.Versions, PerPackage: m.opts.PerPackage}
	if m.big, err = millionPopulate(ctx, m.bigDir, spec, log); err != nil {
		return err
	}
	smSpec := millionSpec{Layout: millionLayout, Versions: m.opts.Baseline, PerPackage: m.opts.PerPackage}
	smDir := filepath.Join(dir, "small")
	if m.small, err = millionPopulate(ctx, smDir, smSpec, log); err != nil {
		return err
	}
	onDisk, apparent, err := procstat.DirUsage(m.bigDir)
	if err != nil {
		return fmt.Errorf("million: %w", err)
	}
	m.bigUse = [2]int64{onDisk, apparent}

	m.bigSrv.workDir, m.bigSrv.dataDir = dir, filepath.Join(m.bigDir, millionDataDir)
	m.smSrv.workDir, m.smSrv.dataDir = dir, filepath.Join(smDir, millionDataDir)
	for k := range m.opts.Starts {
		if k > 0 {
			if err := m.bigSrv.stop(); err != nil {
				return err
			}
		}
		if err := m.bigSrv.start(ctx, m.env.Stockpile, log); err != nil {
			return err
		}
	}
	if err := m.smSrv.start(ctx, m.env.Stockpile, log); err != nil {
		return err
	}

	m.bigDocs, m.bigTgzs = millionSample(spec, m.big, m.bigSrv.repoURL, m.opts.Sample, m.opts.Seed)
	m.smDocs, m.smTgzs = millionSample(smSpec, m.small, m.smSrv.repoURL, m.opts.Sample, m.opts.Seed)
	m.firstTouch = map[string]*load.Histogram{}
	for _, w := range []struct {
		name string
		urls []millionURL
		spec millionSpec
		srv  *millionServer
	}{
		{m.bigSrv.label + " tarball", m.bigTgzs, spec, &m.bigSrv},
		{m.bigSrv.label + " packument", m.bigDocs, spec, &m.bigSrv},
		{m.smSrv.label + " tarball", m.smTgzs, smSpec, &m.smSrv},
		{m.smSrv.label + " packument", m.smDocs, smSpec, &m.smSrv},
	} {
		h, err := millionWarm(ctx, w.urls, w.spec, w.srv.repoURL, m.timeout())
		if err != nil {
			return err
		}
		m.firstTouch[w.name] = h
		log.Info("million: warmed", "target", w.name, "urls", len(w.urls), "first_touch_p99", h.Percentile(99).Round(time.Microsecond))
	}
	return nil
}

func (m *million) timeout() time.Duration {
	if m.env.Timeout > 0 {
		return m.env.Timeout
	}
	return 30 * time.Second
}

// Targets implements Scenario: the warm runs, each asking random URLs of
// its sample, 1M and 1K in turn, with the scenario's own connections,
// duration and rounds; bodies are read whole and their length checked.
func (m *million) Targets() []bench.Target {
	var out []bench.Target
	for _, r := range []struct {
		name string
		urls []millionURL
		srv  *millionServer
	}{
		{m.bigSrv.label + " tarball", m.bigTgzs, &m.bigSrv},
		{m.smSrv.label + " tarball", m.smTgzs, &m.smSrv},
		{m.bigSrv.label + " packument", m.bigDocs, &m.bigSrv},
		{m.smSrv.label + " packument", m.smDocs, &m.smSrv},
	} {
		t := bench.Target{Name: r.name, Side: bench.SideStockpile, PID: r.srv.srv.PID(),
			Load: &bench.LoadOverride{Connections: m.opts.Connections, Warmup: m.opts.Warmup, Duration: m.opts.Duration,
				Rounds: m.opts.Rounds, Seed: m.opts.Seed}}
		for _, u := range r.urls {
			req := load.Request{URL: u.URL}
			if u.Accept != "" {
				req.Header = http.Header{"Accept": {u.Accept}}
			}
			t.Mix = append(t.Mix, req)
			t.Expects = append(t.Expects, load.Expect{Status: http.StatusOK, Bytes: u.Bytes})
		}
		t.Request = t.Mix[0]
		out = append(out, t)
	}
	return out
}

// Check implements Checker: the verdicts on the warm runs and start-ups.
func (m *million) Check(_ context.Context, results []*bench.TargetReport) ([]bench.Finding, error) {
	m.results = map[string]bench.Summary{}
	for _, tr := range results {
		m.results[tr.Target.Name] = tr.Median()
	}
	m.rss = map[string]procfs.MemStatus{m.bigSrv.label: m.bigSrv.rss(), m.smSrv.label: m.smSrv.rss()}
	return m.findings(), nil
}

// findings judges the run.
func (m *million) findings() []bench.Finding {
	var out []bench.Finding
	big, sm := m.bigSrv.label, m.smSrv.label
	worst := slices.Max(m.bigSrv.starts)
	var starts []string
	for _, s := range m.bigSrv.starts {
		starts = append(starts, bench.FmtDur(s))
	}
	out = append(out, bench.Finding{
		Name: fmt.Sprintf("start-up with %d versions (process start → /-/ready 200)", m.opts.Versions),
		Value: fmt.Sprintf("%s worst of %d (%s; %s with %d versions: %s), want under %s",
			bench.FmtDur(worst), len(starts), strings.Join(starts, ", "), sm, m.opts.Baseline, bench.FmtDur(m.smSrv.starts[0]), millionStartupLimit),
		OK: worst < millionStartupLimit,
	})
	var errs uint64
	for _, kind := range []string{"tarball", "packument"} {
		b, s := m.results[big+" "+kind], m.results[sm+" "+kind]
		ratio := 0.0
		if s.P99 > 0 {
			ratio = float64(b.P99) / float64(s.P99)
		}
		out = append(out, bench.Finding{
			Name: fmt.Sprintf("warm %s p99 %s/%s", kind, big, sm),
			Value: fmt.Sprintf("%.2f (%s vs %s; p50 %s vs %s; %.0f vs %.0f req/s; medians of %d rounds), want at most %.0f",
				ratio, bench.FmtDur(b.P99), bench.FmtDur(s.P99), bench.FmtDur(b.P50), bench.FmtDur(s.P50),
				b.RPS, s.RPS, b.Rounds, millionMaxP99Ratio),
			OK: ratio > 0 && ratio <= millionMaxP99Ratio,
		})
		errs += b.Errors + s.Errors
		fb, fs := m.firstTouch[big+" "+kind], m.firstTouch[sm+" "+kind]
		out = append(out, bench.Finding{
			Name: fmt.Sprintf("first touch %s p99 %s/%s (warm-up pass, one client, from Badger; not judged)", kind, big, sm),
			Value: fmt.Sprintf("%.2f (%s vs %s; p50 %s vs %s)", float64(fb.Percentile(99))/float64(max(fs.Percentile(99), 1)),
				bench.FmtDur(fb.Percentile(99)), bench.FmtDur(fs.Percentile(99)), bench.FmtDur(fb.Percentile(50)), bench.FmtDur(fs.Percentile(50))),
			OK: true,
		})
	}
	out = append(out, bench.Finding{Name: "errors in the warm runs", Value: fmt.Sprint(errs), OK: errs == 0})
	reused := ""
	if m.big.Reused {
		reused = " (earlier run; reused)"
	}
	out = append(out, bench.Finding{
		Name: fmt.Sprintf("populate %d versions of %d packages", m.opts.Versions, m.big.Packages),
		Value: fmt.Sprintf("%s%s, %.0f versions/s; data dir %s on disk (%s apparent)",
			bench.FmtDur(m.big.duration()), reused, float64(m.opts.Versions)/m.big.duration().Seconds(),
			bench.FmtBytes(uint64(m.bigUse[0])), bench.FmtBytes(uint64(m.bigUse[1]))),
		OK: true,
	})
	rss := func(r procfs.MemStatus) string {
		return fmt.Sprintf("%s (anon %s, file %s)", bench.FmtBytes(r.RSS), bench.FmtBytes(r.Anon), bench.FmtBytes(r.File))
	}
	out = append(out, bench.Finding{
		Name:  "stockpile RSS after the runs (file: Badger's mmap'd tables)",
		Value: fmt.Sprintf("%s: %s; %s: %s", big, rss(m.rss[big]), sm, rss(m.rss[sm])),
		OK:    true,
	})
	return out
}

// Info implements Describer.
func (m *million) Info() map[string]any {
	info := map[string]any{
		"versions": m.opts.Versions, "baseline_versions": m.opts.Baseline, "versions_per_package": m.opts.PerPackage,
		"sample": m.opts.Sample, "connections": m.opts.Connections, "duration_s": m.opts.Duration.Seconds(),
		"rounds": m.opts.Rounds, "stockpile_binary": m.env.Stockpile,
	}
	if m.big != nil {
		info["populate_s"] = m.big.Seconds
		info["populate_reused"] = m.big.Reused
		info["packages"] = m.big.Packages
		info["data_dir_bytes_on_disk"] = m.bigUse[0]
		info["data_dir_bytes_apparent"] = m.bigUse[1]
	}
	if m.opts.Dir != "" {
		info["million_dir"] = m.opts.Dir
	}
	var starts []float64
	for _, s := range m.bigSrv.starts {
		starts = append(starts, s.Seconds())
	}
	if len(starts) > 0 {
		info["startup_s"] = starts
	}
	if len(m.smSrv.starts) > 0 {
		info["baseline_startup_s"] = m.smSrv.starts[0].Seconds()
	}
	for name, sum := range m.results {
		key := strings.ReplaceAll(name, " ", "_")
		info[key+"_p99_ms"] = bench.MS(sum.P99)
		info[key+"_p50_ms"] = bench.MS(sum.P50)
		info[key+"_rps"] = sum.RPS
	}
	for name, h := range m.firstTouch {
		info["first_touch_"+strings.ReplaceAll(name, " ", "_")+"_p99_ms"] = bench.MS(h.Percentile(99))
	}
	for label, v := range m.rss {
		info["rss_"+label+"_bytes"] = v.RSS
		info["rss_anon_"+label+"_bytes"] = v.Anon
		info["rss_file_"+label+"_bytes"] = v.File
	}
	if m.env.Keep && m.workDir != "" {
		info["work_dir"] = m.workDir
	}
	return info
}

// Teardown implements Scenario: stop both servers, remove the working
// directory (and the 1M data unless it was given) unless --keep.
func (m *million) Teardown() error {
	errs := []error{m.bigSrv.stop(), m.smSrv.stop()}
	if m.workDir != "" {
		errs = append(errs, m.env.RemoveDir(m.workDir, "working directory"))
		m.workDir = ""
	}
	return errors.Join(errs...)
}
