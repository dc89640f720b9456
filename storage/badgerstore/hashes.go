package badgerstore

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"

	"github.com/stockpile-proxy/stockpile/storage"
)

// hashes computes every digest of storage.Sums in one pass.
type hashes struct {
	md5, sha1, sha256, sha512 hash.Hash
	size                      int64
	w                         io.Writer
}

func newHashes() *hashes {
	h := &hashes{md5: md5.New(), sha1: sha1.New(), sha256: sha256.New(), sha512: sha512.New()}
	h.w = io.MultiWriter(h.md5, h.sha1, h.sha256, h.sha512)
	return h
}

// Write hashes p; it never fails.
func (h *hashes) Write(p []byte) (int, error) {
	h.size += int64(len(p))
	return h.w.Write(p)
}

func (h *hashes) sums() storage.Sums {
	return storage.Sums{
		Size:   h.size,
		MD5:    hex.EncodeToString(h.md5.Sum(nil)),
		SHA1:   hex.EncodeToString(h.sha1.Sum(nil)),
		SHA256: hex.EncodeToString(h.sha256.Sum(nil)),
		SHA512: hex.EncodeToString(h.sha512.Sum(nil)),
	}
}
