package main

import (
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

// heapDuring runs f and returns by how much the heap grew above what it
// was before at most (sampled every millisecond) and how many bytes were
// allocated meanwhile, in the whole process.
func heapDuring(f func()) (peakGrowth, allocated uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var mu sync.Mutex
	peak := before.HeapAlloc
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				mu.Lock()
				peak = max(peak, ms.HeapAlloc)
				mu.Unlock()
			}
		}
	}()
	f()
	close(stop)
	<-done
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	mu.Lock()
	defer mu.Unlock()
	return max(peak, after.HeapAlloc) - before.HeapAlloc, after.TotalAlloc - before.TotalAlloc
}

// TestExportImportStreamsAssets exports and imports a repository with a
// 32 MiB asset and an 8 MiB Maven jar and checks that neither end holds
// an asset in memory: the heap (of this process, servers included) grows
// by less than limit. It grows by about 11 MiB whatever the assets' sizes
// (zstd's buffers, the servers); holding the large asset once would pass
// the limit.
func TestExportImportStreamsAssets(t *testing.T) {
	const size, limit = 32 << 20, 20 << 20
	src, srcCP := bundleServer(t, "internal")
	rng := rand.NewChaCha8([32]byte{1})
	big := make([]byte, size)
	rng.Read(big)
	genericPublish(t, srcCP, "internal", "1.0", formattest.File{Name: "big.bin", Body: big})
	jar := make([]byte, 8<<20)
	rng.Read(jar)
	send(t, src, http.MethodPut, "/acme/maven/internal/com/example/big/1.0/big-1.0.jar", "application/octet-stream", jar)
	send(t, src, http.MethodPut, "/acme/maven/internal/com/example/big/maven-metadata.xml", "application/xml", formattest.MavenMetadata("com.example", "big", "20240101000000", "1.0"))
	bigSum, jarSum := formattest.SHA256(big), formattest.SHA256(jar)
	big, jar = nil, nil

	file := filepath.Join(t.TempDir(), "big.bundle")
	var code int
	var out, errOut string
	growth, allocated := heapDuring(func() {
		code, out, errOut = runCLI(t, cliEnv(src), "export", "--domain", "acme", "--repository", "internal", "-o", file)
	})
	if code != 0 || !strings.Contains(out, "2 versions, 2 assets") {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("export: heap grew by %.1f MiB at most, %.1f MiB allocated", float64(growth)/(1<<20), float64(allocated)/(1<<20))
	if growth > limit {
		t.Errorf("export: the heap grew by %d bytes for a %d-byte asset", growth, size)
	}

	dst, dstCP := bundleServer(t)
	growth, allocated = heapDuring(func() {
		code, out, errOut = runCLI(t, cliEnv(dst), "import", file)
	})
	if code != 0 || out != "created acme/internal\nacme: 2 versions imported, 0 already there, 0 refused\n" {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("import: heap grew by %.1f MiB at most, %.1f MiB allocated", float64(growth)/(1<<20), float64(allocated)/(1<<20))
	if growth > limit {
		t.Errorf("import: the heap grew by %d bytes for a %d-byte asset", growth, size)
	}
	view := repoView(t, dstCP, "internal")
	if !strings.Contains(view, "big.bin "+bigSum) || !strings.Contains(view, "big-1.0.jar "+jarSum) {
		t.Errorf("after import:\n%s", view)
	}
}
