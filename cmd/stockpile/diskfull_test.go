package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/internal/serverproc"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

// Sizes of the disk-full test. The tmpfs only has to hold what Badger really
// writes, plus the free space badgerstore keeps (DefaultMinFreeSpace, 64
// MiB): its memtable WAL and value-log files are created sparse (truncated
// to 64 MiB and 512 MiB, then mmap'd), and a sparse file costs a tmpfs
// nothing until its pages are written — which is also why a full disk
// would be a SIGBUS in Badger without that reserve.
const (
	diskFullTmpfsMiB = 128
	// Tarballs up to the resolver's hold-back (64 KiB) are not streamed
	// while they are fetched: a failure is a clean error status. Larger
	// ones are streamed to the first client, headers first.
	diskFullSmall = 40 << 10
	diskFullLarge = 1 << 20
)

// loggedProc is a stockpile process whose standard error is kept, so that a
// crash (a SIGBUS on a full disk) can be reported with its stack.
type loggedProc struct {
	*proc
	mu  sync.Mutex
	log bytes.Buffer
}

func (p *loggedProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

func (p *loggedProc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// startLogged is startProcess with standard error kept in memory.
func startLogged(t *testing.T, bin, config, dataDir, addr string) *loggedProc {
	t.Helper()
	p := &loggedProc{}
	sp, err := serverproc.Serve(t.Context(), bin, config, dataDir, addr, append(os.Environ(), "STOCKPILE_LOG_LEVEL=warn"), p,
		func() string { return serverproc.LastLines(p.logText(), 40) })
	if err != nil {
		t.Fatal(err)
	}
	p.proc = &proc{sp, addr}
	t.Cleanup(p.kill)
	return p
}

// stop asks the process to shut down (SIGTERM) and waits for it, unless it
// has ended already.
func (p *loggedProc) stop(t *testing.T) {
	t.Helper()
	if ok, _ := p.Exited(); ok {
		return
	}
	if err := p.Stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Error(err)
	} else if _, err := p.Exited(); err != nil {
		t.Errorf("stockpile did not stop cleanly: %v\n%s", err, serverproc.LastLines(p.logText(), 20))
	}
}

var diskFullClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil, DisableCompression: true}}

// get fetches url and returns the status and the body as far as it came;
// err is set when the transfer failed (a cut connection).
func get(url string) (int, []byte, error) {
	resp, err := diskFullClient.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// outcome is what a client saw of one download.
type outcome struct {
	name   string
	status int
	n      int
	err    error
	body   string
	whole  bool // 200, complete, and the right bytes
}

func (o outcome) String() string {
	s := fmt.Sprintf("%s: %d, %d bytes", o.name, o.status, o.n)
	if o.err != nil {
		s += fmt.Sprintf(", transfer failed: %v", o.err)
	}
	if o.body != "" {
		s += ", body " + o.body
	}
	return s
}

func download(base, name string, want []byte) outcome {
	status, body, err := get(base + "/" + name + "/-/" + name + "-1.0.0.tgz")
	o := outcome{name: name, status: status, n: len(body), err: err}
	o.whole = err == nil && status == http.StatusOK && bytes.Equal(body, want)
	if status != http.StatusOK && len(body) < 400 {
		o.body = strings.TrimSpace(string(body))
	}
	return o
}

// crashReport returns the part of a Go crash that tells where it happened:
// the fatal error, the signal line and the faulting goroutine's stack.
func crashReport(log string) string {
	i := strings.Index(log, "unexpected fault address")
	if i < 0 {
		i = strings.Index(log, "fatal error:")
	}
	if i < 0 {
		i = strings.Index(log, "panic:")
	}
	if i < 0 {
		return serverproc.LastLines(log, 40)
	}
	rest := log[i:]
	// The faulting goroutine comes first: keep it, drop the others.
	if j := strings.Index(rest, "\ngoroutine "); j >= 0 {
		if k := strings.Index(rest[j+1:], "\n\ngoroutine "); k >= 0 {
			rest = rest[:j+1+k]
		}
	}
	return rest
}

// fill writes path until the file system is full and returns how many bytes
// it took.
func fill(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := f.Write(buf)
		n += int64(k)
		if errors.Is(err, syscall.ENOSPC) {
			return n
		}
		if err != nil {
			t.Fatalf("fill %s: %v", path, err)
		}
	}
}

