package resolver_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// usageStore is a store that wants to hear of the hits the engine serves
// from a blob's file itself, as storage/postgres's local cache does.
type usageStore struct {
	storage.Store
	mu   sync.Mutex
	used map[string]int // file path → uses heard of
}

func (s *usageStore) BlobFileUsed(path string) {
	s.mu.Lock()
	s.used[path]++
	s.mu.Unlock()
}

func (s *usageStore) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.used)
}

// TestHotHitsTellTheStore checks that every warm hit the engine serves
// from a file it opened itself is told to a store that keeps its blobs'
// files in a bounded cache, least recently used out: otherwise the blobs
// asked for all the time would look unused and be the first evicted.
func TestHotHitsTellTheStore(t *testing.T) {
	up := proxytest.NewToyUpstream(t)
	body := make([]byte, 200<<10) // above what the hot cache keeps in memory
	rand.Read(body)
	sum := sha256.Sum256(body)
	up.PublishBody(t, "demo", "1.0.0", body)
	cfg := proxy.Defaults()
	cfg.Connections = map[string]upstream.Options{"public:crates-io": {URL: up.Fake.URL + "/", TTL: time.Hour}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"store"}},
		{Name: "store", ExternalConnection: "public:crates-io"},
	}}}
	us := &usageStore{used: map[string]int{}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}},
		OpenStore: func(t testing.TB, log *slog.Logger) storage.Store {
			s, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()}, log)
			if err != nil {
				t.Fatal(err)
			}
			us.Store = s
			return us
		}})
	fetch := func() {
		t.Helper()
		resp, err := http.Get(in.URL + "/acme/cargo/app/demo/1.0.0/demo-1.0.0.txt")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("GET: %d, %d bytes, %v", resp.StatusCode, len(got), err)
		}
	}
	fetch() // fetched from the upstream
	fetch() // opened from the store, remembered in the hot cache
	before := us.snapshot()
	const hits = 5
	for range hits {
		fetch()
	}
	after := us.snapshot()
	if len(after) != 1 {
		t.Fatalf("uses told of %d files, want the blob's one: %v", len(after), after)
	}
	for path, n := range after {
		if n-before[path] != hits {
			t.Errorf("%d warm hits told the store of %d uses of %s", hits, n-before[path], path)
		}
		if b, err := os.ReadFile(path); err != nil || sha256.Sum256(b) != sum {
			t.Errorf("%s is not the blob's file (%v)", path, err)
		}
	}
}
