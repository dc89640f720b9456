package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/internal/multihash"
)

// objectKey is where a blob's bytes are in the object store, and its name in
// the local cache.
func objectKey(domain, sha string) string {
	return "blobs/" + url.PathEscape(domain) + "/" + sha
}

// blobLock is the advisory lock of one blob, held by the transactions that
// commit or delete it.
const blobLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('blob/' || $1 || '/' || $2, 0))`

func checkDomain(domain string) error {
	if domain == "" {
		return errors.New("postgres: empty blob domain")
	}
	return nil
}

func validSHA(sha string) bool {
	if len(sha) != 64 {
		return false
	}
	_, err := hex.DecodeString(sha)
	return err == nil
}

// spoolBuf is the size of the buffers a blob is read into.
const spoolBuf = 256 << 10

// WriteBlob reads r into a temporary file of the local cache, hashing it in
// the same pass, calls verify, then (unless the blob is already stored)
// uploads the file to the object store and commits the blob's row. The
// object is complete before the row names it, so a failure or a crash
// at any point leaves nothing readable.
//
// A blob larger than the object store's part size is uploaded while it is
// read: a multipart upload to a key of its own (the SHA-256 is not known
// yet) starts once the first part is in the file, and every part is sent
// as soon as the file holds it, so that when r ends only the last part and
// the completion remain. The upload is completed, and its key written in
// the blob's row, only after verify accepted the sums and under the blob's
// lock; it is discarded if anything fails, or if the blob was already
// stored.
func (s *Store) WriteBlob(ctx context.Context, domain string, r io.Reader, verify func(storage.Sums) error) (storage.Sums, error) {
	if err := s.check(); err != nil {
		return storage.Sums{}, err
	}
	if err := checkDomain(domain); err != nil {
		return storage.Sums{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.Sums{}, fmt.Errorf("postgres: write blob: %w", err)
	}
	if err := s.reachable(ctx); err != nil {
		return storage.Sums{}, err
	}
	tmp, err := s.cache.Temp()
	if err != nil {
		return storage.Sums{}, fmt.Errorf("postgres: write blob: %w", err)
	}
	kept := false
	defer func() {
		if !kept {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var parts *partStream
	written := func(int64) {}
	if up, ok := s.objects.(uploader); ok {
		written = func(total int64) {
			if parts == nil && total > up.PartSize() {
				parts = s.startParts(ctx, up, domain, tmp)
			}
			if parts != nil {
				parts.offer(total)
			}
		}
	}
	uploaded := false // the blob's row names parts' object
	defer func() {    // before the file's removal: the parts are read from it
		switch {
		case parts == nil:
		case uploaded:
			parts.cancel(nil) // frees its context
		default:
			parts.drop(ctx)
		}
	}()
	sums, err := spool(ctx, tmp, r, written)
	if err != nil {
		return storage.Sums{}, fmt.Errorf("postgres: write blob: %w", err)
	}
	if verify != nil {
		if err := verify(sums); err != nil {
			return storage.Sums{}, fmt.Errorf("postgres: write blob: verify: %w", err)
		}
	}
	if err := s.check(); err != nil {
		return storage.Sums{}, err
	}
	stored, uploaded, err := s.commitBlob(ctx, domain, sums, tmp, parts)
	if err != nil {
		return storage.Sums{}, err
	}
	if f, err := s.cache.Add(tmp, objectKey(domain, sums.SHA256), sums.Size); err == nil {
		kept = true
		f.Close()
	}
	return stored, nil
}

// spool copies r to f and hashes it, checking ctx between buffers; it
// calls written with the bytes in f after each write.
func spool(ctx context.Context, f *os.File, r io.Reader, written func(int64)) (storage.Sums, error) {
	h := multihash.New()
	defer h.Stop()
	bufs := [2]*multihash.Buf{{Data: make([]byte, spoolBuf)}, {Data: make([]byte, spoolBuf)}}
	total := int64(0)
	for i := 0; ; i ^= 1 {
		if err := ctx.Err(); err != nil {
			return storage.Sums{}, err
		}
		b := bufs[i]
		b.Pending.Wait()
		n, rerr := io.ReadFull(r, b.Data)
		if n > 0 {
			if _, err := f.Write(b.Data[:n]); err != nil {
				return storage.Sums{}, err
			}
			total += int64(n)
			written(total)
			b.N = n
			h.Write(b)
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			if err := ctx.Err(); err != nil {
				return storage.Sums{}, err
			}
			return h.Sums(), nil
		case rerr != nil:
			return storage.Sums{}, rerr
		}
	}
}

// commitBlob uploads f (or the rest of parts, when not nil) and inserts
// the blob's row, under the blob's lock; when the blob is already stored it
// only touches the row and returns the stored sums. It reports whether the
// row names parts' object.
func (s *Store) commitBlob(ctx context.Context, domain string, sums storage.Sums, f *os.File, parts *partStream) (storage.Sums, bool, error) {
	stored := sums
	var object *string // the row's object key; NULL: the content-addressed one
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, blobLockSQL, domain, sums.SHA256); err != nil {
			return err
		}
		old, err := scanSums(tx.QueryRow(ctx, `UPDATE blobs SET touched = clock_timestamp() WHERE domain = $1 AND sha256 = $2
			RETURNING sha256, size, md5, sha1, sha512`, domain, sums.SHA256))
		if err == nil {
			stored = old
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if parts == nil {
			if err := s.objects.Put(ctx, objectKey(domain, sums.SHA256), f, sums.Size); err != nil {
				return err
			}
		} else {
			// Deleting the upload's row first holds it against
			// RemoveAbandonedUploads until the commit.
			tag, err := tx.Exec(ctx, `DELETE FROM uploads WHERE key = $1`, parts.key)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("the upload %s was not recorded, or was discarded as abandoned", parts.key)
			}
			if err := parts.finish(sums.Size); err != nil {
				return err
			}
			object = &parts.key
		}
		_, err = tx.Exec(ctx, `INSERT INTO blobs (domain, sha256, size, md5, sha1, sha512, touched, object)
			VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), $7)`,
			domain, sums.SHA256, sums.Size, sums.MD5, sums.SHA1, sums.SHA512, object)
		return err
	})
	if err != nil {
		return storage.Sums{}, false, failed(fmt.Sprintf("commit blob %s/%s", domain, sums.SHA256), err)
	}
	return stored, object != nil, nil
}

func scanSums(row pgx.Row) (storage.Sums, error) {
	var s storage.Sums
	err := row.Scan(&s.SHA256, &s.Size, &s.MD5, &s.SHA1, &s.SHA512)
	return s, err
}

// StatBlob returns a stored blob's sums, or storage.ErrNotFound.
func (s *Store) StatBlob(ctx context.Context, domain, sha string) (storage.Sums, error) {
	sums, _, err := s.statBlob(ctx, domain, sha)
	return sums, err
}

// statBlob returns a stored blob's sums and the key of its object, or
// storage.ErrNotFound.
func (s *Store) statBlob(ctx context.Context, domain, sha string) (storage.Sums, string, error) {
	if err := s.check(); err != nil {
		return storage.Sums{}, "", err
	}
	if !validSHA(sha) {
		return storage.Sums{}, "", storage.ErrNotFound
	}
	var sums storage.Sums
	var object *string
	err := s.pool.QueryRow(ctx, `SELECT sha256, size, md5, sha1, sha512, object FROM blobs WHERE domain = $1 AND sha256 = $2`, domain, sha).
		Scan(&sums.SHA256, &sums.Size, &sums.MD5, &sums.SHA1, &sums.SHA512, &object)
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.Sums{}, "", storage.ErrNotFound
	}
	if err != nil {
		return storage.Sums{}, "", failed("stat blob", err)
	}
	return sums, rowObject(domain, sha, object), nil
}

// rowObject is the key of a blob's object: the one its row names (a blob
// uploaded while it was written) or else the content-addressed one.
func rowObject(domain, sha string, object *string) string {
	if object != nil {
		return *object
	}
	return objectKey(domain, sha)
}

// OpenBlob opens a stored blob from the local cache, first downloading it
// there (and checking its SHA-256) when it is not cached.
func (s *Store) OpenBlob(ctx context.Context, domain, sha string) (storage.Blob, error) {
	sums, object, err := s.statBlob(ctx, domain, sha)
	if err != nil {
		return nil, err
	}
	key := objectKey(domain, sha)
	f, err := s.cache.Open(key)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = s.downloadOnce(ctx, object, key, sums)
	}
	if err != nil {
		return nil, failed(fmt.Sprintf("open blob %s/%s", domain, sha), err)
	}
	return &blob{f: f, sums: sums, s: s}, nil
}

// BlobFileUsed tells the local cache that a reader which keeps the path of
// a blob's file (its File().Name(); the engine's hot assets) served it
// again, so that the least recently used blobs, not the most asked for,
// make room.
func (s *Store) BlobFileUsed(path string) {
	s.cache.TouchFile(path)
}

// downloadTries bounds how often a reader starts over after the download
// it waited for ended because the reader that started it left.
const downloadTries = 3

// downloadOnce is download shared by every reader of key at once: the
// clients that wait for a blob another replica just fetched ask for it
// together, and one download into the cache serves them all, each then
// opening the cached file. A blob too large for the cache, or evicted
// before a reader opens it, is downloaded by that reader alone.
func (s *Store) downloadOnce(ctx context.Context, object, key string, sums storage.Sums) (*os.File, error) {
	if !s.cache.Fits(sums.Size) {
		if s.testHookDownloading != nil {
			s.testHookDownloading()
		}
		return s.download(ctx, object, key, sums)
	}
	for try := 1; ; try++ {
		ch := s.downloads.DoChan(key, func() (any, error) {
			f, err := s.download(ctx, object, key, sums)
			if err != nil {
				return nil, err
			}
			return nil, f.Close()
		})
		if s.testHookDownloading != nil {
			s.testHookDownloading()
		}
		var err error
		select {
		case res := <-ch:
			err = res.Err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// The download ran under the context of the reader that started
		// it: when that one left, this one, still here, starts over.
		if err != nil && ctx.Err() == nil && try < downloadTries &&
			(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			continue
		}
		if err != nil {
			return nil, err
		}
		f, err := s.cache.Open(key)
		if errors.Is(err, fs.ErrNotExist) {
			return s.download(ctx, object, key, sums)
		}
		return f, err
	}
}

// download copies the object into the cache as key, checking its size and
// SHA-256, and returns it open. An object missing from the object store
// although its row names it is reported (and returned) as
// storage.ErrNotFound, so the blob can be fetched or published again.
func (s *Store) download(ctx context.Context, object, key string, sums storage.Sums) (*os.File, error) {
	body, _, err := s.objects.Get(ctx, object)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			s.log.Error("a stored blob's object is missing from the object store", "key", object)
		}
		return nil, err
	}
	defer body.Close()
	tmp, err := s.cache.Temp()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), body)
	if err == nil && (n != sums.Size || hex.EncodeToString(h.Sum(nil)) != sums.SHA256) {
		err = fmt.Errorf("the object's %d bytes do not match the blob's size %d and SHA-256", n, sums.Size)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	f, err := s.cache.Add(tmp, key, n)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// DeleteBlob deletes the blob's row and object under the blob's lock; if
// the object cannot be deleted the row stays.
func (s *Store) DeleteBlob(ctx context.Context, domain, sha string) error {
	if err := s.check(); err != nil {
		return err
	}
	if !validSHA(sha) {
		return nil
	}
	key := objectKey(domain, sha)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, blobLockSQL, domain, sha); err != nil {
			return err
		}
		var object *string
		err := tx.QueryRow(ctx, `DELETE FROM blobs WHERE domain = $1 AND sha256 = $2 RETURNING object`, domain, sha).Scan(&object)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return s.objects.Delete(ctx, rowObject(domain, sha, object))
	})
	if err != nil {
		return failed(fmt.Sprintf("delete blob %s/%s", domain, sha), err)
	}
	if err := s.cache.Remove(key); err != nil {
		s.log.Warn("removing a deleted blob from the local cache", "key", key, "err", err)
	}
	return nil
}

// ListBlobs calls fn for every blob of domain, in SHA-256 order.
func (s *Store) ListBlobs(ctx context.Context, domain string, fn func(storage.BlobInfo) error) error {
	if err := s.check(); err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, `SELECT sha256, size, md5, sha1, sha512, touched FROM blobs WHERE domain = $1 ORDER BY sha256`, domain)
	if err != nil {
		return failed("list blobs", err)
	}
	defer rows.Close()
	for rows.Next() {
		var bi storage.BlobInfo
		var touched time.Time
		if err := rows.Scan(&bi.SHA256, &bi.Size, &bi.MD5, &bi.SHA1, &bi.SHA512, &touched); err != nil {
			return failed("list blobs", err)
		}
		bi.Touched = touched
		if err := fn(bi); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return failed("list blobs", err)
	}
	return nil
}

// blob is an open blob: a file of the local cache (or an unnamed one, for a
// blob larger than the cache) and its sums.
type blob struct {
	f    *os.File
	sums storage.Sums
	s    *Store
}

// Sums returns the blob's sums.
func (b *blob) Sums() storage.Sums { return b.sums }

// File returns the open file, for servers that send it with sendfile.
func (b *blob) File() *os.File { return b.f }

// Read reads the blob; it fails after Close and after the store's Close.
func (b *blob) Read(p []byte) (int, error) {
	if b.s.closed.Load() {
		return 0, fmt.Errorf("postgres: read blob %s: %w", b.sums.SHA256, storage.ErrClosed)
	}
	return b.f.Read(p)
}

// Seek sets the position of the next Read.
func (b *blob) Seek(off int64, whence int) (int64, error) {
	if b.s.closed.Load() {
		return 0, fmt.Errorf("postgres: seek blob %s: %w", b.sums.SHA256, storage.ErrClosed)
	}
	return b.f.Seek(off, whence)
}

// Close closes the file; it never fails.
func (b *blob) Close() error {
	_ = b.f.Close()
	return nil
}
