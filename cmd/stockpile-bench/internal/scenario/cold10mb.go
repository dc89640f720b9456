package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/fixture"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/procstat"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

// Shape and target of cold-10mb.
const (
	cold10MBSize = 10 << 20
	// cold10MBTarget is the largest acceptable median of Stockpile's time
	// over nginx's for a cold artifact.
	cold10MBTarget = 1.15
)

// cold10MB downloads a 10 MB tarball that Stockpile has never seen (a fresh
// package per round, nothing cached, not even the packument) through app →
// npm-store → nginx, and the same file straight from nginx, in alternating
// order, and compares the total times (request to last byte, on a new
// connection each). Each round also downloads a second fresh package the
// way npm does, packument first (untimed), then the tarball (timed): the
// tarball's cold path without the packument's.
type cold10MB struct {
	env   bench.Env
	stack *stack.Stack
	nonce string
	size  int

	rounds []cold10MBRound
}

// cold10MBRound is what one round measured.
type cold10MBRound struct {
	Name, NPMName string
	// Paths are the two packages' tarball paths.
	Paths        []string
	Nginx        load.Response // the strict package's tarball from nginx
	Stockpile    load.Response // the same through Stockpile, cold
	NginxNPM     load.Response // the npm-like package's tarball from nginx
	StockpileNPM load.Response // through Stockpile, its packument fetched first
	Server       *procstat.ProcStats
}

func newCold10MB(env bench.Env) *cold10MB {
	return &cold10MB{env: env, stack: stack.New(env.Env), size: cold10MBSize}
}

// Name implements Scenario.
func (s *cold10MB) Name() string { return "cold-10mb" }

// Setup implements Scenario: nginx (with its access log, to prove each
// round's fetch is a cold one) and Stockpile; the packages are generated
// round by round.
func (s *cold10MB) Setup(ctx context.Context) error {
	s.nonce = nonce()
	return s.stack.Up(ctx, stack.Options{Scenario: s.Name(), Format: "npm", NPM: true, AccessLog: true, LimitRate: s.env.UpstreamRate})
}

// Targets implements Scenario: cold-10mb is a Driver.
func (s *cold10MB) Targets() []bench.Target { return nil }

// Teardown implements Scenario.
func (s *cold10MB) Teardown() error { return s.stack.Down() }

// publish generates a package with a 10 MB tarball and writes it below
// nginx's root.
func (s *cold10MB) publish(name string) (*formattest.NPMPackage, error) {
	f, err := formattest.GenerateNPM(formattest.NPMOptions{Name: name, Upstream: s.stack.NginxURL + "/", TarballSize: s.size})
	if err != nil {
		return nil, err
	}
	if err := fixture.WriteNPM(s.stack.Root, f); err != nil {
		return nil, err
	}
	return f, nil
}

