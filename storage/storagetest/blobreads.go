package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
)

func runBlobReads(t *testing.T, h *harness) {
	t.Run("seek", func(t *testing.T) { testSeek(t, h) })
	t.Run("serve-content", func(t *testing.T) { testServeContent(t, h) })
	t.Run("independent-readers", func(t *testing.T) { testIndependentReaders(t, h) })
	t.Run("read-after-close", func(t *testing.T) { testReadAfterClose(t, h) })
}

// openBlob writes b and opens it; the blob is closed when t ends.
func openBlob(t *testing.T, s storage.Store, b []byte) storage.Blob {
	t.Helper()
	sha := writeBlob(t, s, "npm", b).SHA256
	r, err := s.OpenBlob(context.Background(), "npm", sha)
	if err != nil {
		t.Fatalf("OpenBlob: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func testSeek(t *testing.T, h *harness) {
	s := h.store(t)
	cs := int64(chunkSize(s))
	size := 3*cs + 17
	b := data(int(size), 20)
	r := openBlob(t, s, b)
	tests := []struct {
		name    string
		from    int64 // position before the seek
		offset  int64
		whence  int
		wantPos int64
		n       int64 // bytes to read after seeking
	}{
		{"start", 5, 0, io.SeekStart, 0, 10},
		{"across-first-boundary", 0, cs - 1, io.SeekStart, cs - 1, 2},
		{"at-boundary", 0, cs, io.SeekStart, cs, cs},
		{"after-boundary", 0, cs + 1, io.SeekStart, cs + 1, 5},
		{"across-two-boundaries", 0, cs - 3, io.SeekStart, cs - 3, cs + 6},
		{"current-forward", cs - 1, 7, io.SeekCurrent, cs + 6, 3},
		{"current-backward", 2*cs + 1, -2 * cs, io.SeekCurrent, 1, 4},
		{"current-zero", cs, 0, io.SeekCurrent, cs, 1},
		{"end-relative", 0, -cs, io.SeekEnd, size - cs, cs},
		{"last-byte", 0, -1, io.SeekEnd, size - 1, 1},
		{"end", 0, 0, io.SeekEnd, size, 0},
		{"past-end", 0, 10, io.SeekEnd, size + 10, 0},
		{"whole", size, 0, io.SeekStart, 0, size},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := r.Seek(tt.from, io.SeekStart); err != nil {
				t.Fatalf("Seek(%d, io.SeekStart): %v", tt.from, err)
			}
			pos, err := r.Seek(tt.offset, tt.whence)
			if err != nil {
				t.Fatalf("Seek(%d, %d): %v", tt.offset, tt.whence, err)
			}
			if pos != tt.wantPos {
				t.Fatalf("Seek(%d, %d) = %d, want %d", tt.offset, tt.whence, pos, tt.wantPos)
			}
			got := make([]byte, tt.n)
			if _, err := io.ReadFull(r, got); err != nil {
				t.Fatalf("reading %d bytes at %d: %v", tt.n, pos, err)
			}
			if tt.n > 0 && !bytes.Equal(got, b[pos:pos+tt.n]) {
				t.Fatalf("%d bytes at %d differ from what was written", tt.n, pos)
			}
			if pos+tt.n >= size {
				if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
					t.Fatalf("Read at the end = %d, %v; want 0, io.EOF", n, err)
				}
			}
		})
	}
	t.Run("negative", func(t *testing.T) {
		if _, err := r.Seek(-1, io.SeekStart); err == nil {
			t.Fatal("Seek to -1 succeeded")
		}
		if _, err := r.Seek(-size-1, io.SeekEnd); err == nil {
			t.Fatal("Seek before the start from the end succeeded")
		}
	})
}

func testServeContent(t *testing.T, h *harness) {
	s := h.store(t)
	cs := chunkSize(s)
	size := 2*cs + 100
	b := data(size, 21)
	r := openBlob(t, s, b)
	tests := []struct {
		name       string
		rangeHdr   string
		wantStatus int
		want       []byte
	}{
		{"whole", "", http.StatusOK, b},
		{"across-boundary", fmt.Sprintf("bytes=%d-%d", cs-2, cs+1), http.StatusPartialContent, b[cs-2 : cs+2]},
		{"suffix", "bytes=-50", http.StatusPartialContent, b[size-50:]},
		{"open-ended", fmt.Sprintf("bytes=%d-", 2*cs), http.StatusPartialContent, b[2*cs:]},
		{"unsatisfiable", fmt.Sprintf("bytes=%d-", size+1), http.StatusRequestedRangeNotSatisfiable, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/blob", nil)
			if tt.rangeHdr != "" {
				req.Header.Set("Range", tt.rangeHdr)
			}
			rec := httptest.NewRecorder()
			http.ServeContent(rec, req, "blob", time.Time{}, r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.want != nil && !bytes.Equal(rec.Body.Bytes(), tt.want) {
				t.Fatalf("body of %d bytes differs from the %d expected", rec.Body.Len(), len(tt.want))
			}
		})
	}
}

func testIndependentReaders(t *testing.T, h *harness) {
	s := h.store(t)
	cs := chunkSize(s)
	b := data(2*cs+1, 22)
	r1 := openBlob(t, s, b)
	r2, err := s.OpenBlob(context.Background(), "npm", sumsOf(b).SHA256)
	if err != nil {
		t.Fatalf("OpenBlob: %v", err)
	}
	defer r2.Close()
	if _, err := r1.Seek(int64(cs), io.SeekStart); err != nil {
		t.Fatalf("Seek: %v", err)
	}
	got1, got2 := make([]byte, 10), make([]byte, 10)
	if _, err := io.ReadFull(r1, got1); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r2, got2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got1, b[cs:cs+10]) || !bytes.Equal(got2, b[:10]) {
		t.Fatal("two readers of one blob do not keep their own positions")
	}
}

func testReadAfterClose(t *testing.T, h *harness) {
	s := h.store(t)
	b := data(100, 23)
	r := openBlob(t, s, b)
	if _, err := r.Read(make([]byte, 10)); err != nil {
		t.Fatalf("Read: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	n, err := r.Read(make([]byte, 10))
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("Read after Close = %d, %v; want an error", n, err)
	}
}
