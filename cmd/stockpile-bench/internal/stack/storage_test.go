package stack

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage/s3"
)

// A replica's configuration (the cluster scenario's) loads in Stockpile
// with its storage on PostgreSQL and S3, the other storage keys at their
// defaults.
func TestStockpileConfigStorageLoads(t *testing.T) {
	dir := t.TempDir()
	dsn, o := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", s3.Options{
		Endpoint: "http://127.0.0.1:8333", Region: "us-east-1", Bucket: "stockpile-bench", AccessKeyID: "k", SecretAccessKey: "s",
		PathStyle: true, CacheDir: filepath.Join(dir, "cache"), CacheSize: 1 << 30}
	c := Config(filepath.Join(dir, "data"), StoreConfig{"npm-store", NPMJSConnection, "http://127.0.0.1:18081/", 0})
	c.Storage.Backend, c.Storage.Postgres.DSN, c.Storage.S3 = "postgres", dsn, o
	got := loadConfig(t, c).Storage
	if got.Backend != "postgres" || got.Postgres.DSN != dsn || got.S3 != o {
		t.Errorf("storage %+v, want postgres at %s and %+v", got, dsn, o)
	}
	if got.BlobGCInterval != time.Hour {
		t.Errorf("blob_gc_interval %s: the keys not given lost their defaults", got.BlobGCInterval)
	}
}
