package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/internal/serverproc"
)

// TestAccessLogSurvivesSIGTERM sends SIGTERM to Stockpile, its log at info
// written to a file as deployed, while 16 clients request a warm packument
// (at most 2,000 requests), and checks that every response a client
// received has its access line, with the cache outcome, once the process
// has exited: the buffered log loses nothing across a graceful shutdown.
func TestAccessLogSurvivesSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := stockpileBinary(t)
	up := newSlowNPM(t, 1, 1024, 0)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "stockpile.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	addr := freeAddr(t)
	sp, err := serverproc.Serve(t.Context(), bin, writeConfig(t, up.URL), filepath.Join(dir, "data"), addr, append(os.Environ(), "STOCKPILE_LOG_LEVEL=info"), logFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Stop(syscall.SIGKILL, 10*time.Second) })
	base := "http://" + addr
	url := base + "/acme/npm/app/pkg-000"
	for range 2 { // warm: the engine keeps a document from its second rendering on
		if st, _, err := get(url); err != nil || st != http.StatusOK {
			t.Fatalf("warm-up: %d %v", st, err)
		}
	}

	const clients, maxRequests, termAfter = 16, 2000, 1000
	var sent, answered atomic.Int64
	term := make(chan struct{})
	var termOnce sync.Once
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, DisableCompression: true}}
			defer c.CloseIdleConnections()
			for sent.Add(1) <= maxRequests {
				resp, err := c.Get(url)
				if err != nil {
					return // the server has closed
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					return
				}
				if answered.Add(1) >= termAfter {
					termOnce.Do(func() { close(term) })
				}
			}
		}()
	}
	select {
	case <-term:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d responses in 60 s", answered.Load())
	}
	if err := sp.Stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Exited(); err != nil {
		t.Fatalf("stockpile did not exit cleanly: %v", err)
	}
	wg.Wait()

	lines, hits := countAccessLines(t, logPath, "/acme/npm/app/pkg-000")
	want := answered.Load() + 2 // and the warm-up
	if lines != want {
		t.Errorf("%d access lines for the packument, %d responses received: lines were lost", lines, want)
	}
	if hits < answered.Load() {
		t.Errorf("%d lines say cache=hit, want at least the %d measured responses", hits, answered.Load())
	}
	t.Logf("%d responses, %d lines (%d hits); %d requests sent", want, lines, hits, min(sent.Load(), maxRequests))
}

// countAccessLines counts the access lines (msg=request) of path in a
// text-format log, and those among them with cache=hit.
func countAccessLines(t *testing.T, logPath, path string) (lines, hits int64) {
	t.Helper()
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if !strings.Contains(l, " msg=request ") || !strings.Contains(l, " path="+path+" ") {
			continue
		}
		lines++
		if strings.Contains(l, " cache=hit") {
			hits++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines, hits
}
