// Package proxy is Stockpile's server: configuration, the echo routes of the
// data plane (one group per format) and of the control plane (/v1), the
// middleware (authentication, access log, metrics), the mapping of errors to
// HTTP, and the wiring of the engine (resolver) to storage and upstreams.
package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/access"
	"github.com/stockpile-proxy/stockpile/proxy/controlplane"
	"github.com/stockpile-proxy/stockpile/proxy/firewall"
	"github.com/stockpile-proxy/stockpile/proxy/iam"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
	"github.com/stockpile-proxy/stockpile/proxy/scoped"
	"github.com/stockpile-proxy/stockpile/proxy/sigv4"
	"github.com/stockpile-proxy/stockpile/proxy/token"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// Server is a running Stockpile.
type Server struct {
	cfg      *Config
	log      *slog.Logger
	store    storage.Store
	registry *model.Registry
	resolver *resolver.Resolver
	issuer   *token.Issuer
	tokens   *token.Cache // the issuer's verifications, once per token
	verifier *sigv4.Verifier
	access   *access.Authorizer // nil in open mode
	scoped   *scoped.Registry
	metrics  *metrics
	echo     *echo.Echo
	ready    atomic.Bool
	collect  chan struct{}  // asks the blob collector to run soon
	idPrefix string         // of request ids
	trusted  []netip.Prefix // trusted_proxies
	requests atomic.Uint64  // requests seen, for request ids
	intake   formats.Intake
	orders   firewall.Orders // the formats' version orders, for advisories' ranges
	writes   chan struct{}   // one token per data-plane write in progress
	now      func() time.Time
	recent   recentErrors // the last 5xx answers, for the web interface
	hooks    Hooks
}

// Option changes how New builds a server.
type Option func(*options)

type options struct {
	now   func() time.Time
	hooks Hooks
}

// Hooks are called at moments a test waits for, so that it waits on an
// event instead of sleeping. Each may be nil; each must return quickly.
type Hooks struct {
	// FetchWait: a client starts waiting on a shared upstream fetch of an
	// asset (the client that started it included), or a replica sharing
	// the store starts its refresh of an upstream document.
	FetchWait func()
	// Collected: a pass of the blob collector ended.
	Collected func()
	// Indexed: the web interface built and kept a repository's package
	// index.
	Indexed func()
	// ShuttingDown: Serve's context ended and the graceful shutdown
	// starts; requests in flight go on.
	ShuttingDown func()
	// Reloaded: a replica sharing its store reloaded its model and scoped
	// tokens after a change (another replica's, or its own).
	Reloaded func()
}

// WithHooks installs h.
func WithHooks(h Hooks) Option { return func(o *options) { o.hooks = h } }

