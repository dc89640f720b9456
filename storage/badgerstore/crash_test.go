package badgerstore

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

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/storage"
)

// The crash test runs its writer in a child process (this test binary, in
// TestCrashHelper) and kills it with SIGKILL.
const (
	crashModeEnv = "BADGERSTORE_CRASH_MODE" // "mid-write" or "after-commit"
	crashDirEnv  = "BADGERSTORE_CRASH_DIR"

	crashBigSize     = 64 << 20 // written from a reader that stalls
	crashBigSeed     = 1
	crashSignalAfter = 2 << 20 // bytes read before the child signals
	crashSmallSize   = 4<<20 + 5
	crashSmallSeed   = 2
)

// crashData returns a reader of size deterministic bytes.
func crashData(size int64, seed byte) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{seed}), size)
}

// crashSHA256 hashes the bytes crashData yields.
func crashSHA256(t *testing.T, size int64, seed byte) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, crashData(size, seed)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// stallingReader yields r until after bytes have been read, then calls
// signal once and blocks until the process is killed.
type stallingReader struct {
	r      io.Reader
	n      int64
	after  int64
	signal func()
}

func (s *stallingReader) Read(p []byte) (int, error) {
	if s.n >= s.after {
		// WriteBlob asks for the next buffer only after writing the last.
		s.signal()
		time.Sleep(time.Minute) // a child process: the parent kills it now
		return 0, errors.New("crash helper was not killed")
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	return n, err
}

// TestCrashHelper is the child process of TestCrash; it skips unless run as
// one.
func TestCrashHelper(t *testing.T) {
	mode, dir := os.Getenv(crashModeEnv), os.Getenv(crashDirEnv)
	if mode == "" {
		t.Skip("helper process of TestCrash")
	}
	s, err := Open(Options{Dir: filepath.Join(dir, "db")}, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	signal := func() {
		if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
			t.Errorf("signal: %v", err)
		}
	}
	ctx := context.Background()
	switch mode {
	case "mid-write":
		r := &stallingReader{r: crashData(crashBigSize, crashBigSeed), after: crashSignalAfter, signal: signal}
		_, err := s.WriteBlob(ctx, "npm", r, nil)
		t.Fatalf("WriteBlob returned instead of being killed: %v", err)
	case "after-commit":
		if _, err := s.WriteBlob(ctx, "npm", crashData(crashSmallSize, crashSmallSeed), nil); err != nil {
			t.Fatalf("WriteBlob: %v", err)
		}
		signal()
		time.Sleep(time.Minute) // a child process: the parent kills it now
		t.Fatal("crash helper was not killed")
	default:
		t.Fatalf("unknown %s %q", crashModeEnv, mode)
	}
}

// runCrashHelper starts the helper in mode, waits for its signal and kills
// it. It returns the database directory.
func runCrashHelper(t *testing.T, mode string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.v")
	cmd.Env = append(os.Environ(), crashModeEnv+"="+mode, crashDirEnv+"="+dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the helper: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.After(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("helper exited before signalling (%v):\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("helper did not signal within 60s:\n%s", out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing the helper: %v", err)
	}
	err := <-exited
	exited <- err
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper did not die of SIGKILL: %v\n%s", err, out.String())
	}
	return filepath.Join(dir, "db")
}

// rawKeys counts keys in dir without the sweep that Open does.
func rawKeys(t *testing.T, dir string) keyCounts {
	t.Helper()
	db, err := badgerOpenRaw(dir)
	if err != nil {
		t.Fatalf("opening the killed helper's database: %v", err)
	}
	defer db.Close()
	c := countKeys(t, db)
	c.Files = countFiles(t, filepath.Join(dir, blobsSubdir))
	return c
}

// readSHA256 streams a blob and hashes it.
func readSHA256(t *testing.T, s *Store, domain, sha string) (string, int64) {
	t.Helper()
	r, err := s.OpenBlob(context.Background(), domain, sha)
	if err != nil {
		t.Fatalf("OpenBlob: %v", err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("reading blob: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	ctx := context.Background()
	t.Run("killed-mid-write", func(t *testing.T) {
		dir := runCrashHelper(t, "mid-write")
		before := rawKeys(t, dir)
		if before != (keyCounts{Uploads: 1, Files: 1}) {
			t.Fatalf("keys left by the killed writer = %+v; want 1 upload marker, 1 file, no meta", before)
		}
		files, _ := filepath.Glob(filepath.Join(dir, blobsSubdir, "??", "*"))
		if st, err := os.Stat(files[0]); err != nil || st.Size() < crashSignalAfter {
			t.Fatalf("the killed writer's file: %v, %v; want at least %d bytes written as read", st, err, crashSignalAfter)
		}

		s := openInternal(t, Options{Dir: dir})
		if diff := cmp.Diff(keyCounts{}, storeKeys(t, s)); diff != "" {
			t.Fatalf("keys after Open's sweep (-want +got):\n%s", diff)
		}
		sha := crashSHA256(t, crashBigSize, crashBigSeed)
		if _, err := s.StatBlob(ctx, "npm", sha); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("StatBlob of the interrupted blob = %v, want ErrNotFound", err)
		}
		if _, err := s.OpenBlob(ctx, "npm", sha); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("OpenBlob of the interrupted blob = %v, want ErrNotFound", err)
		}

		sums, err := s.WriteBlob(ctx, "npm", crashData(crashBigSize, crashBigSeed), nil)
		if err != nil {
			t.Fatalf("rewriting the interrupted blob: %v", err)
		}
		if sums.SHA256 != sha || sums.Size != crashBigSize {
			t.Fatalf("rewrite sums = %s, %d bytes; want %s, %d", sums.SHA256, sums.Size, sha, crashBigSize)
		}
		if got, n := readSHA256(t, s, "npm", sha); got != sha || n != crashBigSize {
			t.Fatalf("rewritten blob reads %d bytes with sha256 %s", n, got)
		}
		want := keyCounts{Metas: 1, Files: 1}
		if diff := cmp.Diff(want, storeKeys(t, s)); diff != "" {
			t.Fatalf("keys after the rewrite (-want +got):\n%s", diff)
		}
	})
	t.Run("killed-after-commit", func(t *testing.T) {
		dir := runCrashHelper(t, "after-commit")
		s := openInternal(t, Options{Dir: dir})
		want := keyCounts{Metas: 1, Files: 1}
		if diff := cmp.Diff(want, storeKeys(t, s)); diff != "" {
			t.Fatalf("keys after reopening (-want +got):\n%s", diff)
		}
		sha := crashSHA256(t, crashSmallSize, crashSmallSeed)
		sums, err := s.StatBlob(ctx, "npm", sha)
		if err != nil {
			t.Fatalf("StatBlob of the committed blob: %v", err)
		}
		if sums.Size != crashSmallSize {
			t.Fatalf("StatBlob size = %d, want %d", sums.Size, crashSmallSize)
		}
		if got, n := readSHA256(t, s, "npm", sha); got != sha || n != crashSmallSize {
			t.Fatalf("committed blob reads %d bytes with sha256 %s", n, got)
		}
	})
}
