// Package proxytest starts a whole Stockpile on loopback for tests: an
// in-memory store (or one on disk that survives Restart), the formats given,
// and the configuration given.
package proxytest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

// Options configure a test server.
type Options struct {
	// Config is the server configuration; nil means proxy.Defaults().
	// Listen and DataDir are chosen by Start.
	Config *proxy.Config
	// Formats served.
	Formats []formats.Format
	// OnDisk keeps the data in a temporary directory so Restart finds it.
	OnDisk bool
	// Log receives the server's log; nil discards it unless STOCKPILE_TEST_LOG is set.
	Log *slog.Logger
	// Clock is the server's clock for TTLs and token lifetimes; nil means a
	// new one (Instance.Clock). Advance it instead of sleeping past a TTL.
	Clock *Clock
	// Events counts the server's events (proxy.Hooks); nil means a new one
	// (Instance.Events). Wait on them instead of sleeping.
	Events *Events
	// OpenStore, when set, opens the server's store instead of Badger
	// (enginetest.Engines.SharedStore opens replicas' stores on PostgreSQL
	// and SeaweedFS).
	OpenStore func(t testing.TB, log *slog.Logger) storage.Store
}

// Clock is a test clock for Options.Clock: it follows the real time, and
// Advance moves it ahead at once, so a test steps past a TTL without
// sleeping while everything that merely waits still sees time pass. It is
// safe for concurrent use.
type Clock struct {
	offset atomic.Int64 // nanoseconds ahead of the real time
}

