package badgerstore

import (
	"context"
	"io"
	"runtime"
	"sync"
	"testing"
)

// allocated returns the bytes allocated while fn ran (by every goroutine).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestMemoryPerStream checks that writing and reading a blob allocate about
// a chunk, not the blob: a 64 MiB blob in 256 KiB chunks.
func TestMemoryPerStream(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB")
	}
	const (
		size    = 64 << 20
		cs      = 256 << 10
		readers = 8
	)
	s := openInternal(t, Options{Dir: t.TempDir(), ChunkSize: cs})
	ctx := context.Background()
	var sha string
	w := allocated(func() {
		sums, err := s.WriteBlob(ctx, "npm", crashData(size, 9), nil)
		if err != nil {
			t.Fatalf("WriteBlob: %v", err)
		}
		sha = sums.SHA256
	})
	r := allocated(func() {
		var wg sync.WaitGroup
		for range readers {
			wg.Go(func() {
				b, err := s.OpenBlob(ctx, "npm", sha)
				if err != nil {
					t.Errorf("OpenBlob: %v", err)
					return
				}
				defer b.Close()
				if n, err := io.Copy(io.Discard, b); err != nil || n != size {
					t.Errorf("read %d bytes: %v", n, err)
				}
			})
		}
		wg.Wait()
	})
	t.Logf("writing %d MiB allocated %d KiB; %d readers allocated %d KiB", size>>20, w>>10, readers, r>>10)
}
