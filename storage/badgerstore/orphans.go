package badgerstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
)

// RemoveOrphans deletes blob files that neither a meta record nor an upload
// marker owns. A crash leaves none (the marker comes first), but a power
// loss can: the file is synced, Badger's marker and meta writes are not.
// Open runs it in the background on a store on disk; it is safe while the
// store is in use. It returns how many files it removed, and
// storage.ErrClosed after Close, ctx's error, and the file system's and
// Badger's errors, wrapped.
func (s *Store) RemoveOrphans(ctx context.Context) (int, error) {
	files, err := s.listFiles(ctx)
	if err != nil {
		return 0, err
	}
	owned, err := s.metaUploads(ctx)
	if err != nil {
		return 0, err
	}
	var cands []uploadID
	for _, id := range files {
		if _, ok := owned[id]; ok || s.uploadActive(id) {
			continue
		}
		marked, err := s.markerExists(id)
		if err != nil {
			return 0, fmt.Errorf("badgerstore: orphans: %w", err)
		}
		if !marked {
			cands = append(cands, id)
		}
	}
	if len(cands) == 0 {
		return 0, nil
	}
	// A writer that was still at work when the meta records were read and
	// is done now has committed its meta record (it does so before it
	// stops being active) or removed its file: read them again.
	if owned, err = s.metaUploads(ctx); err != nil {
		return 0, err
	}
	removed := 0
	for _, id := range cands {
		if _, ok := owned[id]; ok {
			continue
		}
		if err := s.removeFile(id); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// listFiles returns the upload ids of the files in the blob directory.
func (s *Store) listFiles(ctx context.Context) ([]uploadID, error) {
	var ids []uploadID
	for i := range 256 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("badgerstore: orphans: %w", err)
		}
		entries, err := os.ReadDir(filepath.Join(s.blobDir, fmt.Sprintf("%02x", i)))
		if err != nil {
			return nil, fmt.Errorf("badgerstore: orphans: %w", err)
		}
		for _, e := range entries {
			if id, err := parseUploadID(e.Name()); err == nil && e.Type().IsRegular() {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// metaUploads returns the upload ids that meta records name.
func (s *Store) metaUploads(ctx context.Context) (map[uploadID]struct{}, error) {
	owned := map[uploadID]struct{}{}
	err := s.use(func(db *badger.DB) error {
		return db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: metaSpace, PrefetchValues: true, PrefetchSize: 64})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				err := it.Item().Value(func(v []byte) error {
					_, id, err := decodeBlobMeta(v)
					owned[id] = struct{}{}
					return err
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("badgerstore: orphans: %w", err)
	}
	return owned, nil
}
