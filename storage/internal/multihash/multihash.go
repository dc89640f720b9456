// Package multihash computes every digest of storage.Sums in one pass, each
// digest in a goroutine of its own.
package multihash

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"sync"

	"github.com/stockpile-proxy/stockpile/storage"
)

// Hashes computes every digest of storage.Sums, each in a goroutine of its
// own, so that a blob is hashed on every core while it is written: the four
// digests together cost about four times one, which in one goroutine would
// make hashing, not the network, the limit of a cold download.
//
// The caller hands a buffer over with Write and may reuse it once its
// Pending.Wait has returned; Sums waits for everything handed over.
type Hashes struct {
	hs   [4]hash.Hash // md5, sha1, sha256, sha512
	in   [4]chan *Buf
	done sync.WaitGroup // the hashing goroutines
	once sync.Once      // closes in
	size int64
}

// Buf is a buffer whose first N bytes are being hashed; Pending
// counts the digests still reading it.
type Buf struct {
	Data    []byte
	N       int
	Pending sync.WaitGroup
}

// hashQueue is how many buffers each digest may lag behind the writer.
const hashQueue = 4

// New starts the digests; Stop or Sums must be called to end them.
func New() *Hashes {
	h := &Hashes{hs: [4]hash.Hash{md5.New(), sha1.New(), sha256.New(), sha512.New()}}
	for i := range h.hs {
		h.in[i] = make(chan *Buf, hashQueue)
		h.done.Go(func() {
			for b := range h.in[i] {
				_, _ = h.hs[i].Write(b.Data[:b.N])
				b.Pending.Done()
			}
		})
	}
	return h
}

// Write hands b.Data[:b.N] to every digest; b must stay untouched until
// b.Pending.Wait returns.
func (h *Hashes) Write(b *Buf) {
	h.size += int64(b.N)
	b.Pending.Add(len(h.hs))
	for _, c := range h.in {
		c <- b
	}
}

// Stop ends the hashing goroutines once they have hashed what they were
// given; Write must not be called after it. Calling it again is harmless.
func (h *Hashes) Stop() {
	h.once.Do(func() {
		for _, c := range h.in {
			close(c)
		}
	})
	h.done.Wait()
}

// Sums stops the digests and returns them.
func (h *Hashes) Sums() storage.Sums {
	h.Stop()
	return storage.Sums{
		Size:   h.size,
		MD5:    hex.EncodeToString(h.hs[0].Sum(nil)),
		SHA1:   hex.EncodeToString(h.hs[1].Sum(nil)),
		SHA256: hex.EncodeToString(h.hs[2].Sum(nil)),
		SHA512: hex.EncodeToString(h.hs[3].Sum(nil)),
	}
}
