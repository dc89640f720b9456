package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/stockpile-proxy/stockpile/storage"
)

// commitRetries bounds the retries of a meta commit that lost a race with a
// concurrent writer or deleter of the same blob.
const commitRetries = 8

// WriteBlob streams r into the store under domain, one chunk in memory at a
// time, hashing as it goes, then calls verify (nil accepts everything) with
// the sums and commits the blob. Writing bytes already stored in domain
// returns the stored sums. On any failure nothing readable is left and the
// error is returned wrapped: r's error, verify's error, ctx's error (checked
// between chunks), storage.ErrClosed after Close, or Badger's errors. An
// invalid domain (empty, or containing a zero byte) is refused. The chunks
// are synced to disk before the meta record is committed, so a committed
// blob is whole even after a power loss.
func (s *Store) WriteBlob(ctx context.Context, domain string, r io.Reader, verify func(storage.Sums) error) (storage.Sums, error) {
	if err := checkDomain(domain); err != nil {
		return storage.Sums{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.Sums{}, fmt.Errorf("badgerstore: write blob: %w", err)
	}
	id, err := newUploadID()
	if err != nil {
		return storage.Sums{}, err
	}
	s.beginUpload(id)
	defer s.endUpload(id)
	if err := s.putMarker(id, domain, "write"); err != nil {
		return storage.Sums{}, err
	}
	sums, existing, err := s.storeUpload(ctx, domain, id, r, verify)
	if err != nil || existing != nil {
		s.discardUpload(id)
	}
	switch {
	case err != nil:
		return storage.Sums{}, err
	case existing != nil:
		return *existing, nil
	}
	return sums, nil
}

// storeUpload writes r as the chunks of upload id, verifies them, syncs them
// and commits the blob. It returns the sums, and the stored sums if the blob
// already existed, in which case nothing was committed.
func (s *Store) storeUpload(ctx context.Context, domain string, id uploadID, r io.Reader, verify func(storage.Sums) error) (storage.Sums, *storage.Sums, error) {
	sums, chunkSize, err := s.writeChunks(ctx, id, r)
	if err != nil {
		return sums, nil, err
	}
	if verify != nil {
		if err := verify(sums); err != nil {
			return sums, nil, fmt.Errorf("badgerstore: verify blob %s: %w", sums.SHA256, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return sums, nil, fmt.Errorf("badgerstore: write blob: %w", err)
	}
	if err := s.use(func(db *badger.DB) error { return db.Sync() }); err != nil {
		return sums, nil, fmt.Errorf("badgerstore: sync blob chunks: %w", err)
	}
	meta := blobMeta{Sums: sums, Chunks: chunkCount(sums.Size, chunkSize), ChunkSize: chunkSize, Upload: id.String(), Touched: time.Now().UTC()}
	existing, err := s.commitBlob(domain, id, meta)
	return sums, existing, err
}

// writeChunks copies r into chunks of upload id, each in its own
// transaction, reusing one chunk buffer. It returns the sums and the chunk
// size used.
func (s *Store) writeChunks(ctx context.Context, id uploadID, r io.Reader) (storage.Sums, int, error) {
	chunkSize := s.chunkSize
	buf := make([]byte, chunkSize)
	h := newHashes()
	for index := int64(0); ; index++ {
		if err := ctx.Err(); err != nil {
			return storage.Sums{}, 0, fmt.Errorf("badgerstore: write blob: %w", err)
		}
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if index >= maxChunks {
				return storage.Sums{}, 0, fmt.Errorf("badgerstore: write blob: more than %d chunks", int64(maxChunks))
			}
			_, _ = h.Write(buf[:n])
			if err := s.checkSpace(); err != nil {
				return storage.Sums{}, 0, fmt.Errorf("badgerstore: write blob chunk %d: %w", index, err)
			}
			err := s.use(func(db *badger.DB) error {
				return db.Update(func(txn *badger.Txn) error {
					return txn.Set(chunkKey(id, uint32(index)), buf[:n])
				})
			})
			if err != nil {
				return storage.Sums{}, 0, fmt.Errorf("badgerstore: write blob chunk %d: %w", index, err)
			}
		}
		switch {
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			return h.sums(), chunkSize, nil
		case rerr != nil:
			return storage.Sums{}, 0, fmt.Errorf("badgerstore: read blob: %w", rerr)
		}
	}
}

// commitBlob publishes meta and drops the upload marker in one transaction.
// If the blob is already stored it writes nothing and returns the stored
// sums.
func (s *Store) commitBlob(domain string, id uploadID, meta blobMeta) (*storage.Sums, error) {
	v, err := meta.encode()
	if err != nil {
		return nil, err
	}
	mk := metaKey(domain, meta.Sums.SHA256)
	if err := s.checkSpace(); err != nil {
		return nil, fmt.Errorf("badgerstore: commit blob %s: %w", meta.Sums.SHA256, err)
	}
	for range commitRetries {
		var existing *storage.Sums
		err := s.use(func(db *badger.DB) error {
			return db.Update(func(txn *badger.Txn) error {
				item, err := txn.Get(mk)
				switch {
				case err == nil:
					b, err := item.ValueCopy(nil)
					if err != nil {
						return err
					}
					old, _, err := decodeBlobMeta(b)
					if err != nil {
						return err
					}
					existing = &old.Sums
					// Written again: a collector must spare it while the
					// new reference is on its way.
					old.Touched = meta.Touched
					nb, err := old.encode()
					if err != nil {
						return err
					}
					return txn.Set(mk, nb)
				case !errors.Is(err, badger.ErrKeyNotFound):
					return err
				}
				if err := txn.Set(mk, v); err != nil {
					return err
				}
				return txn.Delete(uploadKey(id))
			})
		})
		if errors.Is(err, badger.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("badgerstore: commit blob %s: %w", meta.Sums.SHA256, err)
		}
		return existing, nil
	}
	return nil, fmt.Errorf("badgerstore: commit blob %s: %w", meta.Sums.SHA256, badger.ErrConflict)
}
