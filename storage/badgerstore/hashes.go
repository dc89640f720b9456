package badgerstore

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

// hashes computes every digest of storage.Sums, each in a goroutine of its
// own, so that a blob is hashed on every core while it is written: the four
// digests together cost about four times one, which in one goroutine would
// make hashing, not the network, the limit of a cold download.
//
// The caller hands a buffer over with write and may reuse it once its
// pending.Wait has returned; sums waits for everything handed over.
type hashes struct {
	hs   [4]hash.Hash // md5, sha1, sha256, sha512
	in   [4]chan *hashBuf
	done sync.WaitGroup // the hashing goroutines
	once sync.Once      // closes in
	size int64
}

// hashBuf is a buffer whose first n bytes are being hashed; pending
// counts the digests still reading it.
type hashBuf struct {
	data    []byte
	n       int
	pending sync.WaitGroup
}

// hashQueue is how many buffers each digest may lag behind the writer.
const hashQueue = 4

func newHashes() *hashes {
	h := &hashes{hs: [4]hash.Hash{md5.New(), sha1.New(), sha256.New(), sha512.New()}}
	for i := range h.hs {
		h.in[i] = make(chan *hashBuf, hashQueue)
		h.done.Go(func() {
			for b := range h.in[i] {
				_, _ = h.hs[i].Write(b.data[:b.n])
				b.pending.Done()
			}
		})
	}
	return h
}

// write hands b.data[:b.n] to every digest; b must stay untouched until
// b.pending.Wait returns.
func (h *hashes) write(b *hashBuf) {
	h.size += int64(b.n)
	b.pending.Add(len(h.hs))
	for _, c := range h.in {
		c <- b
	}
}

// stop ends the hashing goroutines once they have hashed what they were
// given; write must not be called after it. Calling it again is harmless.
func (h *hashes) stop() {
	h.once.Do(func() {
		for _, c := range h.in {
			close(c)
		}
	})
	h.done.Wait()
}

// sums stops the digests and returns them.
func (h *hashes) sums() storage.Sums {
	h.stop()
	return storage.Sums{
		Size:   h.size,
		MD5:    hex.EncodeToString(h.hs[0].Sum(nil)),
		SHA1:   hex.EncodeToString(h.hs[1].Sum(nil)),
		SHA256: hex.EncodeToString(h.hs[2].Sum(nil)),
		SHA512: hex.EncodeToString(h.hs[3].Sum(nil)),
	}
}
