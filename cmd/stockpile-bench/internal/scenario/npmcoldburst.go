package scenario

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
)

// Bounds and default of the cold burst.
const (
	DefaultBurst = 200
	MaxBurst     = 1000
)

// npmColdBurst sends N clients at once after one tarball Stockpile has never
// fetched (a fresh package name per run) and counts, in nginx's access log,
// how often Stockpile went upstream for it: single-flight means once.
//
// Counting with nginx's own access log (on only in this scenario) rather
// than a counting proxy in front of nginx keeps the upstream path the same
// as npm-warm's and counts what the upstream really served.
type npmColdBurst struct {
	env     bench.Env
	name    string
	stack   npmStack
	targets []bench.Target
}

func newNPMColdBurst(env bench.Env) *npmColdBurst {
	return &npmColdBurst{env: env, name: "npm-cold-burst", stack: newNPMStack(env)}
}

// coldBurst1000Clients is cold-burst-1000's number of clients, whatever
// -burst says.
const coldBurst1000Clients = 1000

// newColdBurst1000 is npm-cold-burst at 1,000 clients: past the point where
// the first clients' fetch has ended before the last ones ask, so that the
// engine must serve the late ones from storage, not fetch again.
func newColdBurst1000(env bench.Env) *npmColdBurst {
	env.Burst = coldBurst1000Clients
	return &npmColdBurst{env: env, name: "cold-burst-1000", stack: newNPMStack(env)}
}

// Name implements Scenario.
func (s *npmColdBurst) Name() string { return s.name }

// Setup implements Scenario: a fixture under a fresh name, nginx with its
// access log, Stockpile; nothing is warmed.
func (s *npmColdBurst) Setup(ctx context.Context) error {
	n := s.env.Burst
	if n < 1 || n > MaxBurst {
		return fmt.Errorf("%s: %d clients: must be between 1 and %d", s.name, n, MaxBurst)
	}
	if err := s.stack.up(ctx, s.Name(), "stockpile-bench-cold-"+nonce(), true); err != nil {
		return err
	}
	f := s.stack.fixture
	sum := sha256.Sum256(f.Tarball)
	s.targets = []bench.Target{{
		Name: "stockpile cold tarball", Side: bench.SideStockpile, PID: s.stack.StockpilePID,
		Request: load.Request{URL: s.stack.RepoURL + f.TarballPath(), Header: s.stack.Header(""), AllowRemote: s.env.Target != ""},
		Expect:  load.Expect{Status: http.StatusOK, Bytes: int64(len(f.Tarball)), SHA256: sum[:]},
		Load:    &bench.LoadOverride{Connections: n, Requests: n, PerConnection: 1, Rounds: 1},
	}}
	return nil
}

// Targets implements Scenario: one burst of N clients, one request each.
func (s *npmColdBurst) Targets() []bench.Target { return s.targets }

// Check implements Checker: how many upstream fetches nginx saw, and
// whether every client got the fixture's bytes.
func (s *npmColdBurst) Check(ctx context.Context, results []*bench.TargetReport) ([]bench.Finding, error) {
	if len(results) != 1 || len(results[0].Rounds) != 1 {
		return nil, fmt.Errorf("%s: expected one run", s.name)
	}
	res := results[0].Rounds[0].Result
	f := s.stack.fixture
	raw, err := os.Open(s.stack.AccessLogPath())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	defer raw.Close()
	counts, err := stack.ParseAccessLog(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	tgz, doc := counts[f.TarballPath()], counts[f.PackumentPath()]
	n := uint64(s.env.Burst)
	return []bench.Finding{
		{Name: "clients with the right bytes", Value: fmt.Sprintf("%d/%d", res.OK, n), OK: res.OK == n},
		{Name: "upstream tarball fetches", Value: fmt.Sprintf("%d (want 1)", tgz.Requests), OK: tgz.Requests == 1},
		// Stockpile needs the packument to know the tarball's digest; more
		// than one fetch of it is worth knowing but not a failure here.
		{Name: "upstream packument fetches", Value: fmt.Sprint(doc.Requests), OK: doc.Requests >= 1},
		{Name: "client errors", Value: fmt.Sprintf("%d (status %d, short %d, digest %d, transport %d)",
			res.Errors.Total(), res.Errors.Status, res.Errors.Short, res.Errors.Digest, res.Errors.Transport), OK: res.Errors.Total() == 0},
	}, nil
}

// Teardown implements Scenario.
func (s *npmColdBurst) Teardown() error { return s.stack.Down() }

// Info implements Describer.
func (s *npmColdBurst) Info() map[string]any {
	m := s.stack.info()
	m["clients"] = s.env.Burst
	return m
}
