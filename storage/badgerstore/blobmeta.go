package badgerstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
)

// blobMeta is the value of a blob's meta record, the record whose presence
// makes the blob exist. Its bytes are the file of upload Upload.
type blobMeta struct {
	Sums    storage.Sums `json:"sums"`
	Upload  string       `json:"upload"`
	Touched time.Time    `json:"touched"`
	// Chunks is set by the layout before blobs became files; such a meta
	// record is refused rather than read as a blob without bytes.
	Chunks int64 `json:"chunks,omitempty"`
}

func (m blobMeta) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("badgerstore: encode blob meta: %w", err)
	}
	return b, nil
}

// decodeBlobMeta parses and checks a meta record, returning its upload id.
func decodeBlobMeta(b []byte) (blobMeta, uploadID, error) {
	var m blobMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return m, uploadID{}, fmt.Errorf("badgerstore: decode blob meta: %w", err)
	}
	if m.Chunks != 0 {
		return m, uploadID{}, fmt.Errorf("badgerstore: blob %s is stored in chunks, the layout of an earlier version: start with an empty data directory", m.Sums.SHA256)
	}
	id, err := parseUploadID(m.Upload)
	if err != nil {
		return m, id, err
	}
	if m.Sums.Size < 0 {
		return m, id, fmt.Errorf("badgerstore: inconsistent blob meta: size %d", m.Sums.Size)
	}
	return m, id, nil
}

// uploadMarker is the value of an upload marker, for diagnostics.
type uploadMarker struct {
	Domain  string    `json:"domain"`
	Purpose string    `json:"purpose"` // "write" or "delete"
	Started time.Time `json:"started"`
}

func (m uploadMarker) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("badgerstore: encode upload marker: %w", err)
	}
	return b, nil
}
