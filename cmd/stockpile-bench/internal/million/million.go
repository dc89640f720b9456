// Package million is the million scenario. It checks the target
// "1,000,000 cached package versions: warm p99 latency within 2 times of
// the 1,000-version case, and start-up under 3 seconds".
//
// It writes the records of N npm package versions (-million-versions,
// 1,000,000; 10 per package, one tarball each) into a data directory as
// the resolver encodes them (-million-dir keeps it for later runs), and
// 1,000 versions into another, then starts the stockpile binary on each.
// Measured: start-up (process start to the first 200 of /-/ready, three
// times on the large data); a first touch of every sampled URL, one client,
// each body checked (reported, not judged); warm latency under the command
// line's load (-c, -d, -warmup, -rounds) on random URLs of the sample (1,000
// tarballs, then 1,000 packuments), large and small in turn, judged on
// p99(large)/p99(small) of the medians; and each server's RSS after the runs.
package million

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/procstat"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest/procfs"
)

// The scenario's sizes and targets.
const (
	defaultVersions = 1_000_000
	baseline        = 1_000
	maxVersions     = 20_000_000
	startupLimit    = 3 * time.Second
	maxP99Ratio     = 2.0
	startups        = 3 // measured on the large data
)

// million is the scenario.
type million struct {
	env      bench.Env
	versions int
	sample   int // packages (packuments) and versions (tarballs) asked
	work     string
	big, sm  *server
	bigUse   [2]int64 // the large data on disk, apparent
	targets  []*target
}

// server is a Stockpile on a populated directory.
type server struct {
	label, dir string // "1M"; the populated directory
	spec       spec
	pop        *populated
	srv        *stack.Server
	base       string           // its repository's URL, with a trailing slash
	starts     []float64        // seconds to ready
	rss        procfs.MemStatus // after the runs
}

// target is one kind of URL sampled on one server, as the runner asks it.
type target struct {
	name   string // "1M tarball"
	srv    *server
	reqs   []load.Request
	checks []func(body []byte) error // each first-touch body's
	first  *load.Histogram           // the first touch
}

// New returns the million scenario (-million-versions and -million-dir come
// in env).
func New(env bench.Env) bench.Scenario {
	return &million{env: env, versions: cmp.Or(env.MillionVersions, defaultVersions), sample: 1_000}
}

// Name implements Scenario.
func (m *million) Name() string { return "million" }

// Setup implements Scenario: populate (or reuse) both directories, start
// the large case three times and the small one, and touch every sampled
// URL once.
func (m *million) Setup(ctx context.Context) error {
	switch {
	case m.versions < baseline || m.versions > maxVersions:
		return fmt.Errorf("million: %d versions: want %d..%d", m.versions, baseline, maxVersions)
	case m.env.Target != "":
		return errors.New("million: starts its own Stockpile on directories it populates; --target is not supported")
	case m.env.Stockpile == "":
		return errors.New("million: no stockpile binary")
	}
	dir, err := os.MkdirTemp(m.env.TempRoot, "stockpile-bench-million-*")
	if err != nil {
		return fmt.Errorf("million: %w", err)
	}
	m.work = dir
	m.big = &server{label: fmt.Sprintf("%dv", m.versions), dir: cmp.Or(m.env.MillionDir, filepath.Join(dir, "big")), spec: spec{layout, m.versions}}
	if m.versions == defaultVersions {
		m.big.label = "1M"
	}
	m.sm = &server{label: "1K", dir: filepath.Join(dir, "small"), spec: spec{layout, baseline}}
	for _, s := range []*server{m.big, m.sm} {
		if s.pop, err = populate(ctx, s.dir, s.spec, m.env.Log); err != nil {
			return err
		}
	}
	if m.bigUse[0], m.bigUse[1], err = procstat.DirUsage(m.big.dir, true); err != nil {
		return fmt.Errorf("million: %w", err)
	}
	for _, s := range append(slices.Repeat([]*server{m.big}, startups), m.sm) {
		if err := errors.Join(s.stop(), s.start(ctx, m)); err != nil {
			return err
		}
	}
	for k, s := range []*server{m.big, m.sm, m.big, m.sm} {
		t := s.sample(k < 2, m.sample)
		if err := t.touch(ctx, cmp.Or(m.env.Timeout, 30*time.Second)); err != nil {
			return err
		}
		m.targets = append(m.targets, t)
		m.env.Log.Info("million: first touch", "target", t.name, "urls", len(t.reqs), "p99", t.first.Percentile(99).Round(time.Microsecond))
	}
	return nil
}