// WithClock makes the engine and the token issuer read the time from now
// instead of time.Now: tests advance a fake clock past a TTL instead of
// sleeping.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New builds a server over an open store, creating or updating the domains
// and repositories the configuration lists. Formats are listed explicitly by
// the caller.
func New(ctx context.Context, cfg *Config, store storage.Store, fs []formats.Format, log *slog.Logger, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	client, err := upstream.New(cfg.Connections, log)
	if err != nil {
		return nil, err
	}
	// Replicas that start together take turns from here to the end of
	// the reconciliation.
	unlock, err := startLock(ctx, store)
	if err != nil {
		return nil, err
	}
	defer unlock()
	registry, err := model.Load(ctx, store)
	if err != nil {
		return nil, err
	}
	key, err := tokenKey(ctx, store)
	if err != nil {
		return nil, err
	}
	issuer, err := token.NewIssuer(key, o.now)
	if err != nil {
		return nil, err
	}
	spool, err := prepareSpool(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	scopedTokens, err := scoped.Load(ctx, store, nil)
	if err != nil {
		return nil, err
	}
	var pfx [4]byte
	_, _ = rand.Read(pfx[:])
	s := &Server{cfg: cfg, log: log, store: store, registry: registry, issuer: issuer, tokens: token.NewCache(issuer, 0, nil), scoped: scopedTokens, metrics: newMetrics(), collect: make(chan struct{}, 1),
		idPrefix: hex.EncodeToString(pfx[:]) + "-",
		intake:   formats.Intake{MaxPublishSize: cfg.MaxPublishSize, MaxMetadataSize: cfg.MaxMetadataSize, SpoolDir: spool},
		writes:   make(chan struct{}, max(cfg.MaxConcurrentPublishes, 1)), now: o.now, hooks: o.hooks}
	if s.now == nil {
		s.now = time.Now
	}
	s.orders = versionOrders(fs)
	if s.trusted, err = parseTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	if err := s.initAccess(); err != nil {
		return nil, err
	}
	ropts := resolver.Options{MaxPublishSize: cfg.MaxPublishSize, Now: o.now, FetchWait: o.hooks.FetchWait}
	if ss, ok := store.(sharedStore); ok {
		ropts.ClusterLock = boundedLock(ss.Lock, fetchLockSlots)
		ropts.Locker = &clusterLocker{local: resolver.NewLocalLocker(), ss: ss, log: log}
	}
	s.resolver = resolver.New(store, registry, client, fs, log, s.metrics, ropts)
	if err := s.reconcile(ctx); err != nil {
		return nil, err
	}
	if cfg.Firewall.OSV.Path != "" {
		// At start a data set that cannot be read is an error: the server
		// must not run unprotected without saying so.
		if err := s.ReloadAdvisories(); err != nil {
			return nil, err
		}
	}
	s.echo = s.routes(fs)
	if err := s.mountUI(s.echo, fs); err != nil {
		return nil, err
	}
	s.ready.Store(true)
	return s, nil
}

// versionOrders are the version orders of the formats that have one.
func versionOrders(fs []formats.Format) firewall.Orders {
	orders := firewall.Orders{}
	for _, f := range fs {
		if o, ok := f.(formats.VersionOrderer); ok {
			orders[f.Name()] = o.CompareVersions
		}
	}
	return orders
}

// initAccess sets up the verifier of signed requests and the policies'
// access decisions; in open mode there are neither.
func (s *Server) initAccess() error {
	if s.cfg.Open() {
		return nil
	}
	keys := map[string]string{}
	for _, k := range s.cfg.Auth.AccessKeys {
		keys[k.ID] = k.Secret
	}
	s.verifier = sigv4.NewVerifier(keys, sigv4.Options{})
	principals, err := s.cfg.Principals()
	if err != nil {
		return err
	}
	s.access = access.New(principals, s.registry, access.Options{Log: s.log, Denied: s.metrics.denied})
	return nil
}

// Resolver returns the engine (for tests and tools).
func (s *Server) Resolver() *resolver.Resolver { return s.resolver }

// Registry returns the model (for tests and tools).
func (s *Server) Registry() *model.Registry { return s.registry }

// Issuer returns the token issuer (for tests and tools).
func (s *Server) Issuer() *token.Issuer { return s.issuer }

// MintToken mints a data-plane token for the access key keyID, as
// GetAuthorizationToken does (for tests and tools). In open mode the key is
// not checked.
func (s *Server) MintToken(domain, keyID string, ttl time.Duration) (string, error) {
	if s.access == nil {
		tok, _ := s.issuer.MintKey(domain, keyID, "", ttl)
		return tok, nil
	}
	p, ok := s.access.Key(keyID)
	if !ok {
		return "", fmt.Errorf("no access key %q is configured", keyID)
	}
	tok, _ := s.issuer.MintKey(domain, keyID, p.ARN, ttl)
	return tok, nil
}

// Config returns the configuration the server runs with.
func (s *Server) Config() *Config { return s.cfg }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

func (s *Server) routes(fs []formats.Format) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.accessLog, s.recover, s.openModeGuard)

	e.GET("/-/health", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/-/ready", func(c echo.Context) error {
		if !s.ready.Load() {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	metricsHandler := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	e.GET("/-/metrics", echo.WrapHandler(metricsHandler), s.metricsAuth)

	cp := &controlplane.Handler{
		Registry: s.registry, Resolver: s.resolver, Tokens: s.issuer, TokenTTL: s.cfg.Auth.TokenTTL,
		BaseURL: s.baseURL, Formats: fs, Collect: s.CollectSoon, MaxPublishSize: s.cfg.MaxPublishSize, Account: s.cfg.Auth.Account, Scoped: s.scoped,
		Caller: func(c echo.Context) (string, string) {
			key, _ := c.Get(principalKey).(string)
			if s.access == nil {
				return key, ""
			}
			if p, ok := s.access.Key(key); ok {
				return key, p.ARN
			}
			return key, ""
		},
	}
	var res formats.Resolver = s.resolver
	if s.access != nil {
		cp.Authorize = s.authorizeControl
		res = guard{Resolver: s.resolver, s: s}
	}
	cp.Mount(e.Group("/v1", s.signed, s.limitWrites))

	for _, f := range fs {
		g := e.Group("/:domain/"+f.Name()+"/:repo", s.repository(f))
		f.Mount(g, res)
	}
	return e
}

// authorizeControl decides a control-plane operation for the access key
// that signed the request.
func (s *Server) authorizeControl(c echo.Context, action string, t access.Target, write bool) error {
	key, _ := c.Get(principalKey).(string)
	p, ok := s.access.Key(key)
	if !ok {
		return &iam.Denied{Request: iam.Request{Principal: key, Action: action, Resource: t.Resource}}
	}
	return s.access.Authorize(c.Request().Context(), p, action, t, write)
}

// recover turns a handler panic into a 500, except the deliberate abort of a
// transfer that failed half way (http.ErrAbortHandler), which must reach
// net/http so the connection is cut.
func (s *Server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "path", c.Request().URL.Path, "panic", fmt.Sprint(v))
				err = errors.New("panic")
			}
		}()
		return next(c)
	}
}

