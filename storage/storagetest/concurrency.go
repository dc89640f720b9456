package storagetest

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/storage"
)

func runConcurrency(t *testing.T, h *harness) {
	t.Run("writers", func(t *testing.T) { testConcurrentWriters(t, h) })
	t.Run("readers-and-delete", func(t *testing.T) { testReadersAndDelete(t, h) })
}

func testConcurrentWriters(t *testing.T, h *harness) {
	s := h.store(t)
	cs := chunkSize(s)
	shared := data(3*cs+1, 30)
	const writers = 8
	blobs := make([][]byte, writers)
	for i := range blobs {
		blobs[i] = shared
		if i%2 == 1 {
			blobs[i] = data(2*cs+i, 31+uint64(i))
		}
	}
	var wg sync.WaitGroup
	for i, b := range blobs {
		wg.Go(func() {
			got, err := s.WriteBlob(context.Background(), "npm", bytes.NewReader(b), accept)
			if err != nil {
				t.Errorf("writer %d: WriteBlob: %v", i, err)
				return
			}
			if diff := cmp.Diff(sumsOf(b), got); diff != "" {
				t.Errorf("writer %d: sums (-want +got):\n%s", i, diff)
			}
		})
	}
	wg.Wait()
	for _, b := range blobs {
		checkBlob(t, s, "npm", b)
	}
}

// testReadersAndDelete deletes a blob while readers are reading it: a reader
// may fail, but what it reads before failing is right, and nothing panics.
func testReadersAndDelete(t *testing.T, h *harness) {
	s := h.store(t)
	ctx := context.Background()
	cs := chunkSize(s)
	b := data(6*cs+7, 40)
	sha := writeBlob(t, s, "npm", b).SHA256
	const readers = 4
	var opened []storage.Blob
	for range readers {
		r, err := s.OpenBlob(ctx, "npm", sha)
		if err != nil {
			t.Fatalf("OpenBlob: %v", err)
		}
		defer r.Close()
		opened = append(opened, r)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range opened {
		wg.Go(func() {
			<-start
			buf := make([]byte, cs/3+1)
			var pos int
			for {
				n, err := r.Read(buf)
				if !bytes.Equal(buf[:n], b[pos:pos+n]) {
					t.Errorf("reader %d: %d bytes at %d differ from the blob", i, n, pos)
					return
				}
				pos += n
				if err == io.EOF {
					if pos != len(b) {
						t.Errorf("reader %d: EOF at %d of %d", i, pos, len(b))
					}
					return
				}
				if err != nil {
					return // the blob went away under the reader: allowed
				}
			}
		})
	}
	wg.Go(func() {
		<-start
		if err := s.DeleteBlob(ctx, "npm", sha); err != nil {
			t.Errorf("DeleteBlob: %v", err)
		}
	})
	close(start)
	wg.Wait()
	checkNoBlob(t, s, "npm", b)
	writeBlob(t, s, "npm", b)
	checkBlob(t, s, "npm", b)
}
