package resolver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/storage"
)

// The hot cache keeps the warm asset path a lookup and a write: where an
// asset of a repository is (its blob's digest) and, for small blobs, the
// bytes themselves. Entries are valid while the model and everything stored
// about the package keep their generations, like rendered documents.

// blobUser is a store whose blobs' files are a bounded local cache that
// evicts the least recently used (storage/postgres): hits served from a
// file the hot cache opened itself tell it of the use.
type blobUser interface {
	BlobFileUsed(path string)
}

// hotAsset is where a repository's asset is: its blob, and the blob's
// file when the store keeps it in one.
type hotAsset struct {
	sums           storage.Sums
	file           string
	mod            time.Time
	regGen, pkgGen uint64
	// marked is true once the package's request was noted (requested.go).
	marked bool
}

type hotCache struct {
	assets  *boundedCache[hotAsset]
	blobs   *boundedCache[[]byte] // sha256 → bytes of small blobs
	maxBlob int64                 // largest blob kept
}

func newHotCache(limit int64) *hotCache {
	return &hotCache{
		assets:  newBoundedCache[hotAsset](maxHotAssets, 0, nil),
		blobs:   newBoundedCache(maxHotAssets, limit, func(b []byte) int64 { return int64(len(b)) }),
		maxBlob: min(limit/8, maxHotBlob),
	}
}

const maxHotAssets = 100000

// maxHotBlob is the largest blob whose bytes are kept in memory. Larger ones
// are sent from their files with sendfile, which costs an open but saves
// copying the bytes into the socket: cheaper from about this size on.
const maxHotBlob = 64 << 10

func (c *hotCache) asset(key string) (hotAsset, bool) { return c.assets.get(key) }

func (c *hotCache) putAsset(key string, a hotAsset) { c.assets.put(key, a) }

func (c *hotCache) blob(sha string) []byte {
	b, _ := c.blobs.get(sha)
	return b
}

func (c *hotCache) putBlob(sha string, b []byte) {
	if int64(len(b)) > c.maxBlob {
		return
	}
	c.blobs.swap(sha, func(old []byte, ok bool) ([]byte, bool) { return b, !ok })
}

func hotKey(domain, repo string, p formats.Package, version, name string) string {
	return domain + "\x00" + repo + "\x00" + genKey("", p) + "\x00" + version + "\x00" + name
}

// hotBlob serves cached bytes as a storage.Blob.
type hotBlob struct {
	*bytes.Reader
	sums storage.Sums
}

func (b hotBlob) Close() error       { return nil }
func (b hotBlob) Sums() storage.Sums { return b.sums }

// hotFile is a blob's file opened straight from the hot cache.
type hotFile struct {
	f    *os.File
	sums storage.Sums
}

func (b hotFile) Read(p []byte) (int, error)                { return b.f.Read(p) }
func (b hotFile) Seek(off int64, whence int) (int64, error) { return b.f.Seek(off, whence) }
func (b hotFile) Close() error                              { return b.f.Close() }
func (b hotFile) Sums() storage.Sums                        { return b.sums }
func (b hotFile) File() *os.File                            { return b.f }

// hot returns the asset from the hot cache, or nil; marked tells whether
// the package's request was already noted.
func (r *Resolver) hot(ctx context.Context, key, domain string, p formats.Package) (blob storage.Blob, mod time.Time, marked bool) {
	a, ok := r.hotCache.asset(key)
	if !ok || a.regGen != r.registry.Generation() || a.pkgGen != r.generation(domain, p) {
		return nil, time.Time{}, false
	}
	if b := r.hotCache.blob(a.sums.SHA256); b != nil {
		return hotBlob{bytes.NewReader(b), a.sums}, a.mod, a.marked
	}
	if a.file != "" {
		// The file of an immutable blob: if it is still there, it is whole.
		if f, err := os.Open(a.file); err == nil {
			if r.blobUser != nil {
				r.blobUser.BlobFileUsed(a.file)
			}
			return hotFile{f, a.sums}, a.mod, a.marked
		}
	}
	blob, err := r.store.OpenBlob(ctx, domain, a.sums.SHA256)
	if err != nil {
		return nil, time.Time{}, false
	}
	return blob, a.mod, a.marked
}

// markHot records in the hot entry at key that its package's request was
// noted, so the warm path stops noting it.
func (c *hotCache) markHot(key string) {
	c.assets.swap(key, func(a hotAsset, ok bool) (hotAsset, bool) {
		a.marked = true
		return a, ok
	})
}

// remember records where an asset is, and keeps the bytes of a small blob;
// it returns the blob to serve (re-opened when its bytes were read), or
// errCorrupt when the small blob's bytes do not match their digest.
func (r *Resolver) remember(ctx context.Context, key string, a hotAsset, blob storage.Blob) (storage.Blob, error) {
	if f, ok := blob.(filer); ok {
		a.file = f.File().Name()
	}
	r.hotCache.putAsset(key, a)
	if a.sums.Size > r.hotCache.maxBlob || r.hotCache.blob(a.sums.SHA256) != nil {
		return blob, nil
	}
	b, err := io.ReadAll(blob)
	blob.Close()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", a.sums.SHA256, err)
	}
	// Bytes served from memory are checked once, on their way in.
	if err := verifyBytes(b, a.sums); err != nil {
		return nil, err
	}
	r.hotCache.putBlob(a.sums.SHA256, b)
	return hotBlob{bytes.NewReader(b), a.sums}, nil
}
