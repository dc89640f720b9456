package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"gopkg.in/yaml.v3"
)

// Names of what the bench creates in Stockpile.
const (
	Domain          = "bench"
	StoreRepo       = "npm-store"
	AppRepo         = "app"
	NPMJSConnection = "public:npmjs"
)

// StockpileConfig is the configuration the bench gives the Stockpile it
// starts: domain bench, repositories npm-store (public:npmjs → nginx) and
// app (upstream npm-store), no access keys (loopback, everything allowed).
type StockpileConfig struct {
	Listen   string
	DataDir  string
	Upstream string // public:npmjs's URL, nginx's base URL with a trailing slash; may be empty with Stores
	LogLevel string // warn when empty
	// AccessKey, when set, is the one access key of the control plane: the
	// data plane then wants a token (as deployed).
	AccessKey *AccessKey
	// Stores are further repositories, each behind an external connection
	// of another format, that app reaches after npm-store (the warm-*
	// scenarios: pypi-store → public:pypi → nginx).
	Stores []StoreConfig
	// TTL, when set, is every connection's metadata TTL (the warm-*
	// scenarios make it outlast their runs, so that every measured request
	// is a hit).
	TTL time.Duration
	// Standalone, when set, replaces the whole topology: these
	// repositories only, without upstreams or connections (million: the
	// records were written into the data directory).
	Standalone []string
	// Storage, when set, keeps records in PostgreSQL and blobs in S3
	// instead of Badger in DataDir (the cluster scenario's replicas).
	Storage *Storage
}

// StoreConfig is a repository with an external connection.
type StoreConfig struct {
	Repository string // "pypi-store"
	Connection string // "public:pypi"
	URL        string // the connection's URL (nginx's, below its base)
}

// The YAML shapes, a subset of proxy.Config's keys (config.example.yaml).
type (
	spConfig struct {
		Listen              string                  `yaml:"listen"`
		DataDir             string                  `yaml:"data_dir"`
		LogLevel            string                  `yaml:"log_level"`
		ShutdownTimeout     string                  `yaml:"shutdown_timeout"`
		Auth                *spAuth                 `yaml:"auth,omitempty"`
		Storage             *spStorage              `yaml:"storage,omitempty"`
		ExternalConnections map[string]spConnection `yaml:"external_connections,omitempty"`
		Domains             []spDomain              `yaml:"domains"`
	}
	spAuth struct {
		AccessKeys []AccessKey `yaml:"access_keys"`
	}
	spConnection struct {
		URL string `yaml:"url"`
		TTL string `yaml:"ttl,omitempty"`
	}
	spDomain struct {
		Name         string         `yaml:"name"`
		Repositories []spRepository `yaml:"repositories"`
	}
	spRepository struct {
		Name               string   `yaml:"name"`
		Description        string   `yaml:"description,omitempty"`
		Upstreams          []string `yaml:"upstreams,omitempty"`
		ExternalConnection string   `yaml:"external_connection,omitempty"`
	}
)

// Render returns the configuration file.
func (c StockpileConfig) Render() ([]byte, error) {
	if c.Listen == "" || c.DataDir == "" || (c.Upstream == "" && len(c.Stores) == 0 && len(c.Standalone) == 0) {
		return nil, errors.New("stockpile config: listen, data dir and an upstream are required")
	}
	level := c.LogLevel
	if level == "" {
		level = "warn"
	}
	ttl := ""
	if c.TTL > 0 {
		ttl = c.TTL.String()
	}
	conns := map[string]spConnection{}
	var repos []spRepository
	if c.Upstream != "" {
		conns[NPMJSConnection] = spConnection{URL: c.Upstream, TTL: ttl}
		repos = append(repos, spRepository{Name: StoreRepo, Description: "the bench's nginx", ExternalConnection: NPMJSConnection})
	}
	for _, st := range c.Stores {
		if st.Repository == "" || st.Connection == "" || st.URL == "" {
			return nil, fmt.Errorf("stockpile config: store %+v: repository, connection and url are required", st)
		}
		if _, dup := conns[st.Connection]; dup {
			return nil, fmt.Errorf("stockpile config: connection %s is given twice", st.Connection)
		}
		conns[st.Connection] = spConnection{URL: st.URL, TTL: ttl}
		repos = append(repos, spRepository{Name: st.Repository, Description: "the bench's nginx", ExternalConnection: st.Connection})
	}
	names := make([]string, 0, len(repos))
	for _, r := range repos {
		names = append(names, r.Name)
	}
	repos = append(repos, spRepository{Name: AppRepo, Description: "what the bench asks", Upstreams: names})
	if len(c.Standalone) > 0 {
		conns, repos = nil, nil
		for _, n := range c.Standalone {
			repos = append(repos, spRepository{Name: n, Description: "stockpile-bench: records written directly"})
		}
	}
	var auth *spAuth
	if c.AccessKey != nil {
		auth = &spAuth{AccessKeys: []AccessKey{*c.AccessKey}}
	}
	doc := spConfig{
		Listen:              c.Listen,
		DataDir:             c.DataDir,
		LogLevel:            level,
		ShutdownTimeout:     "5s",
		Auth:                auth,
		Storage:             c.Storage.section(),
		ExternalConnections: conns,
		Domains:             []spDomain{{Name: Domain, Repositories: repos}},
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("stockpile config: %w", err)
	}
	return append([]byte("# Generated by stockpile-bench.\n"), out...), nil
}

