package badgerstore_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

const benchBlobSize = 16 << 20

func benchStore(b *testing.B) *badgerstore.Store {
	b.Helper()
	s, err := badgerstore.Open(badgerstore.Options{Dir: b.TempDir()}, nil)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkWriteBlob measures streaming distinct 16 MiB blobs to disk.
func BenchmarkWriteBlob(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	data := make([]byte, benchBlobSize)
	b.SetBytes(benchBlobSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		data[0], data[1], data[2] = byte(i), byte(i>>8), byte(i>>16) // a new blob each time
		if _, err := s.WriteBlob(ctx, "npm", bytes.NewReader(data), nil); err != nil {
			b.Fatalf("WriteBlob: %v", err)
		}
	}
}

// BenchmarkReadBlob measures reading a 16 MiB blob from disk.
func BenchmarkReadBlob(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	sums, err := s.WriteBlob(ctx, "npm", bytes.NewReader(make([]byte, benchBlobSize)), nil)
	if err != nil {
		b.Fatalf("WriteBlob: %v", err)
	}
	b.SetBytes(benchBlobSize)
	b.ReportAllocs()
	for b.Loop() {
		r, err := s.OpenBlob(ctx, "npm", sums.SHA256)
		if err != nil {
			b.Fatalf("OpenBlob: %v", err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatalf("read: %v", err)
		}
		r.Close()
	}
}