// mountTmpfs mounts a tmpfs of sizeMiB on a new directory, unmounted at the
// end of the test. It skips when mounting is not allowed, unless
// STOCKPILE_E2E=require.
func mountTmpfs(t *testing.T, sizeMiB int) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm,mode=0700", sizeMiB), "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): %v: %s", err, strings.TrimSpace(string(out)))
		if os.Getenv("STOCKPILE_E2E") == "require" {
			t.Fatal(msg + " (STOCKPILE_E2E=require)")
		}
		t.Skip(msg)
	}
	// Registered after TempDir's cleanup, so it runs before the removal.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// TestDiskFull runs Stockpile with its data on a small tmpfs, fills the
// tmpfs, and downloads uncached tarballs: clients must get a clear 5xx
// (never a 404, never a 200 with a body cut short or wrong), the process
// must stay up and /-/ready answering. Once space is back, the same
// downloads must succeed, and everything cached before must read back
// whole, through the server and directly from the store.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs and runs the binary")
	}
	mnt := mountTmpfs(t, diskFullTmpfsMiB)
	bin := stockpileBinary(t)

	// One fake registry, three kinds of tarballs: cached before the disk
	// fills, and two sizes asked while it is full.
	up := newSlowNPM(t, 0, 0, 0)
	names := map[string][]string{}
	add := func(kind string, n, size int) {
		for i := range n {
			b := make([]byte, size)
			rand.Read(b)
			name := fmt.Sprintf("%s-%03d", kind, i)
			up.tarballs[name] = b
			names[kind] = append(names[kind], name)
		}
	}
	add("cached", 4, 300<<10)
	add("small", 6, diskFullSmall)
	add("large", 4, diskFullLarge)

	config := writeConfig(t, up.URL)
	data := filepath.Join(mnt, "data")
	addr := freeAddr(t)
	p := startLogged(t, bin, config, data, addr)
	base := "http://" + addr + "/acme/npm/app"

	alive := func(when string) bool {
		t.Helper()
		if ok, err := p.Exited(); ok {
			t.Errorf("stockpile died %s (%v); the crash:\n%s", when, err, crashReport(p.logText()))
			return false
		}
		return true
	}

	for _, name := range names["cached"] {
		if o := download(base, name, up.tarballs[name]); !o.whole {
			t.Fatalf("before the disk filled: %s", o)
		}
	}

	filler := filepath.Join(mnt, "filler")
	n := fill(t, filler)
	var st syscall.Statfs_t
	_ = syscall.Statfs(mnt, &st)
	t.Logf("filled the %d MiB tmpfs with %.1f MiB; %d bytes free", diskFullTmpfsMiB, float64(n)/(1<<20), st.Bavail*uint64(st.Bsize))

	// The disk is full: every uncached download must fail clearly.
	var full []outcome
	for _, kind := range []string{"small", "large"} {
		for _, name := range names[kind] {
			o := download(base, name, up.tarballs[name])
			full = append(full, o)
			t.Logf("disk full: %s", o)
			if !alive("while the disk was full") {
				break
			}
		}
	}
	crashed := false
	if ok, _ := p.Exited(); ok {
		crashed = true
	} else {
		if st, body, err := get("http://" + addr + "/-/ready"); err != nil || st != http.StatusOK {
			t.Errorf("/-/ready while the disk is full: %d %s %v", st, body, err)
		}
		for _, name := range names["cached"] {
			if o := download(base, name, up.tarballs[name]); !o.whole {
				t.Errorf("a cached tarball while the disk is full: %s", o)
			}
		}
	}
	for _, o := range full {
		switch {
		case o.whole:
			// The write went through after all (it fit): not a failure.
		case o.status == http.StatusNotFound:
			t.Errorf("disk full answered as absence: %s", o)
		case o.status == http.StatusOK:
			// Headers went out before the write failed: the client sees
			// a transfer cut short of Content-Length, not a status.
			t.Errorf("disk full answered 200 then cut: %s", o)
		case o.status >= 500:
			if !strings.Contains(strings.ToLower(o.body), "disk") && !strings.Contains(strings.ToLower(o.body), "space") {
				t.Errorf("disk full: %d without saying why (want the disk named): %s", o.status, o)
			}
		case o.status == 0 && crashed:
			// Counted by alive.
		default:
			t.Errorf("disk full: unexpected answer: %s", o)
		}
	}
	if crashed {
		return
	}

	// Space is back: the same downloads succeed and the cache is whole.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"small", "large", "cached"} {
		for _, name := range names[kind] {
			if o := download(base, name, up.tarballs[name]); !o.whole {
				t.Errorf("after space came back: %s", o)
			}
		}
	}
	if st, _, err := get("http://" + addr + "/-/ready"); err != nil || st != http.StatusOK {
		t.Errorf("/-/ready after space came back: %d %v", st, err)
	}
	alive("after space came back")

	// Nothing is corrupt: stopped cleanly, the store opens and every blob
	// it lists hashes to its name, whole.
	p.stop(t)
	if n, want := checkStore(t, data), len(names["cached"])+len(names["small"])+len(names["large"]); n != want {
		t.Errorf("%d blobs in the store, want %d", n, want)
	}
}

