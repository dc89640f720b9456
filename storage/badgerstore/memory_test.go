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

// TestMemoryPerStream checks that readers of a 64 MiB blob in 256 KiB chunks
// allocate about a chunk each, not the blob. (A writer's own memory is one
// chunk too, but Badger allocates a short-lived encoding buffer per value
// log write, so its total allocation is about the blob's size and is only
// logged; TestWriteBlobStreams checks that chunks are written as read.)
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
	if limit := uint64(readers*2*cs + 1<<20); r > limit {
		t.Fatalf("%d readers of a %d MiB blob allocated %d KiB, want at most %d KiB", readers, size>>20, r>>10, limit>>10)
	}
}

// TestWriteBlobStreams checks that WriteBlob stores each chunk as soon as it
// has read it: while the writer waits for more input, the chunks read so far
// are in the database.
func TestWriteBlobStreams(t *testing.T) {
	const cs = 4 << 10
	s := openInternal(t, Options{InMemory: true, ChunkSize: cs})
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.WriteBlob(context.Background(), "npm", pr, nil)
		done <- err
	}()
	// Write returns once the writer has taken the fifth chunk, so it has
	// stored the first four.
	if _, err := pw.Write(make([]byte, 5*cs)); err != nil {
		t.Fatal(err)
	}
	if got := storeKeys(t, s); got.Chunks < 4 || got.Uploads != 1 || got.Metas != 0 {
		t.Fatalf("keys while the writer waits for input = %+v; want >= 4 chunks, 1 upload marker, no meta", got)
	}
	pw.CloseWithError(io.ErrClosedPipe)
	if err := <-done; err == nil {
		t.Fatal("WriteBlob succeeded on a broken reader")
	}
	if got := storeKeys(t, s); got != (keyCounts{}) {
		t.Fatalf("keys after a failed write = %+v, want none", got)
	}
}
