package enginetest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/postgres"
	"github.com/stockpile-proxy/stockpile/storage/s3"
)

// SharedStore creates a database and a bucket and returns an opener of
// stores on them, as several replicas share them: each call opens another
// store with a local blob cache of its own (64 MiB), closed when its test
// ends.
func (e *Engines) SharedStore(t testing.TB) func(t testing.TB, log *slog.Logger) storage.Store {
	t.Helper()
	dsn := e.Postgres(t).NewDatabase(t)
	bucket := e.S3(t).NewBucket(t)
	return func(t testing.TB, log *slog.Logger) storage.Store {
		t.Helper()
		objects, err := s3.New(bucket, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := postgres.Open(context.Background(), postgres.Options{
			DSN: dsn, Objects: objects, CacheDir: t.TempDir(), CacheSize: 64 << 20,
		}, log)
		if err != nil {
			t.Fatalf("enginetest: open store: %v", err)
		}
		return s
	}
}
