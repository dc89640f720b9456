package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/stockpile-proxy/stockpile/storage"
)

// keyCounts counts the keys of each space in a database, and the blob
// files beside it.
type keyCounts struct {
	Records, Metas, Uploads, Files int
}

// countFiles counts the blob files below dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "??", "*"))
	if err != nil {
		t.Fatalf("counting blob files: %v", err)
	}
	return len(files)
}

func countKeys(t *testing.T, db *badger.DB) keyCounts {
	t.Helper()
	var c keyCounts
	err := db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			switch {
			case bytes.HasPrefix(k, metaSpace):
				c.Metas++
			case bytes.HasPrefix(k, uploadSpace):
				c.Uploads++
			case k[0] == reservedByte:
				t.Errorf("unknown key in the reserved space: %q", k)
			default:
				c.Records++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("counting keys: %v", err)
	}
	return c
}

// storeKeys counts the keys of an open store.
func storeKeys(t *testing.T, s *Store) keyCounts {
	t.Helper()
	var c keyCounts
	if err := s.use(func(db *badger.DB) error { c = countKeys(t, db); return nil }); err != nil {
		t.Fatalf("counting keys: %v", err)
	}
	c.Files = countFiles(t, s.blobDir)
	return c
}

func openInternal(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open(%+v): %v", opts, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// badgerOpenRaw opens a database directory as Open would, without sweeping.
func badgerOpenRaw(dir string) (*badger.DB, error) {
	opts, err := Options{Dir: dir}.withDefaults()
	if err != nil {
		return nil, err
	}
	return badger.Open(opts.badgerOptions(slog.New(slog.DiscardHandler)))
}

// TestInMemoryBlobDir checks that an in-memory store keeps its blob files
// in a directory of its own that Close removes.
func TestInMemoryBlobDir(t *testing.T) {
	s := openInternal(t, Options{InMemory: true})
	if _, err := s.WriteBlob(context.Background(), "npm", strings.NewReader("bytes"), nil); err != nil {
		t.Fatalf("WriteBlob: %v", err)
	}
	if n := countFiles(t, s.blobDir); n != 1 {
		t.Fatalf("%d blob files, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(s.blobDir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("blob directory after Close: %v, want it gone", err)
	}
}

// TestChunkedLayoutRefused checks that a meta record of the layout that cut
// blobs into chunks in Badger is an error, not a blob without bytes.
func TestChunkedLayoutRefused(t *testing.T) {
	s := openInternal(t, Options{InMemory: true})
	sha := strings.Repeat("ab", 32)
	old := `{"sums":{"size":10,"sha256":"` + sha + `"},"chunks":1,"chunkSize":262144,"upload":"00112233445566778899aabbccddeeff"}`
	if err := s.use(func(db *badger.DB) error {
		return db.Update(func(txn *badger.Txn) error { return txn.Set(metaKey("npm", sha), []byte(old)) })
	}); err != nil {
		t.Fatal(err)
	}
	_, err := s.OpenBlob(context.Background(), "npm", sha)
	if err == nil || errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), "earlier version") {
		t.Fatalf("OpenBlob of a chunked blob = %v, want an error naming the old layout", err)
	}
}

// TestCompressedTablesStillRead checks that a database whose tables were
// written compressed (the default of badger, and of this store before its
// tables were plain) opens and reads with the store's options, which have
// neither compression nor a block cache.
func TestCompressedTablesStillRead(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithCompression(options.Snappy))
	if err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte("a compressible record value "), 100)
	if err := db.Update(func(txn *badger.Txn) error {
		for i := range 1000 {
			if err := txn.Set(fmt.Appendf(nil, "r/key-%04d", i), val); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // flushes the memtable to a table
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.sst")); len(m) == 0 {
		t.Fatal("no table written: the test reads nothing from one")
	}
	s := openInternal(t, Options{Dir: dir})
	for _, i := range []int{0, 517, 999} {
		got, err := s.Get(context.Background(), fmt.Appendf(nil, "r/key-%04d", i))
		if err != nil || !bytes.Equal(got, val) {
			t.Fatalf("Get key %d: %d bytes, %v", i, len(got), err)
		}
	}
}