// start starts Stockpile on s's data and records its start-up time.
func (s *server) start(ctx context.Context, m *million) error {
	cfg := stack.Config(filepath.Join(s.dir, dataSubdir))
	cfg.Domains[0].Repositories = []proxy.RepositoryConfig{{Name: repo}} // no connection
	srv, err := stack.StartStockpile(ctx, m.env.Stockpile, filepath.Join(m.work, "stockpile-"+s.label), cfg, m.env.Log)
	if err != nil {
		return fmt.Errorf("million: stockpile %s: %w", s.label, err)
	}
	s.srv, s.base, s.starts = srv, srv.URL+"/"+domain+"/npm/"+repo+"/", append(s.starts, srv.Startup.Seconds())
	return nil
}

// stop stops s's Stockpile when it runs.
func (s *server) stop() error {
	if s == nil || s.srv == nil {
		return nil
	}
	err := stack.StopStockpile(s.srv.Child)
	s.srv = nil
	return err
}

// sample returns s's target of n distinct versions' tarballs or of n
// distinct packages' packuments, picked at random (the same on every run),
// and each body's check: a tarball is its blob; a packument names the
// package, all its versions and its latest's digests and tarball link
// below the repository.
func (s *server) sample(tarballs bool, n int) *target {
	rng := rand.New(rand.NewPCG(1, uint64(s.spec.Versions)))
	t := &target{name: s.label + " packument", srv: s}
	add := func(r load.Request, check func([]byte) error) {
		r.Want = load.Expect{Status: http.StatusOK}
		t.reqs, t.checks = append(t.reqs, r), append(t.checks, check)
	}
	if !tarballs {
		for _, i := range rng.Perm(s.spec.packages())[:min(n, s.spec.packages())] {
			p, nv := pkg(i), s.spec.versionsOf(i)
			b := s.pop.Blobs[(i+nv-1)%len(s.pop.Blobs)]
			sha512, _ := hex.DecodeString(b.SHA512)
			want := formattest.NPMPackage{Name: display(p), Version: version(i, nv-1), Versions: nv,
				Integrity: "sha512-" + base64.StdEncoding.EncodeToString(sha512), Shasum: b.SHA1}
			add(load.Request{URL: s.base + url.PathEscape(want.Name), Header: http.Header{"Accept": {"application/json"}}}, func(doc []byte) error {
				tarball, err := want.CheckPackument(doc)
				if err == nil && !strings.HasPrefix(tarball, s.base) {
					err = fmt.Errorf("tarball %s is not below %s", tarball, s.base)
				}
				return err
			})
		}
		return t
	}
	t.name = s.label + " tarball"
	for _, k := range rng.Perm(s.spec.Versions)[:min(n, s.spec.Versions)] {
		i, j := k/perPackage, k%perPackage
		p, v, b := pkg(i), version(i, j), s.pop.Blobs[(i+j)%len(s.pop.Blobs)]
		add(load.Request{URL: s.base + display(p) + "/-/" + p.Name + "-" + v + ".tgz"}, func(body []byte) error {
			if formattest.SHA256(body) != b.SHA256 {
				return fmt.Errorf("%d bytes, not the blob %s", len(body), b.SHA256)
			}
			return nil
		})
	}
	return t
}

// touch asks every URL once, in order, with one client: the first touch,
// served from Badger. It checks each body and learns its length, which the
// warm runs then expect.
func (t *target) touch(ctx context.Context, timeout time.Duration) error {
	c := load.Client(timeout, false)
	defer c.CloseIdleConnections()
	t.first = &load.Histogram{}
	for k, r := range t.reqs {
		t0 := time.Now()
		body, _, err := load.Fetch(ctx, c, r.URL, r.Header)
		t.first.Record(time.Since(t0))
		if err == nil {
			err = t.checks[k](body)
		}
		if err != nil {
			return fmt.Errorf("million: first touch of %s: %w", r.URL, err)
		}
		t.reqs[k].Want.Bytes = int64(len(body))
	}
	return nil
}

// Targets implements Scenario: each target asks random URLs of its sample,
// every body of the length it must have.
func (m *million) Targets() []bench.Target {
	var out []bench.Target
	for _, t := range m.targets {
		out = append(out, bench.Target{Name: t.name, Side: bench.SideStockpile, PID: t.srv.srv.PID(), Requests: t.reqs})
	}
	return out
}

