// Package postgres is the storage backend for several Stockpile replicas:
// records and the index of blobs in PostgreSQL (through pgx), blobs' bytes
// in an S3-compatible object store, and a bounded local disk cache of blobs
// on each replica so that warm reads are local files.
//
// A blob exists when its row in the blobs table does; the row is inserted
// only after the object is wholly in the object store, in a transaction
// that holds an advisory lock on the blob, which DeleteBlob takes too.
// Blobs up to the object store's part size are uploaded once spooled, to
// content-addressed keys (blobs/DOMAIN/SHA256 under the configured prefix).
// Larger ones are uploaded in parts while they are written, to a key of
// their own (blobs/DOMAIN/upload-ID) that the blob's row names, since the
// digest is not known until the last byte: the upload is recorded in the
// uploads table before it starts, and the record deleted in the
// transaction that commits the blob. So a crash at any point leaves at
// worst an object no row names (a content-addressed one, which a later
// write of the same bytes overwrites; or an upload, in progress or
// complete, still recorded, which RemoveAbandonedUploads discards), or a
// temporary file in the cache (removed at the next start).
//
// The schema is created and migrated at Open, under an advisory lock, so
// replicas that start together agree on it. Records with a TTL carry their
// expiry time (the server's clock) and are never returned after it; a
// background sweep only reclaims their space.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/blobcache"
)

// Objects is what the store needs of an object store (storage/s3's Client).
type Objects interface {
	// Put stores size bytes read from r as key; the object appears whole or
	// not at all.
	Put(ctx context.Context, key string, r io.ReaderAt, size int64) error
	// Get opens key, or returns an error wrapping storage.ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Delete removes key; an absent key is not an error.
	Delete(ctx context.Context, key string) error
}

// Options configure a Store.
type Options struct {
	// DSN is PostgreSQL's connection string (storage.postgres.dsn).
	DSN string
	// Objects keeps the blobs' bytes.
	Objects Objects
	// CacheDir and CacheSize are the local blob cache (storage.s3.cache_dir
	// and cache_size); each replica needs its own directory.
	CacheDir  string
	CacheSize int64
	// MaxConns bounds the connections to PostgreSQL for records and blobs;
	// zero means 32.
	MaxConns int32
	// LockConns bounds the connections that hold cluster-wide locks (one
	// per lock held, such as an upstream fetch in progress), apart from
	// MaxConns so that locks never starve the store; zero means 32.
	LockConns int32
	// SweepInterval is how often expired records are deleted; zero means a
	// minute, negative never.
	SweepInterval time.Duration
	// AbandonedUploadAge is how old an upload left unfinished in the
	// object store (by a replica that died while writing a blob) must be
	// for the store to abort it: one replica at a time looks every hour, or
	// every AbandonedUploadAge when that is shorter. Zero never aborts any.
	AbandonedUploadAge time.Duration
	// Now is the clock of the store's own timing (how recently it checked
	// that its servers answer); nil means time.Now.
	Now func() time.Time
}

// Store is a storage.Store on PostgreSQL and an object store.
type Store struct {
	pool     *pgxpool.Pool
	lockPool *pgxpool.Pool // connections holding advisory locks
	objects  Objects
	cache    *blobcache.Cache
	log      *slog.Logger
	// downloads coalesces the readers of a blob missing from the cache
	// into one download (downloadOnce).
	downloads singleflight.Group
	// testHookDownloading, nil but in tests, runs when a reader has
	// started or joined the download of a blob missing from the cache
	// (after DoChan), or is about to download one larger than the cache.
	testHookDownloading func()

	lockMu sync.Mutex
	locked map[*pgxpool.Conn]struct{} // connections that hold advisory locks

	now       func() time.Time
	reachedAt atomic.Int64 // when reachable last succeeded, in Unix nanoseconds

	closed atomic.Bool
	stop   context.CancelFunc
	bg     sync.WaitGroup
}

var _ storage.Store = (*Store)(nil)

// Open connects, creates or migrates the schema, and opens the local cache.
func Open(ctx context.Context, o Options, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Objects == nil {
		return nil, errors.New("postgres: no object store for blobs")
	}
	if o.CacheDir == "" || o.CacheSize <= 0 {
		return nil, errors.New("postgres: the blob cache needs a directory and a positive size")
	}
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres: dsn: %w", err)
	}
	cfg.MaxConns = o.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 32
	}
	cache, err := blobcache.Open(o.CacheDir, o.CacheSize)
	if err != nil {
		return nil, err
	}
	lockCfg := cfg.Copy()
	lockCfg.MaxConns = o.LockConns
	if lockCfg.MaxConns <= 0 {
		lockCfg.MaxConns = 32
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	lockPool, err := pgxpool.NewWithConfig(ctx, lockCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		lockPool.Close()
		return nil, err
	}
	bgctx, stop := context.WithCancel(context.Background())
	s := &Store{pool: pool, lockPool: lockPool, objects: o.Objects, cache: cache, log: log, stop: stop, now: o.Now, locked: map[*pgxpool.Conn]struct{}{}}
	if s.now == nil {
		s.now = time.Now
	}
	if a, ok := o.Objects.(uploadAborter); ok && o.AbandonedUploadAge > 0 {
		s.bg.Go(func() { s.abortAbandoned(bgctx, a, o.AbandonedUploadAge) })
	}
	if o.SweepInterval >= 0 {
		every := o.SweepInterval
		if every == 0 {
			every = time.Minute
		}
		s.bg.Go(func() { s.sweepExpired(bgctx, every) })
	}
	return s, nil
}