// reconcile creates or updates the configured domains and repositories.
func (s *Server) reconcile(ctx context.Context) error {
	for _, d := range s.cfg.Domains {
		if _, err := s.registry.Domain(d.Name); errors.Is(err, model.ErrNotFound) {
			if _, err := s.registry.CreateDomain(ctx, d.Name, nil); err != nil {
				return fmt.Errorf("config: domain %s: %w", d.Name, err)
			}
		}
		lists, err := d.CompileLists()
		if err != nil {
			return fmt.Errorf("config: domain %s: %w", d.Name, err)
		}
		s.resolver.SetDomainLists(d.Name, lists)
		// Repositories first, links after, so the order in the file is free.
		for _, r := range d.Repositories {
			if _, err := s.registry.Repository(d.Name, r.Name); errors.Is(err, model.ErrNotFound) {
				if _, err := s.registry.CreateRepository(ctx, d.Name, r.Name, r.Description, nil, nil); err != nil {
					return fmt.Errorf("config: repository %s/%s: %w", d.Name, r.Name, err)
				}
			}
		}
		for _, r := range d.Repositories {
			desc, ups := r.Description, r.Upstreams
			if ups == nil {
				ups = []string{}
			}
			repo, err := s.registry.UpdateRepository(ctx, d.Name, r.Name, &desc, &ups)
			if err != nil {
				return fmt.Errorf("config: repository %s/%s: %w", d.Name, r.Name, err)
			}
			if r.Cooldown != nil && !reflect.DeepEqual(repo.Cooldown, r.Cooldown) {
				if _, err := s.registry.SetRepositoryCooldown(ctx, d.Name, r.Name, r.Cooldown); err != nil {
					return fmt.Errorf("config: repository %s/%s: %w", d.Name, r.Name, err)
				}
			}
			if repo.ExternalConnection != r.ExternalConnection {
				if repo.ExternalConnection != "" {
					if _, err := s.registry.DisassociateExternalConnection(ctx, d.Name, r.Name, repo.ExternalConnection); err != nil {
						return fmt.Errorf("config: repository %s/%s: %w", d.Name, r.Name, err)
					}
				}
				if r.ExternalConnection != "" {
					if _, err := s.registry.AssociateExternalConnection(ctx, d.Name, r.Name, r.ExternalConnection); err != nil {
						return fmt.Errorf("config: repository %s/%s: %w", d.Name, r.Name, err)
					}
				}
			}
		}
	}
	return nil
}

// tokenKey returns the key that signs data-plane tokens, made once and kept
// in the store so tokens survive restarts.
func tokenKey(ctx context.Context, store storage.Records) ([]byte, error) {
	key, err := store.Get(ctx, tokenKeyKey())
	if err == nil && len(key) >= 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	return RotateTokenKey(ctx, store)
}

