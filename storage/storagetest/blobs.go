package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/storage"
)

func runBlobs(t *testing.T, h *harness) {
	t.Run("not-found", func(t *testing.T) { testBlobNotFound(t, h) })
	t.Run("round-trip", func(t *testing.T) { testBlobRoundTrip(t, h) })
	t.Run("verify-rejected", func(t *testing.T) { testVerifyRejected(t, h) })
	t.Run("reader-error", func(t *testing.T) { testReaderError(t, h) })
	t.Run("context-canceled", func(t *testing.T) { testContextCanceled(t, h) })
	t.Run("dedupe", func(t *testing.T) { testDedupe(t, h) })
	t.Run("domains-independent", func(t *testing.T) { testDomainsIndependent(t, h) })
	t.Run("delete", func(t *testing.T) { testDeleteBlob(t, h) })
	t.Run("list", func(t *testing.T) { testListBlobs(t, h) })
}

func testListBlobs(t *testing.T, h *harness) {
	s := h.store(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	a := writeBlob(t, s, "acme", []byte("first blob"))
	b := writeBlob(t, s, "acme", []byte("second blob"))
	writeBlob(t, s, "acme2", []byte("another domain's blob"))
	var got []string
	err := s.ListBlobs(ctx, "acme", func(bi storage.BlobInfo) error {
		if bi.Touched.Before(before) || bi.Touched.After(time.Now().Add(time.Second)) {
			t.Errorf("blob %s touched at %v", bi.SHA256, bi.Touched)
		}
		got = append(got, bi.SHA256)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{a.SHA256, b.SHA256}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ListBlobs (-want +got):\n%s", diff)
	}
	if err := s.DeleteBlob(ctx, "acme", a.SHA256); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n := 0
	err = s.ListBlobs(ctx, "acme", func(storage.BlobInfo) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("ListBlobs after a delete: %d blobs, %v", n, err)
	}
}

func testBlobNotFound(t *testing.T, h *harness) {
	s := h.store(t)
	absent := []byte("never written")
	checkNoBlob(t, s, "npm", absent)
	if err := s.DeleteBlob(context.Background(), "npm", sumsOf(absent).SHA256); err != nil {
		t.Fatalf("DeleteBlob of an absent blob: %v", err)
	}
}

// blobSizes are the sizes worth testing for a chunk size.
func blobSizes(cs int) []struct {
	name string
	size int
} {
	return []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one-byte", 1},
		{"chunk-1", cs - 1},
		{"chunk", cs},
		{"chunk+1", cs + 1},
		{"several-chunks", 5*cs + 123},
		{"3MiB", 3 << 20},
	}
}

func testBlobRoundTrip(t *testing.T, h *harness) {
	s := h.store(t)
	for i, tt := range blobSizes(chunkSize(s)) {
		t.Run(tt.name, func(t *testing.T) {
			b := data(tt.size, uint64(i))
			want := sumsOf(b)
			var verified storage.Sums
			got, err := s.WriteBlob(context.Background(), "maven", bytes.NewReader(b), func(sums storage.Sums) error {
				verified = sums
				return nil
			})
			if err != nil {
				t.Fatalf("WriteBlob: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("WriteBlob sums (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, verified); diff != "" {
				t.Errorf("sums given to verify (-want +got):\n%s", diff)
			}
			checkBlob(t, s, "maven", b)
			r, err := s.OpenBlob(context.Background(), "maven", want.SHA256)
			if err != nil {
				t.Fatalf("OpenBlob: %v", err)
			}
			defer r.Close()
			if diff := cmp.Diff(want, r.Sums()); diff != "" {
				t.Errorf("Blob.Sums (-want +got):\n%s", diff)
			}
		})
	}
}

func testVerifyRejected(t *testing.T, h *harness) {
	s := h.store(t)
	b := data(3*chunkSize(s)+5, 7)
	rejected := errors.New("checksum mismatch")
	_, err := s.WriteBlob(context.Background(), "pypi", bytes.NewReader(b), func(storage.Sums) error { return rejected })
	if !errors.Is(err, rejected) {
		t.Fatalf("WriteBlob with a rejecting verify = %v, want an error wrapping %v", err, rejected)
	}
	checkNoBlob(t, s, "pypi", b)
	writeBlob(t, s, "pypi", b)
	checkBlob(t, s, "pypi", b)
}

// failingReader yields its bytes, then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func testReaderError(t *testing.T, h *harness) {
	s := h.store(t)
	cs := chunkSize(s)
	b := data(4*cs, 8)
	broken := errors.New("connection reset")
	tests := []struct {
		name string
		at   int
	}{
		{"at-start", 0},
		{"mid-chunk", cs / 2},
		{"at-boundary", 2 * cs},
		{"after-several-chunks", 3*cs + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &failingReader{r: bytes.NewReader(b[:tt.at]), err: broken}
			_, err := s.WriteBlob(context.Background(), "npm", r, accept)
			if !errors.Is(err, broken) {
				t.Fatalf("WriteBlob = %v, want an error wrapping %v", err, broken)
			}
			checkNoBlob(t, s, "npm", b[:tt.at])
			checkNoBlob(t, s, "npm", b)
		})
	}
	writeBlob(t, s, "npm", b)
	checkBlob(t, s, "npm", b)
}

// cancelingReader cancels its context once it has yielded after bytes.
type cancelingReader struct {
	r      io.Reader
	n      int
	after  int
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if c.n >= c.after {
		c.cancel()
	}
	return n, err
}

func testContextCanceled(t *testing.T, h *harness) {
	s := h.store(t)
	cs := chunkSize(s)
	b := data(6*cs, 9)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &cancelingReader{r: bytes.NewReader(b), after: 2 * cs, cancel: cancel}
	_, err := s.WriteBlob(ctx, "npm", r, accept)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteBlob with a context canceled mid-stream = %v, want context.Canceled", err)
	}
	checkNoBlob(t, s, "npm", b)
	writeBlob(t, s, "npm", b)
	checkBlob(t, s, "npm", b)
}

