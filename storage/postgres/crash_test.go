package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	crashModeEnv   = "PGSTORE_CRASH_MODE" // mid-spool, mid-upload or after-object
	crashDSNEnv    = "PGSTORE_CRASH_DSN"
	crashBucketEnv = "PGSTORE_CRASH_BUCKET" // endpoint|bucket|prefix|key|secret
	crashCacheEnv  = "PGSTORE_CRASH_CACHE"

	crashSize  = 40 << 20 // above the part size: a multipart upload
	crashSeed  = 7
	crashAfter = 6 << 20 // bytes before the child signals
)

func crashData() io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{crashSeed}), crashSize)
}

// stall signals the parent (a line on stdout) and waits to be killed.
func stall() {
	os.Stdout.WriteString("STALLED\n")
	time.Sleep(time.Minute)
	os.Exit(3)
}

// stallingReader yields r and stalls once after bytes have been read.
type stallingReader struct {
	r     io.Reader
	n     int64
	after int64
}

func (s *stallingReader) Read(p []byte) (int, error) {
	if s.n >= s.after {
		stall()
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	return n, err
}

// stallingObjects stalls an upload part-way through (mid-upload) or right
// after the object is complete (after-object).
type stallingObjects struct {
	*s3.Client
	mode string
}

type stallingReaderAt struct {
	r io.ReaderAt
}

func (s *stallingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= crashAfter*2 { // the first part went up; stall in the second
		stall()
	}
	return s.r.ReadAt(p, off)
}

func (o stallingObjects) Put(ctx context.Context, key string, r io.ReaderAt, size int64) error {
	if o.mode == "mid-upload" {
		return o.Client.Put(ctx, key, &stallingReaderAt{r: r}, size)
	}
	err := o.Client.Put(ctx, key, r, size)
	if err == nil && o.mode == "after-object" {
		stall()
	}
	return err
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
	s, err := postgres.Open(context.Background(), postgres.Options{
		DSN: os.Getenv(crashDSNEnv), Objects: stallingObjects{client, mode},
		CacheDir: os.Getenv(crashCacheEnv), CacheSize: 1 << 30,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = crashData()
	if mode == "mid-spool" {
		r = &stallingReader{r: r, after: crashAfter}
	}
	_, err = s.WriteBlob(context.Background(), "npm", r, nil)
	t.Fatalf("WriteBlob returned (%v) instead of stalling", err)
}

// TestCrash kills a writer at each step of WriteBlob and checks that the
// blob is absent, that the cache holds no leftover, and that writing the
// same bytes again succeeds and reads back whole.
func TestCrash(t *testing.T) {
	pg, weed := engines.Postgres(t), engines.S3(t)
	bucket := weed.NewBucket(t)
	h := sha256.New()
	if _, err := io.Copy(h, crashData()); err != nil {
		t.Fatal(err)
	}
	sha := hex.EncodeToString(h.Sum(nil))
	for _, mode := range []string{"mid-spool", "mid-upload", "after-object"} {
		t.Run(mode, func(t *testing.T) {
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
			sums, err := s.WriteBlob(ctx, "npm", crashData(), nil)
			if err != nil || sums.SHA256 != sha {
				t.Fatalf("WriteBlob of the same bytes after the crash = %v, %v", sums.SHA256, err)
			}
			r, err := s.OpenBlob(ctx, "npm", sha)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			h := sha256.New()
			if n, err := io.Copy(h, r); err != nil || n != crashSize || hex.EncodeToString(h.Sum(nil)) != sha {
				t.Fatalf("reading the blob back: %d bytes, %v", n, err)
			}
		})
	}
}
