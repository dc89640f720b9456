package badgerstore

import (
	"context"
	"io"
	"os"
	"path/filepath"
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

// TestMemoryPerStream checks that a writer and readers of a 64 MiB blob
// allocate a few buffers each, not the blob.
func TestMemoryPerStream(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB")
	}
	const (
		size    = 64 << 20
		readers = 8
	)
	s := openInternal(t, Options{Dir: t.TempDir()})
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
	if limit := uint64(2*writeBufs*writeBufSize + 1<<20); w > limit {
		t.Errorf("writing a %d MiB blob allocated %d KiB, want at most %d KiB", size>>20, w>>10, limit>>10)
	}
	if limit := uint64(readers*64<<10 + 1<<20); r > limit {
		t.Errorf("%d readers of a %d MiB blob allocated %d KiB, want at most %d KiB", readers, size>>20, r>>10, limit>>10)
	}
}

// TestWriteBlobStreams checks that WriteBlob writes each buffer to the file
// as soon as it has read it: while the writer waits for more input, the
// bytes read so far are in the file.
func TestWriteBlobStreams(t *testing.T) {
	s := openInternal(t, Options{InMemory: true})
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.WriteBlob(context.Background(), "npm", pr, nil)
		done <- err
	}()
	// Write returns once the writer has taken the fifth buffer, so it has
	// written the first four.
	if _, err := pw.Write(make([]byte, 5*writeBufSize)); err != nil {
		t.Fatal(err)
	}
	if got := storeKeys(t, s); got != (keyCounts{Uploads: 1, Files: 1}) {
		t.Fatalf("keys while the writer waits for input = %+v; want 1 upload marker, 1 file, no meta", got)
	}
	files, err := filepath.Glob(filepath.Join(s.blobDir, "??", "*"))
	if err != nil || len(files) != 1 {
		t.Fatalf("blob files: %v, %v", files, err)
	}
	if st, err := os.Stat(files[0]); err != nil || st.Size() < 4*writeBufSize {
		t.Fatalf("file while the writer waits for input: %v, %v; want at least %d bytes", st, err, 4*writeBufSize)
	}
	pw.CloseWithError(io.ErrClosedPipe)
	if err := <-done; err == nil {
		t.Fatal("WriteBlob succeeded on a broken reader")
	}
	if got := storeKeys(t, s); got != (keyCounts{}) {
		t.Fatalf("keys after a failed write = %+v, want none", got)
	}
}
