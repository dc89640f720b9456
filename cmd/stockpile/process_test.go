package main

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/internal/serverproc"
	"github.com/stockpile-proxy/stockpile/storage/enginetest"
)

// These tests run the real binary as a separate process, the way operators
// do, so that it can be killed.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// engines are PostgreSQL and SeaweedFS, started for the tests that use them.
var engines *enginetest.Engines

func TestMain(m *testing.M) {
	code := enginetest.Main(m, &engines)
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func stockpileBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stockpile-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "stockpile")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// slowNPM is a fake npm registry with n packages whose tarballs are size
// bytes, sent in pieces with a pause between them.
type slowNPM struct {
	*httptest.Server
	tarballs map[string][]byte // package → bytes
	mu       sync.Mutex
	hits     map[string]int
	hit      chan struct{} // closed and replaced when a download begins
}

func newSlowNPM(t *testing.T, n, size int, pause time.Duration) *slowNPM {
	s := &slowNPM{tarballs: map[string][]byte{}, hits: map[string]int{}, hit: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if i := strings.Index(name, "/-/"); i >= 0 {
			tgz := s.tarballs[name[:i]]
			if tgz == nil {
				http.NotFound(w, r)
				return
			}
			s.mu.Lock()
			s.hits[name[:i]]++
			close(s.hit)
			s.hit = make(chan struct{})
			s.mu.Unlock()
			w.Header().Set("Content-Length", fmt.Sprint(len(tgz)))
			for off := 0; off < len(tgz); off += 64 << 10 {
				if _, err := w.Write(tgz[off:min(off+64<<10, len(tgz))]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				time.Sleep(pause) // a slow upstream: the tarball trickles in
			}
			return
		}
		tgz := s.tarballs[name]
		if tgz == nil {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"Not found"}`)
			return
		}
		s512, s1 := sha512.Sum512(tgz), sha1.Sum(tgz)
		doc := map[string]any{"name": name, "dist-tags": map[string]string{"latest": "1.0.0"},
			"versions": map[string]any{"1.0.0": map[string]any{"name": name, "version": "1.0.0", "dist": map[string]any{
				"tarball":   s.URL + "/" + name + "/-/" + name + "-1.0.0.tgz",
				"integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"shasum":    hex.EncodeToString(s1[:]),
			}}}}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(s.Close)
	for i := range n {
		b := make([]byte, size)
		rand.Read(b)
		s.tarballs[fmt.Sprintf("pkg-%03d", i)] = b
	}
	return s
}

// proc is a running stockpile process.
type proc struct {
	*serverproc.Process
	addr string
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcess starts `stockpile serve` at log level warn, its log in the
// test's output when verbose, and waits until it is ready; the test's end
// kills it.
func startProcess(t *testing.T, bin, config, dataDir, addr string) *proc {
	t.Helper()
	out := io.Discard
	if testing.Verbose() {
		out = t.Output()
	}
	sp, err := serverproc.Serve(t.Context(), bin, config, dataDir, addr, append(os.Environ(), "STOCKPILE_LOG_LEVEL=warn"), out, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{sp, addr}
	t.Cleanup(p.kill)
	return p
}

// kill ends the process with SIGKILL unless it has ended.
func (p *proc) kill() { _ = p.Stop(syscall.SIGKILL, 10*time.Second) }

func writeConfig(t *testing.T, upstreamURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`external_connections:
  "public:npmjs": {url: %q}
domains:
  - name: acme
    repositories:
      - {name: app, upstreams: [npm-store]}
      - {name: npm-store, external_connection: "public:npmjs"}
`, upstreamURL+"/")
	path := filepath.Join(t.TempDir(), "stockpile.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKilledDuringDownloads kills Stockpile with SIGKILL while 100 clients
// download 100 different tarballs, then checks that no blob reads as whole
// but is not, and that every tarball is served right after a restart.
func TestKilledDuringDownloads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin := stockpileBinary(t)
	up := newSlowNPM(t, 100, 1<<20, 15*time.Millisecond)
	config := writeConfig(t, up.URL)
	data := t.TempDir()
	addr := freeAddr(t)
	p := startProcess(t, bin, config, data, addr)

	var wg sync.WaitGroup
	var mu sync.Mutex
	started := 0
	firstDone := make(chan struct{})
	var once sync.Once
	for name := range up.tarballs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get("http://" + addr + "/acme/npm/app/" + name + "/-/" + name + "-1.0.0.tgz")
			if err != nil {
				return
			}
			defer resp.Body.Close()
			buf := make([]byte, 1)
			if n, _ := resp.Body.Read(buf); n > 0 {
				mu.Lock()
				started++
				mu.Unlock()
			}
			if _, err := io.Copy(io.Discard, resp.Body); err == nil {
				once.Do(func() { close(firstDone) })
			}
		}()
	}
	// Kill once transfers are well under way: the first download is done,
	// most are not (each tarball trickles in for a quarter second).
	select {
	case <-firstDone:
	case <-time.After(time.Minute):
		t.Fatal("no download finished within a minute")
	}
	p.kill()
	wg.Wait()
	mu.Lock()
	t.Logf("%d of 100 downloads had started when Stockpile was killed", started)
	mu.Unlock()

	// Every blob the store holds must hash to its name, whole.
	whole := checkStore(t, data)
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d blobs were committed before the kill, all whole", whole)
	if whole == 100 {
		t.Log("every download finished before the kill: the test proved less than it should")
	}

	// Restarted, Stockpile serves every tarball right.
	startProcess(t, bin, config, data, addr)
	var failures []string
	var fmu sync.Mutex
	for name, want := range up.tarballs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get("http://" + addr + "/acme/npm/app/" + name + "/-/" + name + "-1.0.0.tgz")
			if err != nil {
				fmu.Lock()
				failures = append(failures, name+": "+err.Error())
				fmu.Unlock()
				return
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(got) != string(want) {
				fmu.Lock()
				failures = append(failures, fmt.Sprintf("%s: %d, %d bytes, %v", name, resp.StatusCode, len(got), err))
				fmu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d tarballs not served right after the restart: %s", len(failures), strings.Join(failures[:min(5, len(failures))], "; "))
	}
}