// NewClock returns a clock reading the current time.
func NewClock() *Clock { return &Clock{} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// Instance is a running server.
type Instance struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL    string
	Server *proxy.Server
	Store  storage.Store
	// Clock is the server's clock: advance it to step past a TTL.
	Clock *Clock
	// Events are the server's events: wait on them instead of sleeping.
	Events *Events

	t      testing.TB
	opts   Options
	cfg    proxy.Config
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Instance {
	t.Helper()
	cfg := proxy.Defaults()
	if opts.Config != nil {
		cfg = *opts.Config
	}
	if err := cfg.Validate(); err != nil && cfg.DataDir != "" {
		t.Fatalf("proxytest: config: %v", err)
	}
	// The data directory holds the spool directory even when the store
	// keeps its records in memory.
	cfg.DataDir = t.TempDir()
	// The background scrub would race what tests check of the blobs: tests
	// run it themselves (Resolver().Scrub).
	cfg.Storage.ScrubRate = 0
	if opts.Clock == nil {
		opts.Clock = NewClock()
	}
	if opts.Events == nil {
		opts.Events = NewEvents()
	}
	in := &Instance{t: t, opts: opts, cfg: cfg, Clock: opts.Clock, Events: opts.Events}
	in.start("127.0.0.1:0")
	t.Cleanup(in.Stop)
	return in
}

func (in *Instance) logger() *slog.Logger {
	if in.opts.Log != nil {
		return in.opts.Log
	}
	if os.Getenv("STOCKPILE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func (in *Instance) start(addr string) {
	t := in.t
	t.Helper()
	log := in.logger()
	store := in.openStore(log)
	cfg := in.cfg
	srv, err := proxy.New(context.Background(), &cfg, store, in.opts.Formats, log, proxy.WithClock(in.opts.Clock.Now), proxy.WithHooks(in.opts.Events.hooks()))
	if err != nil {
		store.Close()
		t.Fatalf("proxytest: new server: %v", err)
	}
	var ln net.Listener
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", addr)
		if err == nil || i > 50 {
			break
		}
		time.Sleep(100 * time.Millisecond) // the old listener of a Restart may linger
	}
	if err != nil {
		store.Close()
		t.Fatalf("proxytest: listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	in.Server, in.Store, in.cancel, in.done = srv, store, cancel, done
	in.addr = ln.Addr().String()
	in.URL = "http://" + in.addr
}

func (in *Instance) openStore(log *slog.Logger) storage.Store {
	t := in.t
	t.Helper()
	if in.opts.OpenStore != nil {
		return in.opts.OpenStore(t, log)
	}
	bo := badgerstore.Options{InMemory: true}
	if in.opts.OnDisk {
		bo = badgerstore.Options{Dir: in.cfg.DataDir}
	}
	store, err := badgerstore.Open(bo, log)
	if err != nil {
		t.Fatalf("proxytest: open store: %v", err)
	}
	return store
}

// Stop shuts the server down and closes its store. It is safe to call twice.
func (in *Instance) Stop() {
	if in.cancel == nil {
		return
	}
	in.cancel()
	<-in.done
	in.Store.Close()
	in.cancel = nil
}

// Restart stops the server and starts it again on the same address with the
// same data (Options.OnDisk or OpenStore must be set).
func (in *Instance) Restart() {
	in.t.Helper()
	if !in.opts.OnDisk && in.opts.OpenStore == nil {
		in.t.Fatal("proxytest: Restart needs OnDisk or OpenStore")
	}
	in.Stop()
	in.start(in.addr)
}

// Config is the configuration the next Restart uses: a test changes it to
// restart with other keys.
func (in *Instance) Config() *proxy.Config { return &in.cfg }

// Token mints a data-plane token for domain, as GetAuthorizationToken would
// for the first configured access key.
func (in *Instance) Token(domain string) string {
	key := "test"
	if keys := in.Server.Config().Auth.AccessKeys; len(keys) > 0 {
		key = keys[0].ID
	}
	return in.TokenFor(domain, key)
}

// TokenFor mints a data-plane token for domain as the access key keyID.
func (in *Instance) TokenFor(domain, keyID string) string {
	in.t.Helper()
	tok, err := in.Server.MintToken(domain, keyID, time.Hour)
	if err != nil {
		in.t.Fatal(err)
	}
	return tok
}

// WaitReclaimed waits until the blob collector has removed every blob sum
// of domain (a disposed or deleted version's bytes): it looks again after
// each pass of the collector, and fails t when one is still stored after
// ten seconds.
func (in *Instance) WaitReclaimed(t testing.TB, domain string, sums ...string) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for _, sum := range sums {
		for {
			in.Events.mu.Lock()
			passEnded := in.Events.changed
			in.Events.mu.Unlock()
			_, err := in.Store.StatBlob(context.Background(), domain, sum)
			if errors.Is(err, storage.ErrNotFound) {
				break
			}
			select {
			case <-passEnded:
			case <-timeout.C:
				t.Fatalf("blob %s was not reclaimed: %v", sum, err)
			}
		}
	}
}

// CountRecords counts the stored records under prefix (storage's
// VersionsPrefix, PackagesPrefix...): fuzz tests check that refused input
// changed nothing.
func (in *Instance) CountRecords(prefix []byte) int {
	n := 0
	err := in.Store.Scan(context.Background(), prefix, func(_, _ []byte) error { n++; return nil })
	if err != nil {
		in.t.Fatalf("proxytest: count records: %v", err)
	}
	return n
}

// DataDir is the server's data directory (its spool directory is below it,
// also when the store keeps its records in memory).
func (in *Instance) DataDir() string { return in.cfg.DataDir }

// Advise writes an OSV advisory id naming versions of name in ecosystem
// as known-malicious into dir (the server's firewall.osv.path) and reloads
// the advisories; withdraw removes it and reloads them again, failing its
// t on an error.
func (in *Instance) Advise(t testing.TB, dir, id, ecosystem, name string, versions ...string) (withdraw func(testing.TB)) {
	t.Helper()
	doc, err := json.Marshal(map[string]any{"id": id, "affected": []map[string]any{{
		"package": map[string]string{"ecosystem": ecosystem, "name": name}, "versions": versions,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, id+".json")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := in.Server.ReloadAdvisories(); err != nil {
		t.Fatal(err)
	}
	return func(t testing.TB) {
		t.Helper()
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := in.Server.ReloadAdvisories(); err != nil {
			t.Fatal(err)
		}
	}
}
