package postgres_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/enginetest"
	"github.com/stockpile-proxy/stockpile/storage/postgres"
	"github.com/stockpile-proxy/stockpile/storage/s3"
	"github.com/stockpile-proxy/stockpile/storage/storagetest"
)

var engines *enginetest.Engines

func TestMain(m *testing.M) {
	if os.Getenv(crashModeEnv) != "" { // the crash test's child: no engines of its own
		os.Exit(m.Run())
	}
	os.Exit(enginetest.Main(m, &engines))
}

var stores atomic.Int64

// openStore opens a store on a new database and a new prefix of one bucket,
// with a local cache of cacheSize bytes.
func openStore(t *testing.T, bucket s3.Options, cacheSize int64) (*postgres.Store, *s3.Client) {
	t.Helper()
	dsn := engines.Postgres(t).NewDatabase(t)
	bucket.Prefix = fmt.Sprintf("s%d/", stores.Add(1))
	objects, err := s3.New(bucket, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(context.Background(), postgres.Options{
		DSN: dsn, Objects: objects, CacheDir: t.TempDir(), CacheSize: cacheSize,
	}, nil)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	return s, objects
}

// TestContract runs the storage contract suite on PostgreSQL and SeaweedFS.
func TestContract(t *testing.T) {
	bucket := engines.S3(t).NewBucket(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, _ := openStore(t, bucket, 64<<20)
		return s
	})
}

// TestContractSmallCache runs the suite with a local cache smaller than
// most of its blobs, so reads go to the object store.
func TestContractSmallCache(t *testing.T) {
	bucket := engines.S3(t).NewBucket(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, _ := openStore(t, bucket, 100<<10)
		return s
	})
}
