package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/stockpile-proxy/stockpile/storage"
)

// DeleteBlob removes the blob with the given SHA-256 from domain; an absent
// blob (or a malformed sha256) is not an error. The meta record goes first,
// together with the creation of an upload marker, so the blob is never seen
// half-deleted and a crash leaves a file that the next sweep removes. It
// returns storage.ErrClosed after Close, ctx's error if ctx is done, and
// Badger's errors wrapped; if only the removal of the file failed the blob
// is already gone and the error says so. Readers that opened the blob before
// keep reading it to its end.
func (s *Store) DeleteBlob(ctx context.Context, domain, sha256 string) error {
	if err := checkDomain(domain); err != nil {
		return err
	}
	sha256, err := normalizeSHA256(sha256)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("badgerstore: delete blob %s: %w", sha256, err)
	}
	marker, err := uploadMarker{Domain: domain, Purpose: "delete", Started: time.Now().UTC()}.encode()
	if err != nil {
		return err
	}
	if err := s.checkSpace(); err != nil {
		return fmt.Errorf("badgerstore: delete blob %s: %w", sha256, err)
	}
	mk := metaKey(domain, sha256)
	var id uploadID
	var found bool
	for range commitRetries {
		found = false
		err = s.use(func(db *badger.DB) error {
			return db.Update(func(txn *badger.Txn) error {
				item, err := txn.Get(mk)
				if errors.Is(err, badger.ErrKeyNotFound) {
					return nil
				}
				if err != nil {
					return err
				}
				raw, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				if _, id, err = decodeBlobMeta(raw); err != nil {
					return err
				}
				found = true
				if err := txn.Delete(mk); err != nil {
					return err
				}
				return txn.Set(uploadKey(id), marker)
			})
		})
		if !errors.Is(err, badger.ErrConflict) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("badgerstore: delete blob %s/%s: %w", domain, sha256, err)
	}
	if !found {
		return nil
	}
	s.beginUpload(id)
	defer s.endUpload(id)
	if err := s.deleteUpload(id); err != nil {
		return fmt.Errorf("badgerstore: blob %s/%s deleted, its file remains until the next sweep: %w", domain, sha256, err)
	}
	return nil
}
