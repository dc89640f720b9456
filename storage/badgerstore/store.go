// Package badgerstore is the default storage.Store, kept in a Badger database.
//
// Records are plain Badger entries. Blobs are plain files written as they are
// read and published by a single meta record in Badger; see keys.go for the
// layout and the protocol that keeps a crash from leaving a half-written blob.
package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/dgraph-io/badger/v4"

	"github.com/stockpile-proxy/stockpile/storage"
)

var _ storage.Store = (*Store)(nil)

// Store is a storage.Store on Badger. It is safe for concurrent use. Once
// Close has been called, every method but Close returns an error wrapping
// storage.ErrClosed.
type Store struct {
	db      *badger.DB
	log     *slog.Logger
	dir     string
	blobDir string
	tempDir bool      // blobDir is removed by Close
	minFree int64     // refuse writes below this much free space; <= 0: never
	bufs    sync.Pool // *[]byte of writeBufSize

	// mu is held for reading around every database call and for writing by
	// Close, so that no call runs on a closed database; closed is set under
	// it, and read without it by blob reads.
	mu     sync.RWMutex
	closed atomic.Bool

	closeOnce sync.Once
	closeErr  error
	stopGC    context.CancelFunc
	gcDone    chan struct{}
	gcPassed  chan struct{} // a token after each gc pass, for tests
	// background runs the orphan scan Open starts; Close waits for it.
	background sync.WaitGroup

	// uploads holds the ids of uploads this process is working on, which a
	// sweep must leave alone.
	uploadsMu sync.Mutex
	uploads   map[uploadID]struct{}
}

// Open opens (creating if needed) the store described by opts, removes what
// interrupted uploads left behind, and starts value-log garbage collection.
// log receives the store's and Badger's messages (nil discards them). It
// fails on invalid options, on a directory that cannot be opened or is
// locked by another process, and on a failed sweep.
func Open(opts Options, log *slog.Logger) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "badgerstore")
	blobDir, tempDir := filepath.Join(opts.Dir, blobsSubdir), false
	if opts.InMemory {
		if blobDir, err = os.MkdirTemp("", "stockpile-blobs-"); err != nil {
			return nil, fmt.Errorf("badgerstore: open: %w", err)
		}
		tempDir = true
	}
	fail := func(err error) (*Store, error) {
		if tempDir {
			_ = os.RemoveAll(blobDir)
		}
		return nil, fmt.Errorf("badgerstore: open %q: %w", opts.Dir, err)
	}
	if err := prepareBlobDir(blobDir); err != nil {
		return fail(err)
	}
	db, err := badger.Open(opts.badgerOptions(log.With("db", "badger")))
	if err != nil {
		return fail(err)
	}
	s := &Store{
		db:       db,
		log:      log,
		dir:      opts.Dir,
		blobDir:  blobDir,
		tempDir:  tempDir,
		minFree:  opts.MinFreeSpace,
		gcDone:   make(chan struct{}),
		gcPassed: make(chan struct{}, 1),
		uploads:  make(map[uploadID]struct{}),
	}
	s.bufs.New = func() any { b := make([]byte, writeBufSize); return &b }
	n, err := s.SweepUploads(context.Background())
	if errors.Is(err, syscall.ENOSPC) {
		// A full disk must not keep the server from starting and serving
		// what it has; the next Open sweeps what is left.
		log.Warn("badgerstore: the disk is full: interrupted uploads stay until the next start", "err", err)
		err = nil
	}
	if err != nil {
		_ = db.Close()
		return fail(err)
	}
	if n > 0 {
		log.Info("badgerstore: removed interrupted uploads", "count", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopGC = cancel
	if opts.InMemory || opts.GCInterval < 0 {
		close(s.gcDone)
	} else {
		go s.gcLoop(ctx, opts.GCInterval)
	}
	if !opts.InMemory {
		s.background.Go(func() {
			n, err := s.RemoveOrphans(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("badgerstore: removing orphaned blob files", "err", err)
			case n > 0:
				log.Info("badgerstore: removed orphaned blob files", "count", n)
			}
		})
	}
	return s, nil
}

// Close stops garbage collection, waits for running calls and closes the
// database. It is idempotent: later calls return the first call's result.
// Open blobs fail their reads afterwards.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		s.mu.Unlock()
		s.stopGC()
		<-s.gcDone
		s.background.Wait()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("badgerstore: close: %w", err)
		}
		if s.tempDir {
			if err := os.RemoveAll(s.blobDir); err != nil && s.closeErr == nil {
				s.closeErr = fmt.Errorf("badgerstore: close: %w", err)
			}
		}
	})
	return s.closeErr
}

// isClosed reports whether Close has been called.
func (s *Store) isClosed() bool { return s.closed.Load() }

// use runs fn on the database unless the store is closed, in which case it
// returns storage.ErrClosed. Close waits for fn to return.
func (s *Store) use(fn func(db *badger.DB) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return storage.ErrClosed
	}
	return fn(s.db)
}

// beginUpload marks id as owned by a running call, so a sweep skips it.
func (s *Store) beginUpload(id uploadID) {
	s.uploadsMu.Lock()
	s.uploads[id] = struct{}{}
	s.uploadsMu.Unlock()
}

// endUpload undoes beginUpload.
func (s *Store) endUpload(id uploadID) {
	s.uploadsMu.Lock()
	delete(s.uploads, id)
	s.uploadsMu.Unlock()
}

func (s *Store) uploadActive(id uploadID) bool {
	s.uploadsMu.Lock()
	defer s.uploadsMu.Unlock()
	_, ok := s.uploads[id]
	return ok
}
