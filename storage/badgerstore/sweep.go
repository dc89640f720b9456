package badgerstore

import (
	"context"
	"fmt"
)

// SweepUploads deletes the files and markers of uploads that no call of
// this process is working on: those a crash interrupted, and those whose
// clean-up failed. Open runs it; running it again later is safe. It returns
// how many uploads it removed, and storage.ErrClosed after Close, ctx's
// error if ctx ends, and Badger's errors, wrapped.
func (s *Store) SweepUploads(ctx context.Context) (int, error) {
	markers, err := s.listKeys(uploadSpace, 1<<30)
	if err != nil {
		return 0, fmt.Errorf("badgerstore: sweep: %w", err)
	}
	swept := 0
	for _, k := range markers {
		if err := ctx.Err(); err != nil {
			return swept, fmt.Errorf("badgerstore: sweep: %w", err)
		}
		id, ok := uploadIDFromKey(k)
		if !ok {
			s.log.Warn("badgerstore: sweep: ignoring malformed upload key", "key", fmt.Sprintf("%q", k))
			continue
		}
		if s.uploadActive(id) {
			continue
		}
		// A writer unregisters only after it has deleted its marker, so if
		// the marker is still there now, nobody owns the upload.
		alive, err := s.markerExists(id)
		if err != nil {
			return swept, fmt.Errorf("badgerstore: sweep: %w", err)
		}
		if !alive {
			continue
		}
		if err := s.deleteUpload(id); err != nil {
			return swept, fmt.Errorf("badgerstore: sweep: %w", err)
		}
		swept++
	}
	return swept, nil
}