// tokenKeyKey is where the token-signing key is kept.
func tokenKeyKey() []byte {
	k, err := storage.StateKey{Name: "token-key"}.Bytes()
	if err != nil {
		panic(err) // unreachable: a fixed, valid name
	}
	return k
}

// RotateTokenKey replaces the key that signs data-plane tokens with a new
// random one: every token minted before is refused from then on. It is for
// `stockpile rotate-token-key`, which runs while the server is stopped.
func RotateTokenKey(ctx context.Context, store storage.Records) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := store.Put(ctx, tokenKeyKey(), key, 0); err != nil {
		return nil, err
	}
	return key, nil
}

// ListenAddr is where the server listens: the configured address, forced to
// loopback when no access keys are configured (everything is allowed then).
func (c *Config) ListenAddr() (addr string, forced bool) {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil || !c.Open() {
		return c.Listen, false
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return c.Listen, false
	}
	return net.JoinHostPort("127.0.0.1", port), true
}

// Serve answers on ln until ctx ends, then shuts down gracefully: in-flight
// requests (downloads included) get up to ShutdownTimeout to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := newHTTPServer(s.cfg.HTTP, s.echo, s.log)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	gcCtx, stopGC := context.WithCancel(context.Background())
	gcDone := make(chan struct{}, 3)
	go func() { defer func() { gcDone <- struct{}{} }(); s.collectLoop(gcCtx) }()
	go func() { defer func() { gcDone <- struct{}{} }(); s.advisoryLoop(gcCtx) }()
	go func() { defer func() { gcDone <- struct{}{} }(); s.resolver.RunRequestMarks(gcCtx) }()
	defer func() { stopGC(); <-gcDone; <-gcDone; <-gcDone }()
	if ss, ok := s.store.(sharedStore); ok {
		watchDone := make(chan struct{})
		go func() { defer close(watchDone); s.watchChanges(gcCtx, ss) }()
		defer func() { stopGC(); <-watchDone }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	if s.hooks.ShuttingDown != nil {
		s.hooks.ShuttingDown()
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// ReloadAdvisories reads the known-malicious advisories of
// firewall.osv.path again and blocks by them from the next request; on an
// error the set in use is kept. `stockpile serve` calls it on SIGHUP.
func (s *Server) ReloadAdvisories() error {
	path := s.cfg.Firewall.OSV.Path
	if path == "" {
		return nil
	}
	a, err := firewall.LoadOSV(path, s.orders)
	if err != nil {
		s.log.Error("known-malicious advisories not reloaded: the previous set stays in use", "path", path, "error", err.Error())
		return fmt.Errorf("firewall.osv.path: %w", err)
	}
	s.resolver.SetAdvisories(a)
	s.log.Info("known-malicious advisories loaded", "path", path, "loaded", a.String())
	return nil
}

// advisoryLoop reloads the advisories every firewall.osv.refresh.
func (s *Server) advisoryLoop(ctx context.Context) {
	if s.cfg.Firewall.OSV.Path == "" || s.cfg.Firewall.OSV.Refresh <= 0 {
		return
	}
	every(ctx, s.cfg.Firewall.OSV.Refresh, nil, func() {
		_ = s.ReloadAdvisories() // logged; the previous set stays
	})
}

// every runs fn every period, and whenever wake delivers, until ctx ends.
func every(ctx context.Context, period time.Duration, wake <-chan struct{}, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		fn()
	}
}

// CollectSoon asks the blob collector to run now rather than at its next tick.
func (s *Server) CollectSoon() {
	select {
	case s.collect <- struct{}{}:
	default:
	}
}

// collectLoop deletes unreferenced blobs on a ticker and on request.
func (s *Server) collectLoop(ctx context.Context) {
	every(ctx, s.cfg.Storage.BlobGCInterval, s.collect, func() {
		s.asLeader(ctx, "blob-gc", func() {
			if _, err := s.resolver.CollectGarbage(ctx, s.cfg.Storage.BlobGCGrace); err != nil && ctx.Err() == nil {
				s.log.Error("blob garbage collection failed", "error", err.Error())
			}
		})
		if s.hooks.Collected != nil {
			s.hooks.Collected()
		}
	})
}
