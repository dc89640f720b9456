package badgerstore

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/stockpile-proxy/stockpile/storage"
)

// Key layout.
//
// Record keys come from callers (storage.Key): a one-letter space, a zero
// byte, then the parts. Their first byte is therefore always an ASCII letter.
// The blob spaces below start with the byte 0xFF, which no record key can
// start with (Put, Get, Delete, Apply and Scan refuse such keys), and which
// sorts after every record key, so a Scan over all records stops before them.
//
//	<letter> 0x00 ...                                  records (see storage/keys.go)
//	0xFF
//	├── 'b' 0x00 <domain> 0x00 <sha256 hex, 64 bytes>  blob meta: JSON blobMeta; the commit marker
//	└── 'u' 0x00 <upload id, 16 bytes>                 upload marker: JSON uploadMarker; while it
//	                                                   exists, the upload's file belongs to no
//	                                                   meta record and may be swept
//
// A blob's bytes are a plain file, blobs/<id[0:2]>/<id> below the store's
// directory, named by the upload id (see blobfile.go). A writer puts the
// upload marker first, then writes and syncs the file, then in one
// transaction the meta record (naming the upload id) and the deletion of the
// marker. DeleteBlob, in one transaction, deletes the meta record and puts a
// marker back, then removes the file and finally the marker. So every file is
// owned either by exactly one meta record or by a marker, and the sweep at
// Open removes whatever a crash left under a marker.

// reservedByte starts every key that belongs to this backend.
const reservedByte = 0xFF

var (
	metaSpace   = []byte{reservedByte, 'b', 0}
	uploadSpace = []byte{reservedByte, 'u', 0}
)

// uploadID names the file of one WriteBlob call.
type uploadID [16]byte

func newUploadID() (uploadID, error) {
	var id uploadID
	if _, err := rand.Read(id[:]); err != nil {
		return id, fmt.Errorf("badgerstore: upload id: %w", err)
	}
	return id, nil
}

func (id uploadID) String() string { return hex.EncodeToString(id[:]) }

func parseUploadID(s string) (uploadID, error) {
	var id uploadID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("badgerstore: malformed upload id %q", s)
	}
	copy(id[:], b)
	return id, nil
}

func metaKey(domain, sha256 string) []byte {
	k := make([]byte, 0, len(metaSpace)+len(domain)+1+len(sha256))
	k = append(k, metaSpace...)
	k = append(k, domain...)
	k = append(k, 0)
	return append(k, sha256...)
}

func uploadKey(id uploadID) []byte {
	k := make([]byte, 0, len(uploadSpace)+len(id))
	k = append(k, uploadSpace...)
	return append(k, id[:]...)
}

// uploadIDFromKey extracts the id from an upload marker key.
func uploadIDFromKey(k []byte) (uploadID, bool) {
	var id uploadID
	if len(k) != len(uploadSpace)+len(id) {
		return id, false
	}
	copy(id[:], k[len(uploadSpace):])
	return id, true
}

// checkRecordKey refuses keys that callers must not use: empty ones and
// those in the reserved blob space.
func checkRecordKey(key []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("badgerstore: empty key")
	}
	if key[0] == reservedByte {
		return fmt.Errorf("badgerstore: key %q is in the reserved blob space", key)
	}
	return nil
}

// checkDomain refuses domains that could not be told apart inside a key.
func checkDomain(domain string) error {
	if domain == "" {
		return fmt.Errorf("badgerstore: empty blob domain")
	}
	if strings.IndexByte(domain, 0) >= 0 {
		return fmt.Errorf("badgerstore: blob domain %q contains a zero byte", domain)
	}
	return nil
}

// normalizeSHA256 returns the lower-case form of a hex SHA-256, or an error
// wrapping storage.ErrNotFound when s cannot name any blob.
func normalizeSHA256(s string) (string, error) {
	if len(s) != 64 {
		return "", fmt.Errorf("badgerstore: malformed sha256 %q: %w", s, storage.ErrNotFound)
	}
	s = strings.ToLower(s)
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("badgerstore: malformed sha256 %q: %w", s, storage.ErrNotFound)
	}
	return s, nil
}
