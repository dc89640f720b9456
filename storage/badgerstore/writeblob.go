package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/internal/multihash"
)

// commitRetries bounds the retries of a meta commit that lost a race with a
// concurrent writer or deleter of the same blob.
const commitRetries = 8

// WriteBlob streams r into a new file of the store under domain, hashing
// it on every core as it goes, then calls verify (nil accepts everything)
// with the sums, syncs the file and commits the blob. Writing bytes already
// stored in domain returns the stored sums. On any failure nothing readable
// is left and the error is returned wrapped: r's error, verify's error,
// ctx's error (checked between buffers), storage.ErrClosed after Close, an
// error wrapping syscall.ENOSPC when the disk is (nearly) full, or the
// file system's and Badger's errors. An invalid domain (empty, or
// containing a zero byte) is refused. The file and its directory entry are
// synced before the meta record is committed, so a committed blob is whole
// even after a power loss.
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
	if err := s.checkFree(startHeadroom); err != nil {
		return storage.Sums{}, fmt.Errorf("badgerstore: write blob: %w", err)
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

// storeUpload writes r as the file of upload id, verifies it, syncs it and
// commits the blob. It returns the sums, and the stored sums if the blob
// already existed, in which case nothing was committed.
func (s *Store) storeUpload(ctx context.Context, domain string, id uploadID, r io.Reader, verify func(storage.Sums) error) (storage.Sums, *storage.Sums, error) {
	f, err := os.OpenFile(s.filePath(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return storage.Sums{}, nil, fmt.Errorf("badgerstore: write blob: %w", err)
	}
	defer f.Close()
	sums, err := s.writeFile(ctx, f, r)
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
	if err := f.Sync(); err != nil {
		return sums, nil, fmt.Errorf("badgerstore: sync blob %s: %w", sums.SHA256, err)
	}
	if err := syncDir(filepath.Dir(f.Name())); err != nil {
		return sums, nil, err
	}
	meta := blobMeta{Sums: sums, Upload: id.String(), Touched: time.Now().UTC()}
	existing, err := s.commitBlob(domain, id, meta)
	return sums, existing, err
}

// Buffers of a write: writeBufSize bytes each, writeBufs of them in turn,
// so that the digests can lag behind the file by a few buffers.
const (
	writeBufSize = 128 << 10
	writeBufs    = 4
	// spaceCheckEvery is how often a long write checks the free space.
	spaceCheckEvery = 8 << 20
	// writebackEvery is how much a write lets the page cache gather before
	// it starts writing back, so that the final sync waits for little.
	writebackEvery = 2 << 20
)

// writeFile copies r into f, handing each buffer to the digests, and
// returns the sums.
func (s *Store) writeFile(ctx context.Context, f *os.File, r io.Reader) (storage.Sums, error) {
	h := multihash.New()
	var ring [writeBufs]*multihash.Buf
	defer func() {
		h.Stop()
		for _, b := range ring {
			if b != nil {
				s.bufs.Put(&b.Data)
			}
		}
	}()
	var written, checked, flushed int64
	for i := 0; ; i = (i + 1) % writeBufs {
		if err := ctx.Err(); err != nil {
			return storage.Sums{}, fmt.Errorf("badgerstore: write blob: %w", err)
		}
		if written >= checked {
			if err := s.checkSpace(); err != nil {
				return storage.Sums{}, fmt.Errorf("badgerstore: write blob: %w", err)
			}
			checked = written + spaceCheckEvery
		}
		b := ring[i]
		if b == nil {
			b = &multihash.Buf{Data: *s.bufs.Get().(*[]byte)}
			ring[i] = b
		}
		b.Pending.Wait() // the digests are done with this buffer
		n, rerr := io.ReadFull(r, b.Data[:cap(b.Data)])
		if n > 0 {
			if _, err := f.Write(b.Data[:n]); err != nil {
				return storage.Sums{}, fmt.Errorf("badgerstore: write blob: %w", err)
			}
			written += int64(n)
			if written-flushed >= writebackEvery {
				startWriteback(f, flushed, written-flushed)
				flushed = written
			}
			b.N = n
			h.Write(b)
		}
		switch {
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			return h.Sums(), nil
		case rerr != nil:
			return storage.Sums{}, fmt.Errorf("badgerstore: read blob: %w", rerr)
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
