package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stockpile-proxy/stockpile/storage"
)

// testClosed checks that every operation after Close fails with ErrClosed,
// and that a blob opened before Close fails to read rather than crash.
func testClosed(t *testing.T, h *harness) {
	s := h.store(t)
	ctx := context.Background()
	b := data(chunkSize(s)+1, 50)
	sha := writeBlob(t, s, "npm", b).SHA256
	key := storage.Key("d", "x")
	r, err := s.OpenBlob(ctx, "npm", sha)
	if err != nil {
		t.Fatalf("OpenBlob: %v", err)
	}
	defer r.Close()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	tests := []struct {
		name string
		op   func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, key); return err }},
		{"Put", func() error { return s.Put(ctx, key, []byte("v"), 0) }},
		{"Delete", func() error { return s.Delete(ctx, key) }},
		{"Scan", func() error { return s.Scan(ctx, nil, func(k, v []byte) error { return nil }) }},
		{"Apply", func() error { return s.Apply(ctx, []storage.Mutation{{Key: key, Value: []byte("v")}}) }},
		{"WriteBlob", func() error {
			_, err := s.WriteBlob(ctx, "npm", bytes.NewReader([]byte("new")), accept)
			return err
		}},
		{"OpenBlob", func() error { _, err := s.OpenBlob(ctx, "npm", sha); return err }},
		{"StatBlob", func() error { _, err := s.StatBlob(ctx, "npm", sha); return err }},
		{"DeleteBlob", func() error { return s.DeleteBlob(ctx, "npm", sha) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, storage.ErrClosed) {
				t.Fatalf("%s after Close = %v, want ErrClosed", tt.name, err)
			}
		})
	}
	t.Run("open-blob-read", func(t *testing.T) {
		if n, err := io.ReadAll(r); err == nil {
			t.Fatalf("reading a blob opened before Close returned %d bytes and no error", len(n))
		}
	})
}
