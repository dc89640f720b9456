package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

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
// errors are those of StatBlob. The returned blob reads one chunk at a time,
// each in its own short transaction, and holds one chunk in memory; it is
// safe for concurrent use, with one shared position. Its Seek accepts every
// whence and positions past the end (Read then returns io.EOF). Its Read and
// Seek fail after its Close; Read fails with an error wrapping
// storage.ErrNotFound if the blob was deleted while open, with
// storage.ErrClosed after the store's Close, and with a corruption error if a
// chunk has the wrong length. Its Close never fails.
func (s *Store) OpenBlob(ctx context.Context, domain, sha256 string) (storage.Blob, error) {
	meta, id, err := s.readMeta(ctx, domain, sha256)
	if err != nil {
		return nil, err
	}
	return &blob{s: s, meta: meta, id: id, bufIndex: -1}, nil
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

// blob is an open stored blob. Read fails with an error wrapping
// storage.ErrNotFound if the blob was deleted while open, with
// storage.ErrClosed after its Close or the store's, and with Badger's errors
// wrapped; a chunk of the wrong length is reported as corruption.
type blob struct {
	s    *Store
	meta blobMeta
	id   uploadID

	mu       sync.Mutex
	pos      int64
	buf      []byte // the chunk at bufIndex
	bufIndex int64  // -1: buf holds nothing
	closed   bool
}

// Sums returns the blob's sums.
func (b *blob) Sums() storage.Sums { return b.meta.Sums }

// Read reads from the current position, at most to the end of its chunk.
func (b *blob) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBlobClosed
	}
	if b.pos >= b.meta.Sums.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	cs := int64(b.meta.ChunkSize)
	index := b.pos / cs
	if index != b.bufIndex {
		if err := b.load(index); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.pos-index*cs:])
	b.pos += int64(n)
	return n, nil
}

// load reads chunk index into b.buf, reusing its memory.
func (b *blob) load(index int64) error {
	b.bufIndex = -1
	cs := int64(b.meta.ChunkSize)
	want := min(cs, b.meta.Sums.Size-index*cs)
	if b.buf == nil {
		b.buf = make([]byte, 0, min(cs, b.meta.Sums.Size))
	}
	err := b.s.use(func(db *badger.DB) error {
		return db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(chunkKey(b.id, uint32(index)))
			if err != nil {
				return err
			}
			b.buf, err = item.ValueCopy(b.buf[:0])
			return err
		})
	})
	name := b.meta.Sums.SHA256
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return fmt.Errorf("badgerstore: blob %s chunk %d (deleted while open?): %w", name, index, storage.ErrNotFound)
	case err != nil:
		return fmt.Errorf("badgerstore: blob %s chunk %d: %w", name, index, err)
	case int64(len(b.buf)) != want:
		return fmt.Errorf("badgerstore: blob %s chunk %d is corrupt: %d bytes, want %d", name, index, len(b.buf), want)
	}
	b.bufIndex = index
	return nil
}

// Seek sets the position for the next Read; any whence of io.Seeker is
// accepted. Seeking past the end is allowed (Read then returns io.EOF);
// seeking before the start, an unknown whence and seeking a closed blob fail.
func (b *blob) Seek(offset int64, whence int) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBlobClosed
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = b.pos + offset
	case io.SeekEnd:
		abs = b.meta.Sums.Size + offset
	default:
		return 0, fmt.Errorf("badgerstore: seek: invalid whence %d", whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("badgerstore: seek: negative position %d", abs)
	}
	b.pos = abs
	return abs, nil
}

// Close releases the chunk buffer. Later calls to Read and Seek fail; Close
// itself is idempotent and never fails.
func (b *blob) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.buf = nil
	b.bufIndex = -1
	return nil
}
