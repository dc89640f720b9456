package badgerstore

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
)

// blobMeta is the value of a blob's meta record, the record whose presence
// makes the blob exist.
type blobMeta struct {
	Sums      storage.Sums `json:"sums"`
	Chunks    int64        `json:"chunks"`
	ChunkSize int          `json:"chunkSize"`
	Upload    string       `json:"upload"`
	Touched   time.Time    `json:"touched"`
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
	id, err := parseUploadID(m.Upload)
	if err != nil {
		return m, id, err
	}
	if m.ChunkSize <= 0 || m.Sums.Size < 0 || m.Chunks != chunkCount(m.Sums.Size, m.ChunkSize) {
		return m, id, fmt.Errorf("badgerstore: inconsistent blob meta: size %d, %d chunks of %d",
			m.Sums.Size, m.Chunks, m.ChunkSize)
	}
	return m, id, nil
}

// chunkCount is how many chunks of chunkSize hold size bytes.
func chunkCount(size int64, chunkSize int) int64 {
	return (size + int64(chunkSize) - 1) / int64(chunkSize)
}

// maxChunks is the number of chunk indexes a key can hold.
const maxChunks = math.MaxUint32

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
