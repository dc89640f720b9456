package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/dgraph-io/badger/v4"

	"github.com/stockpile-proxy/stockpile/storage"
)

// errBlobClosed is returned by a blob's methods after its Close.
var errBlobClosed = fmt.Errorf("badgerstore: blob is closed: %w", storage.ErrClosed)

// StatBlob returns the sums of the blob with the given SHA-256 in domain. It
// returns an error wrapping storage.ErrNotFound when there is no such
// committed blob (or sha256 is not a SHA-256 in hex), storage.ErrClosed after
// Close, ctx's error if ctx is done, and any other failure wrapped.
func (s *Store) StatBlob(ctx context.Context, domain, sha256 string) (storage.Sums, error) {
	meta, _, err := s.readMeta(ctx, domain, sha256)
	if err != nil {
		return storage.Sums{}, err
	}
	return meta.Sums, nil
}

// OpenBlob opens the blob with the given SHA-256 in domain for reading; its
// errors are those of StatBlob, and a corruption error if the blob's file is
// missing or has the wrong size. The returned blob is its file: reads go
// straight to it, and a blob deleted while open stays readable until Close.
// Read and Seek fail after its Close and after the store's Close.
func (s *Store) OpenBlob(ctx context.Context, domain, sha256 string) (storage.Blob, error) {
	meta, id, err := s.readMeta(ctx, domain, sha256)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(s.filePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		// Deleted between the meta read and the open: it is gone.
		if _, _, again := s.readMeta(ctx, domain, sha256); errors.Is(again, storage.ErrNotFound) {
			return nil, again
		}
		return nil, fmt.Errorf("badgerstore: blob %s/%s is corrupt: its file is missing", domain, meta.Sums.SHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("badgerstore: blob %s/%s: %w", domain, meta.Sums.SHA256, err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() != meta.Sums.Size {
		err = fmt.Errorf("badgerstore: blob %s/%s is corrupt: its file has %d bytes, want %d", domain, meta.Sums.SHA256, st.Size(), meta.Sums.Size)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileBlob{f: f, sums: meta.Sums, s: s}, nil
}

// readMeta loads and decodes the meta record of a blob.
func (s *Store) readMeta(ctx context.Context, domain, sha256 string) (blobMeta, uploadID, error) {
	if err := checkDomain(domain); err != nil {
		return blobMeta{}, uploadID{}, err
	}
	sha256, err := normalizeSHA256(sha256)
	if err != nil {
		return blobMeta{}, uploadID{}, err
	}
	if err := ctx.Err(); err != nil {
		return blobMeta{}, uploadID{}, fmt.Errorf("badgerstore: blob %s: %w", sha256, err)
	}
	var raw []byte
	err = s.use(func(db *badger.DB) error {
		return db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(metaKey(domain, sha256))
			if err != nil {
				return err
			}
			raw, err = item.ValueCopy(nil)
			return err
		})
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return blobMeta{}, uploadID{}, fmt.Errorf("badgerstore: blob %s/%s: %w", domain, sha256, storage.ErrNotFound)
	case err != nil:
		return blobMeta{}, uploadID{}, fmt.Errorf("badgerstore: blob %s/%s: %w", domain, sha256, err)
	}
	meta, id, err := decodeBlobMeta(raw)
	if err != nil {
		return blobMeta{}, uploadID{}, fmt.Errorf("badgerstore: blob %s/%s: %w", domain, sha256, err)
	}
	return meta, id, nil
}

// fileBlob is an open stored blob: its file and its sums.
type fileBlob struct {
	f    *os.File
	sums storage.Sums
	s    *Store
}

// Sums returns the blob's sums.
func (b *fileBlob) Sums() storage.Sums { return b.sums }

// File returns the blob's open file, for servers that send it with
// sendfile; it is positioned where the blob is, and closed by Close.
func (b *fileBlob) File() *os.File { return b.f }

// Read reads from the file; it fails after Close and after the store's.
func (b *fileBlob) Read(p []byte) (int, error) {
	if b.s.isClosed() {
		return 0, fmt.Errorf("badgerstore: read blob %s: %w", b.sums.SHA256, storage.ErrClosed)
	}
	n, err := b.f.Read(p)
	if errors.Is(err, os.ErrClosed) {
		return n, errBlobClosed
	}
	return n, err
}

// Seek sets the position of the next Read; see io.Seeker.
func (b *fileBlob) Seek(offset int64, whence int) (int64, error) {
	if b.s.isClosed() {
		return 0, fmt.Errorf("badgerstore: seek blob %s: %w", b.sums.SHA256, storage.ErrClosed)
	}
	n, err := b.f.Seek(offset, whence)
	if errors.Is(err, os.ErrClosed) {
		return n, errBlobClosed
	}
	return n, err
}

// Close closes the file. Later calls to Read and Seek fail; Close itself is
// idempotent and never fails.
func (b *fileBlob) Close() error {
	_ = b.f.Close()
	return nil
}

var _ io.ReadSeekCloser = (*fileBlob)(nil)