func testDedupe(t *testing.T, h *harness) {
	s := h.store(t)
	b := data(2*chunkSize(s)+1, 10)
	first := writeBlob(t, s, "go", b)
	second := writeBlob(t, s, "go", b)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Fatalf("second write of the same bytes (-first +second):\n%s", diff)
	}
	checkBlob(t, s, "go", b)
	if err := s.DeleteBlob(context.Background(), "go", first.SHA256); err != nil {
		t.Fatalf("DeleteBlob: %v", err)
	}
	checkNoBlob(t, s, "go", b)
}

func testDomainsIndependent(t *testing.T, h *harness) {
	s := h.store(t)
	ctx := context.Background()
	b := data(chunkSize(s)+3, 11)
	writeBlob(t, s, "alpha", b)
	checkNoBlob(t, s, "beta", b)
	checkNoBlob(t, s, "alph", b)
	writeBlob(t, s, "beta", b)
	if err := s.DeleteBlob(ctx, "alpha", sumsOf(b).SHA256); err != nil {
		t.Fatalf("DeleteBlob(alpha): %v", err)
	}
	checkNoBlob(t, s, "alpha", b)
	checkBlob(t, s, "beta", b)
}

func testDeleteBlob(t *testing.T, h *harness) {
	s := h.store(t)
	ctx := context.Background()
	b := data(3*chunkSize(s)/2, 12)
	other := data(100, 13)
	sha := writeBlob(t, s, "npm", b).SHA256
	writeBlob(t, s, "npm", other)
	tests := []struct {
		name string
	}{{"present"}, {"already-deleted"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.DeleteBlob(ctx, "npm", sha); err != nil {
				t.Fatalf("DeleteBlob: %v", err)
			}
			checkNoBlob(t, s, "npm", b)
			checkBlob(t, s, "npm", other)
		})
	}
	writeBlob(t, s, "npm", b)
	checkBlob(t, s, "npm", b)
}
