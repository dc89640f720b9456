// Package storage defines what Stockpile keeps and how: small records (the model,
// version records, cached upstream documents) and immutable blobs addressed by
// SHA-256 within a domain. Nothing outside this package and its backends may
// assume a particular database; backends must pass storagetest.Run.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned when a record or blob is absent. It never stands for
// any other failure: I/O errors are returned as themselves.
var ErrNotFound = errors.New("storage: not found")

// ErrClosed is returned by operations on a store that has been closed.
var ErrClosed = errors.New("storage: closed")

// ErrUnavailable is wrapped, beside the backend's own error, around a
// failure to reach a server the store depends on (its database, its object
// store): nothing was decided, and the same call may succeed later.
var ErrUnavailable = errors.New("storage: unavailable")

// Records holds small documents under byte-string keys. Keys are built by the
// callers with Key; values are opaque.
type Records interface {
	// Get returns the value stored at key, or ErrNotFound.
	Get(ctx context.Context, key []byte) ([]byte, error)
	// Put stores value at key, replacing any previous value. A ttl above zero
	// makes the record disappear by itself after that long (negative caches).
	Put(ctx context.Context, key, value []byte, ttl time.Duration) error
	// Delete removes key. Deleting an absent key is not an error.
	Delete(ctx context.Context, key []byte) error
	// Scan calls fn for every key that starts with prefix, in key order. fn may
	// not call the store. Returning an error from fn stops the scan and Scan
	// returns that error. key and value are only valid during the call.
	Scan(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error
	// Apply writes every mutation atomically: all are visible or none.
	Apply(ctx context.Context, muts []Mutation) error
}

// Mutation is one write in an atomic Apply. A nil Value deletes Key.
type Mutation struct {
	Key   []byte
	Value []byte
	TTL   time.Duration
}

// Sums describes a blob: its size and its digests as lower-case hex.
type Sums struct {
	Size   int64  `json:"size"`
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512"`
}

// Blob is an open, seekable reader over a stored blob.
type Blob interface {
	io.ReadSeekCloser
	Sums() Sums
}

// Blobs holds immutable bytes, content-addressed by SHA-256 within a domain, so
// that a file present in many repositories of a domain is stored once.
type Blobs interface {
	// WriteBlob reads r to its end, hashing it (MD5, SHA-1, SHA-256, SHA-512) in
	// the same pass as it writes, then calls verify with the sums. The blob is
	// committed only when r ended without error and verify returned nil; else
	// nothing readable is left behind and the error is returned (verify's error
	// is returned as is, wrapped). Writing bytes that are already stored is a
	// success that returns the existing sums. A crash at any point never leaves
	// a blob that OpenBlob would return whole but is not.
	WriteBlob(ctx context.Context, domain string, r io.Reader, verify func(Sums) error) (Sums, error)
	// OpenBlob opens the blob with the given SHA-256 (hex), or ErrNotFound.
	OpenBlob(ctx context.Context, domain, sha256 string) (Blob, error)
	// StatBlob returns the sums of a stored blob, or ErrNotFound.
	StatBlob(ctx context.Context, domain, sha256 string) (Sums, error)
	// DeleteBlob removes a blob. Deleting an absent blob is not an error.
	DeleteBlob(ctx context.Context, domain, sha256 string) error
	// ListBlobs calls fn for every blob of domain, in SHA-256 order; fn may
	// not call the store.
	// Returning an error from fn stops the listing with that error.
	ListBlobs(ctx context.Context, domain string, fn func(BlobInfo) error) error
}

// BlobInfo describes a stored blob for garbage collection.
type BlobInfo struct {
	Sums
	// Touched is when the blob was last written: committed, or written
	// again with the same bytes. A collector spares recently touched blobs,
	// whose references may be on their way.
	Touched time.Time
}

// Store is everything a backend provides.
type Store interface {
	Records
	Blobs
	io.Closer
}
