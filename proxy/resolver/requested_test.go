package resolver_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// countingStore counts the record writes that reach the store.
type countingStore struct {
	storage.Store
	writes atomic.Int64
	// wrote receives after each write (not blocking: writes while no one
	// reads coalesce).
	wrote chan struct{}
}

func (s *countingStore) Put(ctx context.Context, key, value []byte, ttl time.Duration) error {
	s.writes.Add(1)
	defer s.written()
	return s.Store.Put(ctx, key, value, ttl)
}

func (s *countingStore) Apply(ctx context.Context, muts []storage.Mutation) error {
	s.writes.Add(1)
	defer s.written()
	return s.Store.Apply(ctx, muts)
}

func (s *countingStore) written() {
	select {
	case s.wrote <- struct{}{}:
	default:
	}
}

// TestRequestedAgain checks that a package fetched once is not marked as
// requested again, that the next client served from the store marks it in
// every repository holding it (the requested one and the one owning the
// connection), and that warm hits after that write nothing.
func TestRequestedAgain(t *testing.T) {
	up := proxytest.NewToyUpstream(t)
	cfg := proxy.Defaults()
	cfg.Connections = map[string]upstream.Options{"public:crates-io": {URL: up.Fake.URL + "/", TTL: time.Hour}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"store"}},
		{Name: "store", ExternalConnection: "public:crates-io"},
	}}}
	cs := &countingStore{wrote: make(chan struct{}, 1)}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}},
		OpenStore: func(t testing.TB, log *slog.Logger) storage.Store {
			s, err := badgerstore.Open(badgerstore.Options{InMemory: true}, log)
			if err != nil {
				t.Fatal(err)
			}
			cs.Store = s
			return cs
		}})
	p := formats.Package{Format: "cargo", Name: "demo"}
	flags := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		for _, repo := range []string{"app", "store"} {
			r, err := in.Server.Registry().Repository("acme", repo)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := in.Server.Resolver().PackageRecord(context.Background(), "acme", r.ID, p)
			if err != nil || rec == nil {
				t.Fatalf("package record in %s: %v %v", repo, rec, err)
			}
			out[repo] = rec.RequestedAgain
		}
		return out
	}
	fetch := func() {
		t.Helper()
		proxytest.GetOK(t, in.URL+"/acme/cargo/app/demo/1.0.0/demo-1.0.0.txt", nil)
	}
	up.Publish(t, "demo", "1.0.0")
	fetch()
	if f := flags(); f["app"] || f["store"] {
		t.Fatalf("fetched once, marked as requested again: %v", f)
	}
	fetch() // served from the store
	// The mark is written in the background: look again after each write.
	timeout := time.After(10 * time.Second)
	for f := flags(); !f["app"] || !f["store"]; f = flags() {
		select {
		case <-cs.wrote:
		case <-timeout:
			t.Fatalf("served again, not marked: %v", f)
		}
	}
	before := cs.writes.Load()
	for range 50 {
		fetch()
	}
	if n := cs.writes.Load() - before; n != 0 {
		t.Fatalf("50 warm hits wrote %d times", n)
	}
}
