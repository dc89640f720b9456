package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/postgres"
	"github.com/stockpile-proxy/stockpile/storage/s3"
)

// The crash test runs its writer in a child process (this test binary, in
// TestCrashHelper) and kills it with SIGKILL at a chosen step of WriteBlob.
const (
	crashModeEnv   = "PGSTORE_CRASH_MODE" // see crashModes
	crashDSNEnv    = "PGSTORE_CRASH_DSN"
	crashBucketEnv = "PGSTORE_CRASH_BUCKET" // endpoint|bucket|prefix|key|secret
	crashCacheEnv  = "PGSTORE_CRASH_CACHE"

	crashSize  = 40 << 20 // above the part size: uploaded in parts as it is written
	crashSmall = 1 << 20  // below it: one PutObject after the spool
	crashSeed  = 7
	crashAfter = 20 << 20 // bytes read before mid-spool stalls
)

// crashModes are the steps of WriteBlob where the child is killed, with
// the size of the blob it writes and how many uploads it leaves for
// RemoveAbandonedUploads.
var crashModes = []struct {
	name          string
	size          int64
	abandoned     int
	uploadsLeft   int // multipart uploads in progress after the kill
	orphanObjects int // objects no row names after the kill
}{
	{"mid-spool", crashSize, 1, 1, 0},    // two parts sent, the stream not over
	{"mid-upload", crashSize, 1, 1, 0},   // while sending the second part
	{"after-object", crashSize, 1, 0, 1}, // upload complete, the blob's row not committed
	{"after-put", crashSmall, 0, 0, 1},   // a small blob's object put, its row not committed
}

func crashData(size int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{crashSeed}), size)
}

// stall signals the parent (a line on stdout) and waits to be killed.
func stall() {
	os.Stdout.WriteString("STALLED\n")
	time.Sleep(time.Minute) // a child process: the parent kills it now
	os.Exit(3)
}

// stallingReader yields r and, once after bytes have been read and parts
// parts are in the object store, stalls.
type stallingReader struct {
	r     io.Reader
	n     int64
	after int64
	sent  *partsSent
	parts int
}

func (s *stallingReader) Read(p []byte) (int, error) {
	if s.n >= s.after {
		s.sent.waitFor(s.parts)
		stall()
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	return n, err
}

// partsSent counts the parts the child has sent and wakes who waits for a
// count.
type partsSent struct {
	mu      sync.Mutex
	n       int
	changed chan struct{} // closed, and replaced, at each part sent
}

func newPartsSent() *partsSent { return &partsSent{changed: make(chan struct{})} }

func (p *partsSent) add() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	close(p.changed)
	p.changed = make(chan struct{})
}

// waitFor waits until want parts are sent; when they are not in 30 s, the
// child says so and exits without stalling, which fails the parent.
func (p *partsSent) waitFor(want int) {
	deadline := time.After(30 * time.Second)
	for {
		p.mu.Lock()
		n, changed := p.n, p.changed
		p.mu.Unlock()
		if n >= want {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			fmt.Fprintf(os.Stderr, "%d parts sent in 30 s, want %d\n", n, want)
			os.Exit(4)
		}
	}
}

// stallingObjects counts the parts sent and stalls while sending the
// second part once the first is in (mid-upload), or right after the object
// is complete (after-object, after-put).
type stallingObjects struct {
	*s3.Client
	mode string
	sent *partsSent
}

func (o stallingObjects) UploadPart(ctx context.Context, key, id string, n int32, r *io.SectionReader) (string, error) {
	if o.mode == "mid-upload" && n == 2 {
		o.sent.waitFor(1)
		stall()
	}
	etag, err := o.Client.UploadPart(ctx, key, id, n, r)
	if err == nil {
		o.sent.add()
	}
	return etag, err
}

func (o stallingObjects) CompleteUpload(ctx context.Context, key, id string, etags []string) error {
	err := o.Client.CompleteUpload(ctx, key, id, etags)
	if err == nil && o.mode == "after-object" {
		stall()
	}
	return err
}

func (o stallingObjects) Put(ctx context.Context, key string, r io.ReaderAt, size int64) error {
	err := o.Client.Put(ctx, key, r, size)
	if err == nil && o.mode == "after-put" {
		stall()
	}
	return err
}

func crashModeSize(name string) int64 {
	for _, m := range crashModes {
		if m.name == name {
			return m.size
		}
	}
	return 0
}

func crashOptions(b s3.Options) string {
	return strings.Join([]string{b.Endpoint, b.Bucket, b.Prefix, b.AccessKeyID, b.SecretAccessKey}, "|")
}

func crashBucket(v string) s3.Options {
	f := strings.Split(v, "|")
	return s3.Options{Endpoint: f[0], Bucket: f[1], Prefix: f[2], AccessKeyID: f[3], SecretAccessKey: f[4], PathStyle: true, Region: "us-east-1", PartSize: 8 << 20}
}

