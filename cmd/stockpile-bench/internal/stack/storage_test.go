package stack

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/storage/s3"
)

// A replica's configuration (the cluster scenario's) loads in Stockpile
// with its storage on PostgreSQL and S3, the other storage keys at their
// defaults.
func TestStockpileConfigStorageLoads(t *testing.T) {
	dir := t.TempDir()
	st := &Storage{DSN: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", S3: s3.Options{
		Endpoint: "http://127.0.0.1:8333", Region: "us-east-1", Bucket: "stockpile-bench", AccessKeyID: "k", SecretAccessKey: "s",
		PathStyle: true, CacheDir: filepath.Join(dir, "cache"), CacheSize: 1 << 30}}
	raw, err := StockpileConfig{Listen: "127.0.0.1:18080", DataDir: filepath.Join(dir, "data"), Upstream: "http://127.0.0.1:18081/", Storage: st}.Render()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "stockpile.yaml")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := proxy.Load(p, func(string) string { return "" })
	if err != nil {
		t.Fatalf("proxy.Load: %v\n%s", err, raw)
	}
	got := cfg.Storage
	if got.Backend != "postgres" || got.Postgres.DSN != st.DSN || got.S3 != st.S3 {
		t.Errorf("storage %+v, want postgres at %s and %+v", got, st.DSN, st.S3)
	}
	if got.BlobGCInterval != time.Hour {
		t.Errorf("blob_gc_interval %s: the keys not given lost their defaults", got.BlobGCInterval)
	}
}