// Close stops the background work, frees the locks it holds and closes the
// connections. Blobs opened before fail their later reads; every other call
// returns storage.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return storage.ErrClosed
	}
	s.stop()
	s.bg.Wait()
	s.releaseLocks()
	s.lockPool.Close()
	s.pool.Close()
	return nil
}

func (s *Store) check() error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	return nil
}

// Pool is the store's connection pool, for the cluster coordination built
// on the same database (advisory locks, notifications).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// sweepExpired deletes expired records every interval. Reads already skip
// them; this only reclaims their space.
func (s *Store) sweepExpired(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.pool.Exec(ctx, `DELETE FROM records WHERE expires < clock_timestamp()`); err != nil && ctx.Err() == nil {
			s.log.Warn("deleting expired records", "err", err)
		}
	}
}

// uploadAborter is what an object store offers to abort the uploads its
// writers left unfinished (storage/s3's Client).
type uploadAborter interface {
	AbortUploads(ctx context.Context, cutoff time.Time) (int, error)
}

// abortAbandoned aborts, every hour (or every age when that is shorter),
// the uploads older than age, on one replica at a time: the others find
// the job's lock taken and skip their turn.
func (s *Store) abortAbandoned(ctx context.Context, a uploadAborter, age time.Duration) {
	t := time.NewTicker(min(age, time.Hour))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		unlock, ok, err := s.TryLock(ctx, "job/abandoned-uploads")
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				s.log.Warn("taking the lock of the abandoned-upload job", "err", err)
			}
			continue
		}
		n, err := a.AbortUploads(ctx, s.now().Add(-age))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("aborting abandoned uploads", "aborted", n, "err", err)
		case n > 0:
			s.log.Info("aborted uploads abandoned in the object store", "aborted", n, "older_than", age)
		}
		n, err = s.RemoveAbandonedUploads(ctx, age)
		unlock()
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("discarding abandoned blob uploads", "discarded", n, "err", err)
		case n > 0:
			s.log.Info("discarded the uploads of blobs their writers abandoned", "discarded", n, "older_than", age)
		}
	}
}

// schemaLock is the advisory lock key that serialises migrations.
const schemaLock = 0x53746f636b70696c // "Stockpil"

// migrations are applied in order; the schema's version is how many ran.
// Never edit one that has shipped: append.
var migrations = []string{
	`CREATE TABLE records (
		key     bytea PRIMARY KEY,
		value   bytea NOT NULL,
		expires timestamptz
	);
	CREATE INDEX records_expires ON records (expires) WHERE expires IS NOT NULL;
	CREATE TABLE blobs (
		domain  text COLLATE "C" NOT NULL,
		sha256  text COLLATE "C" NOT NULL,
		size    bigint NOT NULL,
		md5     text NOT NULL,
		sha1    text NOT NULL,
		sha512  text NOT NULL,
		touched timestamptz NOT NULL,
		PRIMARY KEY (domain, sha256)
	);`,
	// Every statement that writes records counts a change and notifies the
	// replicas (a notification is sent at commit, and once per
	// transaction); Watch reads both.
	`CREATE SEQUENCE changes;
	CREATE FUNCTION stockpile_records_changed() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM nextval('changes');
		PERFORM pg_notify('` + changesChannel + `', '');
		RETURN NULL;
	END $$;
	CREATE TRIGGER records_changed AFTER INSERT OR UPDATE OR DELETE ON records
		FOR EACH STATEMENT EXECUTE FUNCTION stockpile_records_changed();`,
	// A blob uploaded while it was written (in parts, before its SHA-256
	// was known) names its object's key; NULL is the content-addressed key
	// of the blobs written before and of small ones. uploads holds the keys
	// of such uploads from their start until their blob's row names them
	// (or they are discarded), so that what a dead writer left is found.
	`ALTER TABLE blobs ADD COLUMN object text COLLATE "C";
	CREATE TABLE uploads (
		key     text COLLATE "C" PRIMARY KEY,
		started timestamptz NOT NULL DEFAULT clock_timestamp()
	);`,
}

// migrate brings the schema to the latest version, holding an advisory lock
// so that replicas starting together run each migration once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(schemaLock)); err != nil {
		return fmt.Errorf("postgres: schema lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(schemaLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS stockpile_schema (version integer NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: schema: %w", err)
	}
	var version int
	err = conn.QueryRow(ctx, `SELECT version FROM stockpile_schema`).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = conn.Exec(ctx, `INSERT INTO stockpile_schema (version) VALUES (0)`)
	}
	if err != nil {
		return fmt.Errorf("postgres: schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("postgres: the database's schema is version %d, newer than this Stockpile's %d", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE stockpile_schema SET version = $1`, v+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migrating the schema to version %d: %w", v+1, err)
		}
	}
	return nil
}