// TestCrashHelper is the child process of TestCrash; it skips unless run as
// one.
func TestCrashHelper(t *testing.T) {
	mode := os.Getenv(crashModeEnv)
	if mode == "" {
		t.Skip("helper process of TestCrash")
	}
	client, err := s3.New(crashBucket(os.Getenv(crashBucketEnv)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sent := newPartsSent()
	s, err := postgres.Open(context.Background(), postgres.Options{
		DSN: os.Getenv(crashDSNEnv), Objects: stallingObjects{client, mode, sent},
		CacheDir: os.Getenv(crashCacheEnv), CacheSize: 1 << 30,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = crashData(crashModeSize(mode))
	if mode == "mid-spool" {
		r = &stallingReader{r: r, after: crashAfter, sent: sent, parts: 2}
	}
	_, err = s.WriteBlob(context.Background(), "npm", r, nil)
	t.Fatalf("WriteBlob returned (%v) instead of stalling", err)
}

// TestCrash kills a writer at each step of WriteBlob and checks that the
// blob is absent, that the cache holds no leftover, that
// RemoveAbandonedUploads removes what the writer left in the object store
// (an upload in progress or an object no row names), and that writing the
// same bytes again succeeds and reads back whole.
func TestCrash(t *testing.T) {
	pg, weed := engines.Postgres(t), engines.S3(t)
	bucket := weed.NewBucket(t)
	for _, cm := range crashModes {
		mode := cm.name
		t.Run(mode, func(t *testing.T) {
			h := sha256.New()
			if _, err := io.Copy(h, crashData(cm.size)); err != nil {
				t.Fatal(err)
			}
			sha := hex.EncodeToString(h.Sum(nil))
			dsn, cache := pg.NewDatabase(t), t.TempDir()
			b := bucket
			b.Prefix = mode + "/"
			b.PartSize = 8 << 20
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashModeEnv+"="+mode, crashDSNEnv+"="+dsn,
				crashBucketEnv+"="+crashOptions(b), crashCacheEnv+"="+cache)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line := make([]byte, 8)
			if _, err := io.ReadFull(out, line); err != nil || string(line) != "STALLED\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child did not stall: %q, %v", line, err)
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()

			client, err := s3.New(b, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, Objects: client, CacheDir: cache, CacheSize: 1 << 30}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			if _, err := s.StatBlob(ctx, "npm", sha); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("StatBlob after the crash = %v, want ErrNotFound", err)
			}
			if _, err := s.OpenBlob(ctx, "npm", sha); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("OpenBlob after the crash = %v, want ErrNotFound", err)
			}
			n := 0
			if err := s.ListBlobs(ctx, "npm", func(storage.BlobInfo) error { n++; return nil }); err != nil || n != 0 {
				t.Fatalf("ListBlobs after the crash: %d blobs, %v", n, err)
			}
			if left, _ := os.ReadDir(filepath.Join(cache, "tmp")); len(left) != 0 {
				t.Fatalf("the cache's tmp directory holds %d files after reopening", len(left))
			}
			if u, o := countUploads(t, client), countObjects(t, client); u != cm.uploadsLeft || o != cm.orphanObjects {
				t.Fatalf("after the kill: %d uploads and %d objects in the bucket, want %d and %d", u, o, cm.uploadsLeft, cm.orphanObjects)
			}
			if n, err := s.RemoveAbandonedUploads(ctx, 0); err != nil || n != cm.abandoned {
				t.Fatalf("RemoveAbandonedUploads = %d, %v; want %d", n, err, cm.abandoned)
			}
			if u, o := countUploads(t, client), countObjects(t, client); u != 0 || o != max(cm.orphanObjects-cm.abandoned, 0) {
				t.Fatalf("after RemoveAbandonedUploads: %d uploads and %d objects in the bucket, want 0 and %d", u, o, max(cm.orphanObjects-cm.abandoned, 0))
			}
			sums, err := s.WriteBlob(ctx, "npm", crashData(cm.size), nil)
			if err != nil || sums.SHA256 != sha {
				t.Fatalf("WriteBlob of the same bytes after the crash = %v, %v", sums.SHA256, err)
			}
			r, err := s.OpenBlob(ctx, "npm", sha)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			h = sha256.New()
			if n, err := io.Copy(h, r); err != nil || n != cm.size || hex.EncodeToString(h.Sum(nil)) != sha {
				t.Fatalf("reading the blob back: %d bytes, %v", n, err)
			}
			if u, o := countUploads(t, client), countObjects(t, client); u != 0 || o != 1 {
				t.Fatalf("after writing the blob again: %d uploads and %d objects in the bucket, want 0 and 1", u, o)
			}
		})
	}
}

// countUploads counts the multipart uploads in progress under c's prefix.
func countUploads(t *testing.T, c *s3.Client) int {
	t.Helper()
	n := 0
	if err := c.ListUploads(context.Background(), "", func(s3.Upload) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// countObjects counts the objects under c's prefix.
func countObjects(t *testing.T, c *s3.Client) int {
	t.Helper()
	n := 0
	if err := c.List(context.Background(), "", func(s3.Object) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