// FindStockpile returns the Stockpile binary to run: flagPath when set,
// else stockpile next to the running binary, else stockpile on PATH.
func FindStockpile(flagPath string) (string, error) {
	if flagPath != "" {
		if _, err := os.Stat(flagPath); err != nil {
			return "", fmt.Errorf("--stockpile: %w", err)
		}
		return flagPath, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "stockpile")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("stockpile")
	if err != nil {
		return "", fmt.Errorf("no stockpile binary next to stockpile-bench or on PATH (build one with `go build ./cmd/stockpile` and pass --stockpile, or measure a running one with --target): %w", err)
	}
	return p, nil
}

// stockpileEnv returns the bench's environment without STOCKPILE_*
// variables, which would override the generated configuration.
func stockpileEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STOCKPILE_") {
			env = append(env, kv)
		}
	}
	return env
}

// Server is a Stockpile the bench started.
type Server struct {
	*Child
	URL string // http://127.0.0.1:PORT
	// Startup is the time from the process's start to the first 200 of
	// /-/ready, polled every 5 ms.
	Startup time.Duration
	// Token is a token for domain bench, minted when the configuration
	// has an access key.
	Token string
}

// StartStockpile starts `stockpile serve` on cfg in dir (its configuration
// and log are written there) and waits for /-/ready, then, with an access
// key, mints a token through GetAuthorizationToken. A taken port (another
// process got it first) is retried.
func StartStockpile(ctx context.Context, bin, dir string, cfg StockpileConfig, log *slog.Logger) (*Server, error) {
	var lastErr error
	for attempt := range 3 {
		port, err := load.FreePort()
		if err != nil {
			return nil, err
		}
		cfg.Listen = fmt.Sprintf("127.0.0.1:%d", port)
		raw, err := cfg.Render()
		if err != nil {
			return nil, err
		}
		cfgPath := filepath.Join(dir, "stockpile.yaml")
		if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
			return nil, fmt.Errorf("stockpile: %w", err)
		}
		args := []string{"serve", "--config", cfgPath, "--listen", cfg.Listen, "--data-dir", cfg.DataDir}
		t0 := time.Now()
		c, err := startChild("stockpile", bin, args, stockpileEnv(), filepath.Join(dir, "stockpile.log"), log)
		if err != nil {
			return nil, err
		}
		srv := &Server{Child: c, URL: "http://" + cfg.Listen}
		hc := load.Client(time.Second, true)
		err = c.waitReady(ctx, 60*time.Second, 5*time.Millisecond, func(ctx context.Context) error {
			_, err := load.Fetch(ctx, hc, srv.URL+"/-/ready", nil)
			return err
		})
		srv.Startup = time.Since(t0)
		if err == nil && cfg.AccessKey != nil {
			// Also proves the server that answered is this one, not
			// another process that took the port first (this one then
			// fails to listen): only this one knows the key and domain.
			tc := load.Client(10*time.Second, false)
			srv.Token, err = MintToken(ctx, tc, srv.URL, Domain, cfg.AccessKey)
			tc.CloseIdleConnections()
		}
		if err == nil {
			log.Info("stockpile ready", "url", srv.URL, "pid", c.PID(), "binary", bin, "startup", srv.Startup.Round(time.Millisecond))
			return srv, nil
		}
		_ = StopStockpile(c)
		lastErr = err
		if ctx.Err() != nil {
			break
		}
		log.Warn("stockpile did not start: retrying on another port", "attempt", attempt+1, "err", err)
	}
	return nil, fmt.Errorf("stockpile: %w", lastErr)
}

// StopStockpile asks Stockpile to shut down (SIGTERM) and kills it if it
// has not after 15 s (its shutdown_timeout is 5 s).
func StopStockpile(c *Child) error { return c.stop(syscall.SIGTERM, 15*time.Second) }
