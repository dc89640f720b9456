package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/postgres"
	"github.com/stockpile-proxy/stockpile/storage/s3"
)

const testPart = 5 << 20 // S3's smallest part

// partsReplicas opens two stores on one new database and one new prefix of
// a bucket whose part size is testPart, each with its own cache, as two
// replicas are.
func partsReplicas(t *testing.T) (a, b *postgres.Store, objects *s3.Client) {
	t.Helper()
	dsn := engines.Postgres(t).NewDatabase(t)
	bucket := engines.S3(t).NewBucket(t)
	bucket.Prefix = fmt.Sprintf("parts%d/", stores.Add(1))
	bucket.PartSize = testPart
	objects, err := s3.New(bucket, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	open := func() *postgres.Store {
		s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, Objects: objects, CacheDir: t.TempDir(), CacheSize: 1 << 30}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open(), objects
}

func randomBytes(seed byte, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func shaOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// partsOnServer waits (bounded) until the object store holds one upload
// under c's prefix with want parts, and returns its key.
func partsOnServer(t *testing.T, c *s3.Client, want int) string {
	t.Helper()
	ctx := context.Background()
	got, key := 0, ""
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) { // SeaweedFS announces nothing to wait on
		var ups []s3.Upload
		if err := c.ListUploads(ctx, "", func(u s3.Upload) error { ups = append(ups, u); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(ups) > 1 {
			t.Fatalf("%d uploads in progress, want 1", len(ups))
		}
		if len(ups) == 1 {
			n, err := c.ListParts(ctx, ups[0].Key, ups[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if got, key = n, ups[0].Key; got == want {
				return key
			}
		}
	}
	t.Fatalf("the object store holds %d parts of the blob being written (upload %q), want %d", got, key, want)
	return ""
}

// assertEmpty checks that nothing of a blob is left: no object, no upload,
// no row, no upload to discard.
func assertEmpty(t *testing.T, s *postgres.Store, c *s3.Client, domain string) {
	t.Helper()
	if u, o := countUploads(t, c), countObjects(t, c); u != 0 || o != 0 {
		t.Errorf("%d uploads and %d objects left in the bucket, want none", u, o)
	}
	n := 0
	if err := s.ListBlobs(context.Background(), domain, func(storage.BlobInfo) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("ListBlobs: %d blobs, %v; want none", n, err)
	}
	if n, err := s.RemoveAbandonedUploads(context.Background(), 0); err != nil || n != 0 {
		t.Errorf("RemoveAbandonedUploads = %d, %v; want nothing left to discard", n, err)
	}
}

// TestPartsSentWhileStreaming writes a blob of four parts through a pipe
// that stops after 17 MiB: the first three parts are in the object store
// while the stream is still open and the blob is not visible; once the
// stream ends the blob is readable from another replica, from an object
// of its own key, and nothing else is left.
func TestPartsSentWhileStreaming(t *testing.T) {
	a, b, objects := partsReplicas(t)
	ctx := context.Background()
	body := randomBytes(1, 4*testPart)
	sha := shaOf(body)
	pr, pw := io.Pipe()
	type result struct {
		sums storage.Sums
		err  error
	}
	done := make(chan result, 1)
	go func() {
		sums, err := a.WriteBlob(ctx, "npm", pr, nil)
		done <- result{sums, err}
	}()
	const first = 3*testPart + 2<<20
	if _, err := pw.Write(body[:first]); err != nil {
		t.Fatal(err)
	}
	key := partsOnServer(t, objects, 3)
	if !strings.HasPrefix(key, "blobs/npm/upload-") {
		t.Errorf("the upload's key is %q, want one under blobs/npm/upload-", key)
	}
	if _, err := b.StatBlob(ctx, "npm", sha); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("StatBlob while the stream is open = %v, want ErrNotFound", err)
	}
	if n := countObjects(t, objects); n != 0 {
		t.Fatalf("%d objects while the stream is open, want none", n)
	}
	if _, err := pw.Write(body[first:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-done
	if r.err != nil || r.sums.SHA256 != sha || r.sums.Size != int64(len(body)) {
		t.Fatalf("WriteBlob = %+v, %v", r.sums, r.err)
	}
	blob, err := b.OpenBlob(ctx, "npm", sha)
	if err != nil {
		t.Fatalf("OpenBlob on the other replica: %v", err)
	}
	got, err := io.ReadAll(blob)
	blob.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("the other replica read %d bytes (%v), want the %d written", len(got), err, len(body))
	}
	var keys []string
	if err := objects.List(ctx, "", func(o s3.Object) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != key {
		t.Errorf("objects %q, want only the upload's %q", keys, key)
	}
	if n := countUploads(t, objects); n != 0 {
		t.Errorf("%d uploads left in progress", n)
	}
	if n, err := a.RemoveAbandonedUploads(ctx, 0); err != nil || n != 0 {
		t.Errorf("RemoveAbandonedUploads = %d, %v; want nothing to discard", n, err)
	}
	if err := a.DeleteBlob(ctx, "npm", sha); err != nil {
		t.Fatal(err)
	}
	if n := countObjects(t, objects); n != 0 {
		t.Errorf("DeleteBlob left %d objects", n)
	}
}

// TestPartsDiscarded: a blob uploaded in parts that is refused by verify,
// whose context is canceled while it streams, or that RemoveAbandonedUploads
// took as abandoned before it ended, fails and leaves nothing: no object,
// no upload, no row. The same bytes written again afterwards are stored.
func TestPartsDiscarded(t *testing.T) {
	refused := errors.New("refused")
	tests := []struct {
		name string
		// during runs while the stream is open, after two parts are in.
		during func(t *testing.T, s *postgres.Store, cancel context.CancelFunc)
		verify func(storage.Sums) error
		want   error
	}{
		{"refused by verify", nil, func(storage.Sums) error { return refused }, refused},
		{"canceled while streaming", func(_ *testing.T, _ *postgres.Store, cancel context.CancelFunc) { cancel() }, nil, context.Canceled},
		{"discarded as abandoned", func(t *testing.T, s *postgres.Store, _ context.CancelFunc) {
			if n, err := s.RemoveAbandonedUploads(context.Background(), 0); err != nil || n != 1 {
				t.Errorf("RemoveAbandonedUploads = %d, %v; want 1", n, err)
			}
		}, nil, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, objects := partsReplicas(t)
			body := randomBytes(byte(10+i), 3*testPart+1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pr, pw := io.Pipe()
			errc := make(chan error, 1)
			go func() {
				_, err := s.WriteBlob(ctx, "npm", pr, tt.verify)
				errc <- err
			}()
			if _, err := pw.Write(body[:2*testPart+1<<20]); err != nil {
				t.Fatal(err)
			}
			partsOnServer(t, objects, 2)
			if tt.during != nil {
				tt.during(t, s, cancel)
			}
			// The writer may have stopped reading (canceled): the rest is
			// best effort.
			go func() { pw.Write(body[2*testPart+1<<20:]); pw.Close() }()
			err := <-errc
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("WriteBlob = %v, want an error wrapping %v", err, tt.want)
			}
			pr.CloseWithError(errors.New("test over"))
			if _, err := s.StatBlob(context.Background(), "npm", shaOf(body)); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("StatBlob = %v, want ErrNotFound", err)
			}
			assertEmpty(t, s, objects, "npm")
			sums, err := s.WriteBlob(context.Background(), "npm", bytes.NewReader(body), nil)
			if err != nil || sums.SHA256 != shaOf(body) {
				t.Fatalf("WriteBlob of the same bytes again = %v, %v", sums.SHA256, err)
			}
		})
	}
}

// TestPartsDeduplicated: a blob written in parts that another replica has
// stored meanwhile is not stored twice: the second upload is discarded,
// its writer gets the stored sums, and one object is left.
func TestPartsDeduplicated(t *testing.T) {
	a, b, objects := partsReplicas(t)
	ctx := context.Background()
	body := randomBytes(3, 2*testPart+123)
	first, err := a.WriteBlob(ctx, "npm", bytes.NewReader(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.WriteBlob(ctx, "npm", bytes.NewReader(body), nil)
	if err != nil || second != first {
		t.Fatalf("the second WriteBlob = %+v, %v; want %+v", second, err, first)
	}
	if u, o := countUploads(t, objects), countObjects(t, objects); u != 0 || o != 1 {
		t.Errorf("%d uploads and %d objects in the bucket, want 0 and 1", u, o)
	}
	if n, err := b.RemoveAbandonedUploads(ctx, 0); err != nil || n != 0 {
		t.Errorf("RemoveAbandonedUploads = %d, %v; want nothing to discard", n, err)
	}
	for _, s := range []*postgres.Store{a, b} {
		blob, err := s.OpenBlob(ctx, "npm", first.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(blob)
		blob.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("read back %d bytes, %v", len(got), err)
		}
	}
}

// failingUploads keeps objects in memory and uploads them in parts, failing
// part fail; it counts the parts sent and the objects discarded, and
// signals each discard on discards when that is set.
type failingUploads struct {
	memObjects
	fail      int32
	sent      atomic.Int32
	discarded atomic.Int32
	discards  chan struct{}
}

func (o *failingUploads) PartSize() int64 { return testPart }
func (o *failingUploads) CreateUpload(context.Context, string) (string, error) {
	return "id", nil
}
func (o *failingUploads) UploadPart(ctx context.Context, key, id string, n int32, r *io.SectionReader) (string, error) {
	if n == o.fail {
		return "", errors.New("part refused")
	}
	o.sent.Add(1)
	return fmt.Sprint(n), nil
}
func (o *failingUploads) CompleteUpload(ctx context.Context, key, id string, etags []string) error {
	return errors.New("CompleteUpload after a failed part")
}
func (o *failingUploads) Discard(ctx context.Context, key string) error {
	o.discarded.Add(1)
	err := o.Delete(ctx, key)
	if o.discards != nil {
		select {
		case o.discards <- struct{}{}:
		default: // one signal is enough
		}
	}
	return err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestPartFailsMidStream: when a part cannot be sent, WriteBlob still reads
// its reader to the end (a client reading the same stream through a tee is
// not cut), then fails, stores nothing and discards the upload.
func TestPartFailsMidStream(t *testing.T) {
	objects := &failingUploads{memObjects: memObjects{m: map[string][]byte{}}, fail: 2}
	s, err := postgres.Open(context.Background(), postgres.Options{
		DSN: engines.Postgres(t).NewDatabase(t), Objects: objects, CacheDir: t.TempDir(), CacheSize: 1 << 30,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := randomBytes(4, 6*testPart)
	r := &countingReader{r: bytes.NewReader(body)}
	if _, err := s.WriteBlob(context.Background(), "npm", r, nil); err == nil || !strings.Contains(err.Error(), "part refused") {
		t.Fatalf("WriteBlob = %v, want the part's failure", err)
	}
	if r.n != int64(len(body)) {
		t.Errorf("WriteBlob read %d of the reader's %d bytes", r.n, len(body))
	}
	if _, err := s.StatBlob(context.Background(), "npm", shaOf(body)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("StatBlob = %v, want ErrNotFound", err)
	}
	if n := objects.discarded.Load(); n != 1 {
		t.Errorf("the upload was discarded %d times, want once", n)
	}
	if n, err := s.RemoveAbandonedUploads(context.Background(), 0); err != nil || n != 0 {
		t.Errorf("RemoveAbandonedUploads = %d, %v; want nothing left to discard", n, err)
	}
}

// jobUploads is failingUploads with nothing failing, for the
// abandoned-upload job (which runs only with an object store that aborts
// uploads).
type jobUploads struct{ failingUploads }

func (o *jobUploads) AbortUploads(context.Context, time.Time) (int, error) { return 0, nil }

// TestAbandonedUploadsJobDiscards: the abandoned-upload job discards a
// blob's upload older than AbandonedUploadAge, and its writer, still at
// work past that age, then fails without storing the blob.
func TestAbandonedUploadsJobDiscards(t *testing.T) {
	objects := &jobUploads{failingUploads{memObjects: memObjects{m: map[string][]byte{}}, discards: make(chan struct{}, 1)}}
	s, err := postgres.Open(context.Background(), postgres.Options{
		DSN: engines.Postgres(t).NewDatabase(t), Objects: objects, CacheDir: t.TempDir(), CacheSize: 1 << 30,
		AbandonedUploadAge: 20 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := randomBytes(5, 3*testPart)
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := s.WriteBlob(context.Background(), "npm", pr, nil)
		errc <- err
	}()
	if _, err := pw.Write(body[:2*testPart+1<<20]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-objects.discards:
	case <-time.After(30 * time.Second):
		pw.CloseWithError(errors.New("test over"))
		t.Fatalf("the job discarded nothing in 30 s (%d parts sent)", objects.sent.Load())
	}
	pw.Write(body[2*testPart+1<<20:])
	pw.Close()
	if err := <-errc; err == nil {
		t.Fatal("WriteBlob succeeded after its upload was discarded")
	}
	if _, err := s.StatBlob(context.Background(), "npm", shaOf(body)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("StatBlob = %v, want ErrNotFound", err)
	}
}