// Drive implements Driver.
func (s *cold10MB) Drive(ctx context.Context, rounds int) ([]*bench.TargetReport, error) {
	buf := make([]byte, s.size+(1<<20))
	// download is one timed GET of a round: its answer must be want (when
	// set); sampled ones are Stockpile's measured window.
	type download struct {
		dst     *load.Response
		url     string
		h       http.Header
		want    []byte
		sampled bool
	}
	for round := 1; round <= rounds; round++ {
		var r cold10MBRound
		r.Name = fmt.Sprintf("stockpile-bench-10mb-%s-%d", s.nonce, round)
		r.NPMName = r.Name + "-npm"
		f, err := s.publish(r.Name)
		if err != nil {
			return nil, err
		}
		g, err := s.publish(r.NPMName)
		if err != nil {
			return nil, err
		}
		r.Paths = []string{f.TarballPath(), g.TarballPath()}
		sampler, err := procstat.Start(s.stack.StockpilePID, bench.SamplerInterval)
		if err != nil {
			return nil, fmt.Errorf("stockpile is gone: %w", err)
		}
		strict := []download{
			{&r.Nginx, s.stack.NginxURL + f.TarballPath(), nil, f.Tarball, false},
			{&r.Stockpile, s.stack.RepoURL + f.TarballPath(), s.stack.Header(""), f.Tarball, true},
		}
		npmLike := []download{
			{&r.NginxNPM, s.stack.NginxURL + g.TarballPath(), nil, g.Tarball, false},
			{&r.StockpileNPM, s.stack.RepoURL + g.TarballPath(), s.stack.Header(""), g.Tarball, false},
		}
		// Odd rounds start with nginx, even ones with Stockpile: drift on
		// the shared machine hits both alike.
		if round%2 == 0 {
			slices.Reverse(strict)
			slices.Reverse(npmLike)
		}
		// The npm-like package: its packument through Stockpile first.
		packument := download{url: s.stack.RepoURL + g.PackumentPath(), h: s.stack.Header(npmInstallAccept)}
		for _, d := range append(append(strict, packument), npmLike...) {
			if d.sampled {
				sampler.MeasureStart()
			}
			tg, body, err := timedDownload(ctx, d.url, d.h, buf, s.env.Timeout)
			if d.sampled {
				sampler.MeasureEnd()
			}
			if err == nil && d.want != nil && !bytes.Equal(body, d.want) {
				err = fmt.Errorf("GET %s: %d bytes that are not the fixture's %d", d.url, len(body), len(d.want))
			}
			if err == nil && d.dst != nil {
				*d.dst = tg
			}
			if err == nil {
				err = bench.Sleep(ctx, 100*time.Millisecond)
			}
			if err != nil {
				sampler.Stop()
				return nil, fmt.Errorf("round %d: %w", round, err)
			}
		}
		st := sampler.Stop()
		r.Server = &st
		s.rounds = append(s.rounds, r)
		s.env.Log.Info("cold-10mb: round", "round", round,
			"nginx", r.Nginx.Total.Round(time.Microsecond), "stockpile", r.Stockpile.Total.Round(time.Microsecond),
			"ratio", fmt.Sprintf("%.2f", ratioOf(r.Stockpile.Total, r.Nginx.Total)),
			"npm_like_ratio", fmt.Sprintf("%.2f", ratioOf(r.StockpileNPM.Total, r.NginxNPM.Total)))
	}
	mk := func(name, side string, pick func(cold10MBRound) load.Response, server bool) *bench.TargetReport {
		tr := &bench.TargetReport{Target: bench.Target{Name: name, Side: side}}
		for i, r := range s.rounds {
			tg := pick(r)
			rr := bench.RoundResult{Round: i + 1, Load: load.Config{Connections: 1, Requests: 1}, Result: singleResult(tg)}
			if server {
				rr.Server = r.Server
			}
			tr.Rounds = append(tr.Rounds, rr)
		}
		return tr
	}
	return []*bench.TargetReport{
		mk("nginx 10mb tarball", bench.SideBaseline, func(r cold10MBRound) load.Response { return r.Nginx }, false),
		mk("stockpile cold 10mb tarball", bench.SideStockpile, func(r cold10MBRound) load.Response { return r.Stockpile }, true),
		mk("nginx 10mb tarball (npm-like)", bench.SideBaseline, func(r cold10MBRound) load.Response { return r.NginxNPM }, false),
		mk("stockpile 10mb tarball after packument", bench.SideStockpile, func(r cold10MBRound) load.Response { return r.StockpileNPM }, false),
	}, nil
}

// npmInstallAccept is what npm install asks a packument with.
const npmInstallAccept = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"

// singleResult is the load.Result of one timed download.
func singleResult(tg load.Response) *load.Result {
	res := &load.Result{Requests: 1, OK: 1, Bytes: uint64(tg.Bytes), Elapsed: tg.Total, Latency: &load.Histogram{}}
	res.Latency.Record(tg.Total)
	return res
}

