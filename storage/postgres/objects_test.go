package postgres_test

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/stockpile-proxy/stockpile/storage"
)

// memObjects keeps objects in memory, for the tests of what does not touch
// blobs (locks, the change feed); the contract suite runs on SeaweedFS.
type memObjects struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (o *memObjects) Put(ctx context.Context, key string, r io.ReaderAt, size int64) error {
	b := make([]byte, size)
	if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
		return err
	}
	o.mu.Lock()
	o.m[key] = b
	o.mu.Unlock()
	return ctx.Err()
}
func (o *memObjects) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, ok := o.m[key]
	if !ok {
		return nil, 0, storage.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}
func (o *memObjects) Delete(ctx context.Context, key string) error {
	o.mu.Lock()
	delete(o.m, key)
	o.mu.Unlock()
	return nil
}
