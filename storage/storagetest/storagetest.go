// Package storagetest is the contract every storage.Store backend must pass.
//
// A backend's test calls Run with a function that opens a fresh, empty store:
//
//	func TestContract(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { ... })
//	}
//
// Run closes every store it opens when the subtest ends, ignoring an error
// that wraps storage.ErrClosed, so open need not register a Close itself.
//
// Beyond the letter of the storage interfaces, the suite expects what the
// rest of Stockpile relies on: a Scan reads one consistent snapshot (so it
// never sees part of an Apply), a record put with a TTL of one second is gone
// within a few seconds, blob readers work with http.ServeContent, and a blob
// deleted while open fails its reader's later reads instead of returning
// wrong bytes.
package storagetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/storage"
)

// ChunkSizer is implemented by stores that cut blobs into chunks. Run uses
// the chunk size to pick blob sizes around chunk boundaries; stores without
// it are tested with DefaultChunkSize.
type ChunkSizer interface {
	ChunkSize() int
}

// DefaultChunkSize is the boundary Run tests around when the store is not a
// ChunkSizer.
const DefaultChunkSize = 256 << 10

// Run runs the contract suite against stores made by open, each subtest on
// a fresh store. open must return an empty, open store or fail t.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	h := &harness{open: open}
	t.Run("records", func(t *testing.T) { runRecords(t, h) })
	t.Run("blobs", func(t *testing.T) { runBlobs(t, h) })
	t.Run("blob-reads", func(t *testing.T) { runBlobReads(t, h) })
	t.Run("concurrency", func(t *testing.T) { runConcurrency(t, h) })
	t.Run("closed", func(t *testing.T) { testClosed(t, h) })
}

// harness opens stores for subtests.
type harness struct {
	open func(t *testing.T) storage.Store
}

// store opens a fresh store that is closed when t ends.
func (h *harness) store(t *testing.T) storage.Store {
	t.Helper()
	s := h.open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, storage.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// chunkSize returns the store's chunk size, or DefaultChunkSize.
func chunkSize(s storage.Store) int {
	if c, ok := s.(ChunkSizer); ok && c.ChunkSize() > 0 {
		return c.ChunkSize()
	}
	return DefaultChunkSize
}

// data returns n deterministic pseudo-random bytes; different seeds give
// different bytes.
func data(n int, seed uint64) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// sumsOf computes the sums a store must report for b.
func sumsOf(b []byte) storage.Sums {
	m, s1, s256, s512 := md5.Sum(b), sha1.Sum(b), sha256.Sum256(b), sha512.Sum512(b)
	return storage.Sums{
		Size:   int64(len(b)),
		MD5:    hex.EncodeToString(m[:]),
		SHA1:   hex.EncodeToString(s1[:]),
		SHA256: hex.EncodeToString(s256[:]),
		SHA512: hex.EncodeToString(s512[:]),
	}
}

func accept(storage.Sums) error { return nil }

// writeBlob stores b in domain and checks the returned sums.
func writeBlob(t *testing.T, s storage.Store, domain string, b []byte) storage.Sums {
	t.Helper()
	got, err := s.WriteBlob(context.Background(), domain, bytes.NewReader(b), accept)
	if err != nil {
		t.Fatalf("WriteBlob(%s, %d bytes): %v", domain, len(b), err)
	}
	if diff := cmp.Diff(sumsOf(b), got); diff != "" {
		t.Fatalf("WriteBlob(%s, %d bytes) sums (-want +got):\n%s", domain, len(b), diff)
	}
	return got
}

// readBlob opens and reads a whole blob.
func readBlob(t *testing.T, s storage.Store, domain, sha string) []byte {
	t.Helper()
	b, err := s.OpenBlob(context.Background(), domain, sha)
	if err != nil {
		t.Fatalf("OpenBlob(%s, %s): %v", domain, sha, err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("reading blob %s/%s: %v", domain, sha, err)
	}
	return got
}

// checkBlob checks that domain holds exactly want.
func checkBlob(t *testing.T, s storage.Store, domain string, want []byte) {
	t.Helper()
	sums := sumsOf(want)
	got, err := s.StatBlob(context.Background(), domain, sums.SHA256)
	if err != nil {
		t.Fatalf("StatBlob(%s, %s): %v", domain, sums.SHA256, err)
	}
	if diff := cmp.Diff(sums, got); diff != "" {
		t.Fatalf("StatBlob(%s) sums (-want +got):\n%s", domain, diff)
	}
	if b := readBlob(t, s, domain, sums.SHA256); !bytes.Equal(b, want) {
		t.Fatalf("blob %s/%s: read %d bytes that differ from the %d written", domain, sums.SHA256, len(b), len(want))
	}
}

// checkNoBlob checks that domain holds no blob with b's SHA-256.
func checkNoBlob(t *testing.T, s storage.Store, domain string, b []byte) {
	t.Helper()
	sha := sumsOf(b).SHA256
	ctx := context.Background()
	if _, err := s.StatBlob(ctx, domain, sha); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("StatBlob(%s, %s) = %v, want ErrNotFound", domain, sha, err)
	}
	if r, err := s.OpenBlob(ctx, domain, sha); !errors.Is(err, storage.ErrNotFound) {
		if err == nil {
			r.Close()
		}
		t.Errorf("OpenBlob(%s, %s) = %v, want ErrNotFound", domain, sha, err)
	}
}