// ratioOf returns a/b (0 when b is 0).
func ratioOf(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// timedDownload GETs url on a new connection and reads the whole body into
// buf (which must be large enough), timing the request to its last byte.
func timedDownload(ctx context.Context, url string, h http.Header, buf []byte, timeout time.Duration) (load.Response, []byte, error) {
	if err := load.CheckLoopback(url, false); err != nil {
		return load.Response{}, nil, err
	}
	c := load.Client(timeout, true)
	defer c.CloseIdleConnections()
	body := &load.FixedBuffer{Buf: buf}
	r, err := load.Get(ctx, c, url, h, body, nil)
	if err != nil {
		return r, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if r.Status != http.StatusOK {
		return r, nil, &load.StatusError{URL: url, Status: r.Status, Snippet: string(body.Bytes()[:min(body.N, 300)])}
	}
	return r, body.Bytes(), nil
}

// Check implements Checker: the median ratio of the rounds' times against
// the target, and one upstream fetch of each round's tarball.
func (s *cold10MB) Check(ctx context.Context, _ []*bench.TargetReport) ([]bench.Finding, error) {
	if len(s.rounds) == 0 {
		return nil, errors.New("cold-10mb: no round measured")
	}
	var strict, npmLike, ttfbSP, ttfbNG []float64
	var strictS, npmS []string
	for _, r := range s.rounds {
		a, b := ratioOf(r.Stockpile.Total, r.Nginx.Total), ratioOf(r.StockpileNPM.Total, r.NginxNPM.Total)
		strict, npmLike = append(strict, a), append(npmLike, b)
		strictS, npmS = append(strictS, fmt.Sprintf("%.2f", a)), append(npmS, fmt.Sprintf("%.2f", b))
		ttfbSP = append(ttfbSP, float64(r.Stockpile.TTFB.Microseconds())/1000)
		ttfbNG = append(ttfbNG, float64(r.Nginx.TTFB.Microseconds())/1000)
	}
	var sp, ng, spn, ngn []time.Duration
	for _, r := range s.rounds {
		sp, ng = append(sp, r.Stockpile.Total), append(ng, r.Nginx.Total)
		spn, ngn = append(spn, r.StockpileNPM.Total), append(ngn, r.NginxNPM.Total)
	}
	m := load.Median(strict)
	counts, err := s.stack.Accesses()
	if err != nil {
		return nil, fmt.Errorf("cold-10mb: %w", err)
	}
	var fetches []string
	oneEach := true
	for _, r := range s.rounds {
		for _, p := range r.Paths {
			n := counts[p].Requests
			fetches = append(fetches, fmt.Sprint(n))
			// One is the bench's own download from nginx, the baseline.
			oneEach = oneEach && n == 2
		}
	}
	return []bench.Finding{
		{Name: "time ratio stockpile/nginx, cold tarball, nothing cached (median)", OK: m <= cold10MBTarget,
			Value: fmt.Sprintf("%.2f (target ≤ %.2f; %s vs %s median; rounds %s)", m, cold10MBTarget,
				bench.FmtDur(load.Median(sp)), bench.FmtDur(load.Median(ng)), strings.Join(strictS, " "))},
		{Name: "time to response headers, cold tarball (median)", OK: true,
			Value: fmt.Sprintf("stockpile %.2fms, nginx %.2fms", load.Median(ttfbSP), load.Median(ttfbNG))},
		{Name: "time ratio stockpile/nginx, packument fetched first as npm does (median, informative)", OK: true,
			Value: fmt.Sprintf("%.2f (%s vs %s median; rounds %s)", load.Median(npmLike), bench.FmtDur(load.Median(spn)), bench.FmtDur(load.Median(ngn)), strings.Join(npmS, " "))},
		{Name: "nginx's answers for each round's tarballs", OK: oneEach,
			Value: fmt.Sprintf("%s (want 2 each: the baseline's download and Stockpile's one fetch, so every measured download through Stockpile was cold)", strings.Join(fetches, " "))},
	}, nil
}

// Info implements Describer.
func (s *cold10MB) Info() map[string]any {
	m := s.stack.Info()
	m["tarball_bytes"] = s.size
	m["rounds"] = len(s.rounds)
	return m
}
