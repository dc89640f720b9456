package badgerstore

import (
	"context"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/stockpile-proxy/stockpile/storage"
)

// ListBlobs implements storage.Blobs.
func (s *Store) ListBlobs(ctx context.Context, domain string, fn func(storage.BlobInfo) error) error {
	if err := checkDomain(domain); err != nil {
		return err
	}
	prefix := metaKey(domain, "")
	return s.use(func(db *badger.DB) error {
		return db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				b, err := it.Item().ValueCopy(nil)
				if err != nil {
					return fmt.Errorf("badgerstore: list blobs: %w", err)
				}
				m, _, err := decodeBlobMeta(b)
				if err != nil {
					return err
				}
				if err := fn(storage.BlobInfo{Sums: m.Sums, Touched: m.Touched}); err != nil {
					return err
				}
			}
			return nil
		})
	})
}
