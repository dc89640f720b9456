package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
	"github.com/stockpile-proxy/stockpile/storage/postgres"
	"github.com/stockpile-proxy/stockpile/storage/s3"
)

// openStore opens the store storage.backend names. gcInterval is Badger's
// value-log GC interval (negative: none), ignored by postgres.
func openStore(ctx context.Context, cfg *proxy.Config, gcInterval time.Duration, log *slog.Logger) (storage.Store, error) {
	switch cfg.Storage.Backend {
	case "postgres":
		objects, err := s3.New(cfg.Storage.S3, os.Getenv, nil)
		if err != nil {
			return nil, err
		}
		octx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := objects.EnsureBucket(octx); err != nil {
			return nil, err
		}
		s, err := postgres.Open(octx, postgres.Options{
			DSN: cfg.Storage.Postgres.DSN, Objects: objects,
			CacheDir: cfg.Storage.S3.CacheDir, CacheSize: int64(cfg.Storage.S3.CacheSize),
			AbandonedUploadAge: cfg.Storage.S3.AbandonedUploadAge,
		}, log)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "badger", "":
		s, err := badgerstore.Open(badgerstore.Options{Dir: cfg.DataDir, GCInterval: gcInterval}, log)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("storage.backend %q must be badger or postgres", cfg.Storage.Backend)
	}
}
