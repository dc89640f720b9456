package scenario

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/storage/enginetest"
)

// Bounds and default of the cold burst, and cold-burst-1000's (whatever
// -burst says): enough clients that the first ones' fetch has ended before
// the last ones ask, which the engine must serve from storage.
const (
	DefaultBurst         = 200
	MaxBurst             = 1000
	coldBurst1000Clients = 1000
)

// coldBurst sends n clients at once after one tarball Stockpile has never
// fetched (a fresh package name per run) and counts, in nginx's own access
// log (what the upstream really served), how often Stockpile went upstream
// for it: single-flight means once.
type coldBurst struct {
	base
	n       int
	before  stack.AccessCounts // nginx's counts before the burst
	by      string             // who fetched, in the findings' names
	docOnce bool               // want one packument fetch, not at least one
}

func newColdBurst(env bench.Env, name string, n int) *coldBurst {
	return &coldBurst{base: newBase(env, name), n: n}
}

// Setup implements Scenario: the stack on a fresh name, its access log on,
// nothing warmed; the target is one burst.
func (s *coldBurst) Setup(ctx context.Context) error {
	if s.n < 1 || s.n > MaxBurst {
		return fmt.Errorf("%s: %d clients: must be between 1 and %d", s.name, s.n, MaxBurst)
	}
	if err := s.upNPM(ctx, "stockpile-bench-cold-"+nonce(), stack.Options{AccessLog: true}); err != nil {
		return err
	}
	s.targets = []bench.Target{s.burst("stockpile cold tarball", s.StockpilePID,
		load.Request{URL: s.RepoURL + s.fixture.TarballPath(), Header: s.Header(""), AllowRemote: s.remote})}
	return nil
}

// burst is the target of n clients at once, one request each (to one of
// reqs at random), each wanting the fixture's tarball (its maphash).
func (s *coldBurst) burst(name string, pid int, reqs ...load.Request) bench.Target {
	s.info["clients"] = s.n
	for i := range reqs {
		reqs[i].Want = load.Expect{Status: http.StatusOK, Bytes: int64(len(s.fixture.Tarball)), Maphash: maphashOf(s.fixture.Tarball)}
	}
	return bench.Target{Name: name, Side: bench.SideStockpile, PID: pid, Requests: reqs,
		Load: &load.Config{Connections: s.n, Requests: s.n, PerConnection: 1}}
}

// Check implements Checker: whether every client of the burst (the first
// target) got the right bytes, and what nginx served since before.
func (s *coldBurst) Check(_ context.Context, results []*bench.TargetReport) ([]bench.Finding, error) {
	if len(results) == 0 || len(results[0].Rounds) != 1 {
		return nil, fmt.Errorf("%s: expected one burst", s.name)
	}
	after, err := s.Accesses()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	fetched := func(path string) int { return after[path] - s.before[path] }
	tgz, doc := fetched(s.fixture.TarballPath()), fetched(s.fixture.PackumentPath())
	// Stockpile needs the packument to know the tarball's digest; more than
	// one fetch of it is worth knowing, a failure only when docOnce.
	docWant, docOK := "at least 1", doc >= 1
	if s.docOnce {
		docWant, docOK = "1", doc == 1
	}
	res := results[0].Rounds[0].Result
	return []bench.Finding{
		{Name: "clients with the right bytes", Value: fmt.Sprintf("%d/%d", res.OK, s.n), OK: res.OK == uint64(s.n)},
		{Name: "upstream tarball fetches" + s.by, Value: fmt.Sprintf("%d (want 1)", tgz), OK: tgz == 1},
		{Name: "upstream packument fetches" + s.by, Value: fmt.Sprintf("%d (want %s)", doc, docWant), OK: docOK},
		{Name: "client errors", Value: fmt.Sprintf("%d (%s)", res.Errors.Total(), errorKinds(res.Errors)), OK: res.Errors.Total() == 0},
	}, nil
}

// ErrEnginesAbsent is cluster's Setup's error when PostgreSQL or SeaweedFS
// cannot start, unless STOCKPILE_ENGINES=require: the bench skips it.
var ErrEnginesAbsent = errors.New("the cluster's engines (PostgreSQL, SeaweedFS) are not available")

// The cluster's shape, and the least ratio of a replica's warm hits to the
// single node's.
const (
	clusterReplicas   = 3
	clusterClients    = 1000
	clusterWarmTarget = 0.8
)

// cluster is a cold burst spread over three replicas that share PostgreSQL
// and an S3 server (SeaweedFS), each with its own local blob cache, beside
// the stack's single node on Badger: it must cost the upstream one fetch of
// the tarball and of its packument. Then warm hits of the tarball and of
// the abbreviated packument through one replica and through the single
// node, as deployed, are compared by median requests per second.
type cluster struct {
	coldBurst
	replicas []*stack.Server
}

func newCluster(env bench.Env) *cluster {
	b := coldBurst{base: newBase(env, "cluster"), n: clusterClients, by: " by the cluster", docOnce: true}
	b.info["replica_storage"] = "PostgreSQL and SeaweedFS (weed mini) on loopback, each replica a 1 GiB local blob cache; the single node on Badger"
	return &cluster{coldBurst: b}
}

