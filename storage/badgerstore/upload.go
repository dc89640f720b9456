package badgerstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/stockpile-proxy/stockpile/storage"
)

// putMarker records that the file of id belongs to no blob yet.
func (s *Store) putMarker(id uploadID, domain, purpose string) error {
	v, err := uploadMarker{Domain: domain, Purpose: purpose, Started: time.Now().UTC()}.encode()
	if err != nil {
		return err
	}
	if err := s.checkSpace(); err != nil {
		return err
	}
	err = s.use(func(db *badger.DB) error {
		return db.Update(func(txn *badger.Txn) error { return txn.Set(uploadKey(id), v) })
	})
	if err != nil {
		return fmt.Errorf("badgerstore: put upload marker: %w", err)
	}
	return nil
}

// discardUpload deletes the file of upload id and then its marker. A
// failure is logged: the marker stays and a later sweep finishes the job.
func (s *Store) discardUpload(id uploadID) {
	if err := s.deleteUpload(id); err != nil {
		s.log.Warn("badgerstore: discard upload; the next sweep retries", "upload", id.String(), "err", err)
	}
}

// deleteUpload removes the file of upload id, then its marker.
func (s *Store) deleteUpload(id uploadID) error {
	if s.isClosed() {
		return storage.ErrClosed
	}
	if err := s.removeFile(id); err != nil {
		return err
	}
	// Deleting writes to Badger too: keep clear of a full disk.
	if err := s.checkSpace(); err != nil {
		return err
	}
	err := s.use(func(db *badger.DB) error {
		return db.Update(func(txn *badger.Txn) error { return txn.Delete(uploadKey(id)) })
	})
	if err != nil {
		return fmt.Errorf("badgerstore: delete upload marker %s: %w", id, err)
	}
	return nil
}

// listKeys returns up to limit keys starting with prefix, reading no values.
func (s *Store) listKeys(prefix []byte, limit int) ([][]byte, error) {
	var keys [][]byte
	err := s.use(func(db *badger.DB) error {
		return db.View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			opts.PrefetchValues = false
			opts.Prefix = prefix
			it := txn.NewIterator(opts)
			defer it.Close()
			for it.Seek(prefix); it.ValidForPrefix(prefix) && len(keys) < limit; it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("badgerstore: list keys %q: %w", prefix, err)
	}
	return keys, nil
}

// markerExists reports whether the marker of upload id is present.
func (s *Store) markerExists(id uploadID) (bool, error) {
	err := s.use(func(db *badger.DB) error {
		return db.View(func(txn *badger.Txn) error {
			_, err := txn.Get(uploadKey(id))
			return err
		})
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("badgerstore: read upload marker %s: %w", id, err)
	}
	return true, nil
}
