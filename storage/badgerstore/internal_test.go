package badgerstore

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// keyCounts counts the keys of each space in a database.
type keyCounts struct {
	Records, Metas, Chunks, Uploads int
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
			case bytes.HasPrefix(k, chunkSpace):
				c.Chunks++
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