// checkStore opens the data directory of a stopped Stockpile and checks
// that every blob of domain acme hashes to its name, whole. It returns how
// many there are.
func checkStore(t *testing.T, data string) int {
	t.Helper()
	store, err := badgerstore.Open(badgerstore.Options{Dir: data}, nil)
	if err != nil {
		t.Fatalf("open the data to check its blobs: %v", err)
	}
	defer store.Close()
	var blobs []storage.BlobInfo
	if err := store.ListBlobs(context.Background(), "acme", func(b storage.BlobInfo) error { blobs = append(blobs, b); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		r, err := store.OpenBlob(context.Background(), "acme", b.SHA256)
		if err != nil {
			t.Fatalf("a listed blob does not open: %v", err)
		}
		h := sha256.New()
		n, err := io.Copy(h, r)
		r.Close()
		if err != nil || n != b.Size || hex.EncodeToString(h.Sum(nil)) != b.SHA256 {
			t.Errorf("blob %s reads as %d bytes (%v), hash %x", b.SHA256, n, err, h.Sum(nil))
		}
	}
	t.Logf("%d blobs in the store, all whole", len(blobs))
	return len(blobs)
}

// TestDiskFillsUpWithCache lets Stockpile fill its own disk: 1 MiB
// tarballs are downloaded one after the other until the store's reserve
// (badgerstore.DefaultMinFreeSpace) is reached. Every answer must be the
// whole tarball or a clear 507 — a streamed download may be cut short of
// its Content-Length if the reserve is reached between two of its chunks,
// which clients detect — and the process must survive (no SIGBUS) with a
// store that reads back whole.
func TestDiskFillsUpWithCache(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs and runs the binary")
	}
	mnt := mountTmpfs(t, diskFullTmpfsMiB)
	bin := stockpileBinary(t)
	up := newSlowNPM(t, 0, 0, 0)
	var names []string
	for i := range diskFullTmpfsMiB {
		b := make([]byte, diskFullLarge)
		rand.Read(b)
		name := fmt.Sprintf("fill-%03d", i)
		up.tarballs[name] = b
		names = append(names, name)
	}
	data := filepath.Join(mnt, "data")
	addr := freeAddr(t)
	p := startLogged(t, bin, writeConfig(t, up.URL), data, addr)
	base := "http://" + addr + "/acme/npm/app"

	whole, full, cut := 0, 0, 0
	for _, name := range names {
		o := download(base, name, up.tarballs[name])
		switch {
		case o.whole:
			whole++
		case o.status == http.StatusInsufficientStorage:
			full++
		case o.status == http.StatusOK && o.err != nil && o.n < diskFullLarge:
			cut++
			t.Logf("cut short (detectable): %s", o)
		default:
			t.Errorf("unexpected answer: %s", o)
		}
		if ok, err := p.Exited(); ok {
			t.Fatalf("stockpile died after %d downloads (%v); the crash:\n%s", whole+full+cut, err, crashReport(p.logText()))
		}
	}
	var st syscall.Statfs_t
	_ = syscall.Statfs(mnt, &st)
	t.Logf("%d whole, %d answered 507, %d cut short; %.1f MiB left free on the %d MiB tmpfs",
		whole, full, cut, float64(st.Bavail*uint64(st.Bsize))/(1<<20), diskFullTmpfsMiB)
	if full == 0 {
		t.Errorf("the reserve was never reached: the test proved nothing")
	}
	if st, _, err := get("http://" + addr + "/-/ready"); err != nil || st != http.StatusOK {
		t.Errorf("/-/ready with the disk at its reserve: %d %v", st, err)
	}
	for _, name := range names[:3] {
		if o := download(base, name, up.tarballs[name]); !o.whole {
			t.Errorf("a cached tarball with the disk at its reserve: %s", o)
		}
	}
	p.stop(t)
	if n := checkStore(t, data); n != whole {
		t.Errorf("%d blobs in the store, want the %d served whole", n, whole)
	}
}
