package scenario

import (
	"bytes"
	"context"
	"crypto/sha256"
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

// ErrEnginesAbsent is what the cluster scenario's Setup returns when
// PostgreSQL's server binaries or SeaweedFS's weed cannot be found or
// started, unless STOCKPILE_ENGINES=require: the bench then skips it.
var ErrEnginesAbsent = errors.New("the cluster's engines (PostgreSQL, SeaweedFS) are not available")

// The cluster's shape and target.
const (
	clusterReplicas = 3
	clusterClients  = 1000
	clusterBucket   = "stockpile-bench"
	// clusterWarmTarget is the least ratio of a replica's warm hits (the
	// tarball, the abbreviated packument) to the single node's.
	clusterWarmTarget = 0.8
)

// Target names of the cluster scenario.
const (
	clusterCold       = "cluster cold tarball"
	clusterWarm       = "replica warm tarball"
	clusterSingleWarm = "single node warm tarball"
	clusterWarmDoc    = "replica warm abbreviated packument"
	clusterSingleDoc  = "single node warm abbreviated packument"
)

// cluster is Stockpile on three replicas sharing PostgreSQL and an S3
// server (SeaweedFS), each replica with its own local blob cache, beside
// the single node on Badger the stack starts, all with the bench's nginx as
// public:npmjs. A burst of clients after one tarball nobody has, each sent
// at random to one replica, must cost the upstream exactly one fetch and
// give every client the right bytes (SHA-256); then warm hits of the
// tarball and of the abbreviated packument (as npm install asks for it)
// through one replica and through the single node, in alternating rounds
// and as deployed (access key, a token on every request, log at info), are
// compared by median requests per second.
type cluster struct {
	env     bench.Env
	stack   npmStack
	clients int

	pg       *enginetest.Postgres
	s3       *enginetest.Weed
	dir      string // the replicas' working directory
	replicas []*stack.Server
	// before is nginx's access counts once the single node is warm: what
	// the cluster fetched is counted from there.
	before  stack.AccessCounts
	targets []bench.Target
}

func newCluster(env bench.Env) *cluster {
	st := newNPMStack(env)
	st.deployed = true
	return &cluster{env: env, stack: st, clients: clusterClients}
}

// Name implements Scenario.
func (s *cluster) Name() string { return "cluster" }

// Setup implements Scenario: the engines, nginx and the single node (the
// stack, its access log on), the single node warmed, then the replicas;
// nothing of the cluster is warmed.
func (s *cluster) Setup(ctx context.Context) error {
	if s.env.Target != "" {
		return errors.New("cluster: starts its own replicas; --target does not apply")
	}
	var err error
	if s.pg, err = enginetest.StartPostgres(); err != nil {
		return enginesAbsent("PostgreSQL", err)
	}
	if s.s3, err = enginetest.StartWeed(); err != nil {
		return enginesAbsent("SeaweedFS (weed)", err)
	}
	if err := s.stack.up(ctx, s.Name(), "stockpile-bench-cluster", true); err != nil {
		return err
	}
	f := s.stack.fixture
	c := load.Client(s.env.Timeout, false)
	defer c.CloseIdleConnections()
	got, err := load.Fetch(ctx, c, s.stack.RepoURL+f.TarballPath(), s.stack.Header(""))
	if err != nil {
		return fmt.Errorf("cluster: warm the single node: %w", notServed(err))
	}
	if !bytes.Equal(got, f.Tarball) {
		return fmt.Errorf("cluster: the single node's tarball differs from the fixture (%d bytes, want %d)", len(got), len(f.Tarball))
	}
	// The abbreviated packument, twice (the engine keeps a document from
	// its second rendering on): its length is what every warm hit of it
	// must have, on the replica too. The replica renders its own during
	// the runs' warm-up, after the burst.
	var doc []byte
	for range 2 {
		if doc, err = load.Fetch(ctx, c, s.stack.RepoURL+f.PackumentPath(), s.stack.Header(npmInstallAccept)); err != nil {
			return fmt.Errorf("cluster: warm the single node's abbreviated packument: %w", notServed(err))
		}
	}
	if s.before, err = s.stack.Accesses(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := s.startReplicas(ctx); err != nil {
		return err
	}

	sum := sha256.Sum256(f.Tarball)
	var spread []load.Request
	for _, r := range s.replicas {
		// The token minted by one replica is good on every one.
		spread = append(spread, load.Request{URL: repoURL(r) + f.TarballPath(), Header: stack.Header("", s.replicas[0].Token)})
	}
	warm := load.Expect{Status: http.StatusOK, Bytes: int64(len(f.Tarball))}
	warmDoc := load.Expect{Status: http.StatusOK, Bytes: int64(len(doc))}
	n := s.clients
	s.targets = []bench.Target{
		{Name: clusterCold, Side: bench.SideStockpile, PID: s.replicas[0].PID(), Request: spread[0], Mix: spread,
			Expect: load.Expect{Status: http.StatusOK, Bytes: int64(len(f.Tarball)), SHA256: sum[:]},
			Load:   &bench.LoadOverride{Connections: n, Requests: n, PerConnection: 1, Rounds: 1}},
		{Name: clusterWarm, Side: bench.SideStockpile, PID: s.replicas[0].PID(), Request: spread[0], Expect: warm},
		{Name: clusterSingleWarm, Side: bench.SideStockpile, PID: s.stack.StockpilePID,
			Request: load.Request{URL: s.stack.RepoURL + f.TarballPath(), Header: s.stack.Header("")}, Expect: warm},
		{Name: clusterWarmDoc, Side: bench.SideStockpile, PID: s.replicas[0].PID(),
			Request: load.Request{URL: repoURL(s.replicas[0]) + f.PackumentPath(), Header: stack.Header(npmInstallAccept, s.replicas[0].Token)}, Expect: warmDoc},
		{Name: clusterSingleDoc, Side: bench.SideStockpile, PID: s.stack.StockpilePID,
			Request: load.Request{URL: s.stack.RepoURL + f.PackumentPath(), Header: s.stack.Header(npmInstallAccept)}, Expect: warmDoc},
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

// startReplicas starts the replicas one after another on the same database
// and bucket, each with its own directory, cache and the same access key.
func (s *cluster) startReplicas(ctx context.Context) error {
	dir, err := os.MkdirTemp(s.env.TempRoot, "stockpile-bench-cluster-replicas-*")
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	s.dir = dir
	var key *stack.AccessKey
	level := ""
	if !s.env.Open {
		key, level = stack.NewAccessKey(), "info"
	}
	for i := range clusterReplicas {
		rdir := filepath.Join(dir, fmt.Sprintf("replica%d", i))
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		o := s.s3.S3Options(clusterBucket)
		o.CacheDir, o.CacheSize = filepath.Join(rdir, "cache"), 1<<30
		cfg := stack.StockpileConfig{DataDir: filepath.Join(rdir, "data"), Upstream: s.stack.NginxURL + "/",
			AccessKey: key, LogLevel: level, Storage: &stack.Storage{DSN: s.pg.DSN("postgres"), S3: o}}
		srv, err := stack.StartStockpile(ctx, s.env.Stockpile, rdir, cfg, s.env.Log)
		if err != nil {
			return fmt.Errorf("cluster: replica %d: %w", i, err)
		}
		s.replicas = append(s.replicas, srv)
	}
	return nil
}

// repoURL is repository app's npm endpoint on a replica.
func repoURL(r *stack.Server) string {
	return r.URL + "/" + stack.Domain + "/npm/" + stack.AppRepo
}

// Targets implements Scenario: the burst (one round), then the replica's
// and the single node's warm tarball and abbreviated packument.
func (s *cluster) Targets() []bench.Target { return s.targets }

// Check implements Checker: the burst's bodies and errors, what the
// cluster fetched from nginx, and the warm ratio.
func (s *cluster) Check(_ context.Context, results []*bench.TargetReport) ([]bench.Finding, error) {
	by := map[string]*bench.TargetReport{}
	for _, r := range results {
		by[r.Target.Name] = r
	}
	cold := by[clusterCold]
	if cold == nil || len(cold.Rounds) != 1 {
		return nil, errors.New("cluster: expected one burst and the warm runs")
	}
	var warmRatios []bench.Finding
	for _, w := range []struct{ what, replica, single string }{
		{"warm tarball", clusterWarm, clusterSingleWarm},
		{"warm abbreviated packument", clusterWarmDoc, clusterSingleDoc},
	} {
		warm, single := by[w.replica], by[w.single]
		if warm == nil || single == nil {
			return nil, errors.New("cluster: expected one burst and the warm runs")
		}
		ratio, wm, sm := 0.0, warm.Median().RPS, single.Median().RPS
		if sm > 0 {
			ratio = wm / sm
		}
		warmRatios = append(warmRatios, bench.Finding{
			Name: w.what + " req/s, replica (PostgreSQL + S3, local cache) / single node (Badger), medians", OK: ratio >= clusterWarmTarget,
			Value: fmt.Sprintf("%.2f (target ≥ %.1f; %.0f vs %.0f req/s)", ratio, clusterWarmTarget, wm, sm)})
	}
	after, err := s.stack.Accesses()
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	f := s.stack.fixture
	fetched := func(path string) int { return after[path].Requests - s.before[path].Requests }
	tgz, doc := fetched(f.TarballPath()), fetched(f.PackumentPath())
	res := cold.Rounds[0].Result
	n := uint64(s.clients)
	return append([]bench.Finding{
		{Name: "clients with the right bytes (SHA-256)", Value: fmt.Sprintf("%d/%d over %d replicas", res.OK, n, len(s.replicas)), OK: res.OK == n},
		{Name: "upstream tarball fetches by the cluster", Value: fmt.Sprintf("%d (want 1)", tgz), OK: tgz == 1},
		{Name: "upstream packument fetches by the cluster", Value: fmt.Sprintf("%d (want 1)", doc), OK: doc == 1},
		{Name: "client errors", Value: fmt.Sprintf("%d (status %d, short %d, digest %d, transport %d)",
			res.Errors.Total(), res.Errors.Status, res.Errors.Short, res.Errors.Digest, res.Errors.Transport), OK: res.Errors.Total() == 0},
	}, warmRatios...), nil
}

// Teardown implements Scenario: the replicas, the stack, then the engines.
func (s *cluster) Teardown() error {
	var errs []error
	for _, r := range s.replicas {
		errs = append(errs, stack.StopStockpile(r.Child))
	}
	s.replicas = nil
	errs = append(errs, s.stack.Down())
	if s.dir != "" {
		errs = append(errs, s.env.RemoveDir(s.dir, "replicas' working directory"))
		s.dir = ""
	}
	if s.s3 != nil {
		s.s3.Close()
		s.s3 = nil
	}
	if s.pg != nil {
		s.pg.Close()
		s.pg = nil
	}
	return errors.Join(errs...)
}

// Info implements Describer.
func (s *cluster) Info() map[string]any {
	m := s.stack.info()
	m["clients"] = s.clients
	var urls []string
	for _, r := range s.replicas {
		urls = append(urls, fmt.Sprintf("%s (pid %d)", r.URL, r.PID()))
	}
	m["replicas"] = strings.Join(urls, ", ")
	m["replica_storage"] = "PostgreSQL and SeaweedFS (weed mini) on loopback, each replica a 1 GiB local blob cache; the single node on Badger"
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["load_average"] = strings.Join(strings.Fields(string(raw))[:3], " ")
	}
	return m
}
