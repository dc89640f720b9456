package scenario

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
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
// npm-store → nginx, and the same file straight from nginx, in the
// runner's alternating order, and compares the total times (request to
// last byte, on a new connection each). Each round also downloads a second
// fresh package the way npm does, packument first (untimed), then the
// tarball (timed): the tarball's cold path without the packument's.
type cold10MB struct {
	base
	nonce string
	size  int // cold10MBSize but in tests

	// pkgs are the packages of each round, strict then npm-like, published
	// by whichever of the round's targets runs first.
	pkgs map[int][2]*npmPkg
}

func newCold10MB(env bench.Env) *cold10MB {
	return &cold10MB{base: newBase(env, "cold-10mb"), size: cold10MBSize, pkgs: map[int][2]*npmPkg{}}
}

// Setup implements Scenario: nginx (with its access log, to prove each
// round's fetch is a cold one) and Stockpile; the packages are generated
// round by round. The targets: one download each, the round's package
// from nginx and through Stockpile, strict then npm-like.
func (s *cold10MB) Setup(ctx context.Context) error {
	s.nonce = nonce()
	s.info["tarball_bytes"] = s.size
	if err := s.up(ctx, stack.Options{AccessLog: true, Nginx: stack.NginxConfig{LimitRate: s.env.UpstreamRate}}); err != nil {
		return err
	}
	s.targets = []bench.Target{
		s.target("nginx 10mb tarball", bench.SideBaseline, 0),
		s.target("stockpile cold 10mb tarball", bench.SideStockpile, 0),
		s.target("nginx 10mb tarball (npm-like)", bench.SideBaseline, 1),
		s.target("stockpile 10mb tarball after packument", bench.SideStockpile, 1),
	}
	return nil
}

// round returns the packages of a round, publishing them below nginx's
// root the first time.
func (s *cold10MB) round(round int) ([2]*npmPkg, error) {
	pkgs, ok := s.pkgs[round]
	for i, suffix := range []string{"", "-npm"} {
		if ok {
			break
		}
		name := fmt.Sprintf("stockpile-bench-10mb-%s-%d%s", s.nonce, round, suffix)
		f, err := publishNPM(s.Root, formattest.NPMOptions{Name: name, Upstream: s.NginxURL + "/", TarballSize: s.size})
		if err != nil {
			return pkgs, err
		}
		pkgs[i] = f
	}
	s.pkgs[round] = pkgs
	return pkgs, nil
}

// target is one side's download of the round's package i (0: strict,
// 1: npm-like).
func (s *cold10MB) target(name, side string, i int) bench.Target {
	t := bench.Target{Name: name, Side: side, Load: &load.Config{Connections: 1, Requests: 1, PerConnection: 1}}
	base, hdr := s.NginxURL, http.Header(nil)
	if side == bench.SideStockpile {
		t.PID, base, hdr = s.StockpilePID, s.RepoURL, s.Header("")
	}
	t.Prepare = func(ctx context.Context, round int, t *bench.Target) error {
		pkgs, err := s.round(round)
		if err != nil {
			return err
		}
		f := pkgs[i]
		if i == 1 && side == bench.SideStockpile { // its packument first, untimed
			c := load.Client(s.env.Timeout, true)
			defer c.CloseIdleConnections()
			if _, _, err := load.Fetch(ctx, c, s.RepoURL+f.packumentPath(), s.Header(npmInstallAccept)); err != nil {
				return err
			}
		}
		t.Requests = []load.Request{{URL: base + f.tarballPath, Header: hdr, Want: f.tarballExpect()}}
		return nil
	}
	return t
}

// npmInstallAccept is what npm install asks a packument with.
const npmInstallAccept = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"

// ratioOf returns a/b (0 when b is 0).
func ratioOf[T time.Duration | float64](a, b T) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Check implements Checker: the median ratio of the rounds' times against
// the target, and one upstream fetch of each round's tarball.
func (s *cold10MB) Check(ctx context.Context, results []*bench.TargetReport) ([]bench.Finding, error) {
	if len(results) != 4 || len(results[0].Rounds) == 0 {
		return nil, errors.New("cold-10mb: no round measured")
	}
	// took is a target's single download of each round (0 when it failed).
	var good, all uint64
	took := func(t int) (d, ttfb []time.Duration) {
		for _, rr := range results[t].Rounds {
			d, ttfb = append(d, rr.Result.Latency.Max()), append(ttfb, rr.Result.TTFB)
			good, all = good+rr.Result.OK, all+1
		}
		return d, ttfb
	}
	ng, ngTTFB := took(0)
	sp, spTTFB := took(1)
	ngn, _ := took(2)
	spn, _ := took(3)
	ratios := func(a, b []time.Duration) (float64, string) {
		var rs []float64
		var txt []string
		for i := range min(len(a), len(b)) {
			rs = append(rs, ratioOf(a[i], b[i]))
			txt = append(txt, fmt.Sprintf("%.2f", rs[i]))
		}
		return load.Median(rs), strings.Join(txt, " ")
	}
	m, strictS := ratios(sp, ng)
	mn, npmS := ratios(spn, ngn)
	counts, err := s.Accesses()
	if err != nil {
		return nil, fmt.Errorf("cold-10mb: %w", err)
	}
	s.info["rounds"] = len(s.pkgs)
	var fetches []string
	oneEach := len(s.pkgs) == len(results[0].Rounds)
	for round := 1; round <= len(s.pkgs); round++ {
		for _, f := range s.pkgs[round] {
			n := counts[f.tarballPath]
			fetches = append(fetches, fmt.Sprint(n))
			// One is the bench's own download from nginx, the baseline.
			oneEach = oneEach && n == 2
		}
	}
	return []bench.Finding{
		{Name: "downloads with the right bytes (status, length, maphash)", OK: good == all, Value: fmt.Sprintf("%d/%d", good, all)},
		{Name: "time ratio stockpile/nginx, cold tarball, nothing cached (median)", OK: m <= cold10MBTarget,
			Value: fmt.Sprintf("%.2f (target ≤ %.2f; %s vs %s median; rounds %s)", m, cold10MBTarget,
				bench.FmtDur(load.Median(sp)), bench.FmtDur(load.Median(ng)), strictS)},
		{Name: "time to response headers, cold tarball (median)", OK: true,
			Value: fmt.Sprintf("stockpile %s, nginx %s", bench.FmtDur(load.Median(spTTFB)), bench.FmtDur(load.Median(ngTTFB)))},
		{Name: "time ratio stockpile/nginx, packument fetched first as npm does (median, informative)", OK: true,
			Value: fmt.Sprintf("%.2f (%s vs %s median; rounds %s)", mn, bench.FmtDur(load.Median(spn)), bench.FmtDur(load.Median(ngn)), npmS)},
		{Name: "nginx's answers for each round's tarballs", OK: oneEach,
			Value: fmt.Sprintf("%s (want 2 each: the baseline's download and Stockpile's one fetch, so every measured download through Stockpile was cold)", strings.Join(fetches, " "))},
	}, nil
}