// Setup implements Scenario: the engines, the stack (its access log on),
// the single node warmed, then the replicas, not warmed. The targets are
// the burst, then each warm document through a replica and the single node.
func (s *cluster) Setup(ctx context.Context) error {
	if s.env.Target != "" {
		return errors.New("cluster: starts its own replicas; --target does not apply")
	}
	pg, err := enginetest.StartPostgres()
	if err != nil {
		return enginesAbsent("PostgreSQL", err)
	}
	s.undo = append(s.undo, func() error { pg.Close(); return nil })
	s3, err := enginetest.StartWeed()
	if err != nil {
		return enginesAbsent("SeaweedFS (weed)", err)
	}
	s.undo = append(s.undo, func() error { s3.Close(); return nil })
	if err := s.upNPM(ctx, "stockpile-bench-cluster", stack.Options{AccessLog: true, Deployed: true}); err != nil {
		return err
	}
	f := s.fixture
	c := load.Client(s.env.Timeout, false)
	defer c.CloseIdleConnections()
	if _, err := s.fetch(ctx, c, "single node's tarball", s.RepoURL+f.TarballPath(), "", 1, f.Tarball); err != nil {
		return err
	}
	// Its length is what every warm hit of it must have, on the replica
	// too (which renders its own in the runs' warm-up, after the burst).
	doc, err := s.fetch(ctx, c, "single node's abbreviated packument", s.RepoURL+f.PackumentPath(), npmInstallAccept, 2, nil)
	if err != nil {
		return err
	}
	if s.before, err = s.Accesses(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := s.startReplicas(ctx, pg, s3); err != nil {
		return err
	}

	r0 := s.replicas[0]
	var spread []load.Request
	for _, r := range s.replicas {
		// The token minted by one replica is good on every one.
		spread = append(spread, load.Request{URL: repoURL(r) + f.TarballPath(), Header: stack.Header("", r0.Token)})
	}
	s.targets = []bench.Target{s.burst("cluster cold tarball", r0.PID(), spread...)}
	for _, w := range []struct {
		what, path, accept string
		bytes              int
	}{{"warm tarball", f.TarballPath(), "", len(f.Tarball)}, {"warm abbreviated packument", f.PackumentPath(), npmInstallAccept, len(doc)}} {
		want := load.Expect{Status: http.StatusOK, Bytes: int64(w.bytes)}
		s.targets = append(s.targets,
			bench.Target{Name: "replica " + w.what, Side: bench.SideStockpile, PID: r0.PID(),
				Requests: []load.Request{{URL: repoURL(r0) + w.path, Header: stack.Header(w.accept, r0.Token), Want: want}}},
			bench.Target{Name: "single node " + w.what, Side: bench.SideStockpile, PID: s.StockpilePID,
				Requests: []load.Request{{URL: s.RepoURL + w.path, Header: s.Header(w.accept), Want: want}}})
	}
	return nil
}

// enginesAbsent is the error of an engine that could not start: a skip
// (ErrEnginesAbsent), or a failure under STOCKPILE_ENGINES=require.
func enginesAbsent(what string, err error) error {
	if os.Getenv(enginetest.RequireEnv) == "require" {
		return fmt.Errorf("cluster: %s is required (%s=require) but did not start: %w", what, enginetest.RequireEnv, err)
	}
	return fmt.Errorf("cluster: %w: %s: %v (install Debian's postgresql; build weed from .ci/weed and put it on PATH or in STOCKPILE_WEED)",
		ErrEnginesAbsent, what, err)
}

// startReplicas starts the replicas on the same database and bucket, each
// with its directory (in the stack's) and its cache, configured otherwise
// as the single node (the same access key).
func (s *cluster) startReplicas(ctx context.Context, pg *enginetest.Postgres, s3 *enginetest.Weed) error {
	var urls []string
	for i := range clusterReplicas {
		rdir := filepath.Join(filepath.Dir(s.Root), fmt.Sprintf("replica%d", i))
		o := s3.S3Options("stockpile-bench")
		o.CacheDir, o.CacheSize = filepath.Join(rdir, "cache"), 1<<30
		cfg := s.Config
		cfg.DataDir = filepath.Join(rdir, "data")
		cfg.Storage.Backend, cfg.Storage.Postgres.DSN, cfg.Storage.S3 = "postgres", pg.DSN("postgres"), o
		srv, err := stack.StartStockpile(ctx, s.env.Stockpile, rdir, cfg, s.env.Log)
		if err != nil {
			return fmt.Errorf("cluster: replica %d: %w", i, err)
		}
		s.replicas = append(s.replicas, srv)
		s.undo = append(s.undo, func() error { return stack.StopStockpile(srv.Child) })
		urls = append(urls, fmt.Sprintf("%s (pid %d)", srv.URL, srv.PID()))
	}
	s.info["replicas"] = strings.Join(urls, ", ")
	return nil
}

// repoURL is repository app's npm endpoint on a replica.
func repoURL(r *stack.Server) string { return r.URL + "/" + stack.Domain + "/npm/" + stack.AppRepo }

// Check implements Checker: the burst's findings, then each warm ratio of
// the replica's median requests per second to the single node's.
func (s *cluster) Check(ctx context.Context, results []*bench.TargetReport) ([]bench.Finding, error) {
	fs, err := s.coldBurst.Check(ctx, results)
	if err == nil && len(results) != 5 {
		err = errors.New("cluster: expected one burst and the warm runs")
	}
	if err != nil {
		return nil, err
	}
	fs[0].Value += fmt.Sprintf(" over %d replicas", len(s.replicas))
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil { // after the runs, for the report
		s.info["load_average"] = strings.Join(strings.Fields(string(raw))[:3], " ")
	}
	for i := 1; i < len(results); i += 2 {
		what := strings.TrimPrefix(results[i].Target.Name, "replica ")
		wm, sm := results[i].Median().RPS, results[i+1].Median().RPS
		ratio := ratioOf(wm, sm)
		fs = append(fs, bench.Finding{
			Name: what + " req/s, replica (PostgreSQL + S3, local cache) / single node (Badger), medians", OK: ratio >= clusterWarmTarget,
			Value: fmt.Sprintf("%.2f (target ≥ %.1f; %.0f vs %.0f req/s)", ratio, clusterWarmTarget, wm, sm)})
	}
	return fs, nil
}