// Check implements Checker: the verdicts on the start-ups and warm runs.
func (m *million) Check(_ context.Context, results []*bench.TargetReport) ([]bench.Finding, error) {
	for _, s := range []*server{m.big, m.sm} {
		s.rss, _ = procfs.ReadMemStatus(s.srv.PID())
	}
	worst, big, sm := slices.Max(m.big.starts), m.big.label, m.sm.label
	out := []bench.Finding{{
		Name: fmt.Sprintf("start-up with %d versions (process start → /-/ready 200)", m.versions),
		Value: fmt.Sprintf("%.3f s worst of %.3f s (%s with %d versions: %.3f s), want under %s",
			worst, m.big.starts, sm, baseline, m.sm.starts[0], startupLimit),
		OK: worst < startupLimit.Seconds(),
	}}
	var errs uint64
	for k := 0; k < len(m.targets); k += 2 {
		b, s, kind := results[k].Median(), results[k+1].Median(), strings.TrimPrefix(m.targets[k].name, big+" ") // Targets' order
		fb, fs := m.targets[k].first, m.targets[k+1].first
		ratio := float64(b.P99) / float64(max(s.P99, 1))
		errs += b.Errors + s.Errors
		out = append(out, bench.Finding{
			Name: fmt.Sprintf("warm %s p99 %s/%s", kind, big, sm),
			Value: fmt.Sprintf("%.2f (%s vs %s; p50 %s vs %s; %.0f vs %.0f req/s; medians of %d rounds), want at most %.0f",
				ratio, bench.FmtDur(b.P99), bench.FmtDur(s.P99), bench.FmtDur(b.P50), bench.FmtDur(s.P50), b.RPS, s.RPS, b.Rounds, maxP99Ratio),
			OK: b.P99 > 0 && s.P99 > 0 && ratio <= maxP99Ratio,
		}, bench.Finding{
			Name: fmt.Sprintf("first touch %s p99 %s/%s (one client, from Badger; not judged)", kind, big, sm),
			Value: fmt.Sprintf("%.2f (%s vs %s; p50 %s vs %s)", float64(fb.Percentile(99))/float64(max(fs.Percentile(99), 1)),
				bench.FmtDur(fb.Percentile(99)), bench.FmtDur(fs.Percentile(99)), bench.FmtDur(fb.Percentile(50)), bench.FmtDur(fs.Percentile(50))),
			OK: true,
		})
	}
	reused := ""
	if m.big.pop.Reused {
		reused = " (an earlier run's, reused)"
	}
	rss := func(s *server) string {
		return fmt.Sprintf("%s: %s (anon %s, file %s)", s.label, bench.FmtBytes(s.rss.RSS), bench.FmtBytes(s.rss.Anon), bench.FmtBytes(s.rss.File))
	}
	return append(out, bench.Finding{Name: "errors in the warm runs", Value: fmt.Sprint(errs), OK: errs == 0}, bench.Finding{
		Name: fmt.Sprintf("populate %d versions of %d packages", m.versions, m.big.spec.packages()),
		Value: fmt.Sprintf("%.1f s%s, %.0f versions/s; data dir %s on disk (%s apparent)", m.big.pop.Seconds, reused,
			float64(m.versions)/m.big.pop.Seconds, bench.FmtBytes(uint64(m.bigUse[0])), bench.FmtBytes(uint64(m.bigUse[1]))),
		OK: true,
	}, bench.Finding{Name: "stockpile RSS after the runs (file: Badger's mmap'd tables)", Value: rss(m.big) + "; " + rss(m.sm), OK: true}), nil
}

// Info implements Scenario: the findings' numbers (each target's medians
// are in the report's targets).
func (m *million) Info() map[string]any {
	info := map[string]any{"versions": m.versions, "baseline_versions": baseline, "sample": m.sample, "million_dir": m.env.MillionDir}
	info["populate_s"], info["populate_reused"] = m.big.pop.Seconds, m.big.pop.Reused
	info["data_dir_bytes_on_disk"], info["data_dir_bytes_apparent"] = m.bigUse[0], m.bigUse[1]
	for _, s := range []*server{m.big, m.sm} {
		l := s.label
		info["startup_s_"+l], info["rss_"+l+"_bytes"], info["rss_anon_"+l+"_bytes"], info["rss_file_"+l+"_bytes"] = s.starts, s.rss.RSS, s.rss.Anon, s.rss.File
	}
	for _, t := range m.targets {
		info["first_touch_"+strings.ReplaceAll(t.name, " ", "_")+"_p99_ms"] = bench.MS(t.first.Percentile(99))
	}
	return info
}

// Teardown implements Scenario: stop both servers and remove the working
// directory (never a -million-dir) unless --keep.
func (m *million) Teardown() error {
	errs := []error{m.big.stop(), m.sm.stop()}
	if m.work != "" {
		errs = append(errs, m.env.RemoveDir(m.work, "working directory"))
		m.work = ""
	}
	return errors.Join(errs...)
}
