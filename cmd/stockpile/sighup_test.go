package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadOnSignal: each signal received reloads once; the loop ends
// with its context.
func TestReloadOnSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal)
	reloads := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		reloadOnSignal(ctx, sig, func() error { reloads <- struct{}{}; return fmt.Errorf("a failed reload is not fatal") })
	}()
	for range 2 {
		sig <- syscall.SIGHUP
		<-reloads
	}
	cancel()
	<-done
}

// TestSIGHUPReloadsAdvisories sends a real SIGHUP to a running `stockpile
// serve`: an OSV advisory written after the start blocks its version at
// once, and removing it (another SIGHUP) restores it.
func TestSIGHUPReloadsAdvisories(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and signals the binary")
	}
	bin := stockpileBinary(t)
	up := newSlowNPM(t, 1, 1024, 0)
	var name string
	for n := range up.tarballs {
		name = n
	}
	osv := t.TempDir()
	config := filepath.Join(t.TempDir(), "stockpile.yaml")
	cfg := fmt.Sprintf(`external_connections:
  "public:npmjs": {url: %q}
firewall:
  osv: {path: %q, refresh: 24h}
domains:
  - name: acme
    repositories:
      - {name: app, upstreams: [npm-store]}
      - {name: npm-store, external_connection: "public:npmjs"}
`, up.URL+"/", osv)
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := startProcess(t, bin, config, t.TempDir(), addr)
	tarball := "http://" + addr + "/acme/npm/app/" + name + "/-/" + name + "-1.0.0.tgz"
	status := func() (int, string) {
		resp, err := http.Get(tarball)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// waitFor polls until the server answers want: the reload runs in the
	// server's own goroutine after the signal is delivered.
	waitFor := func(want int) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, body := status()
			if code == want {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("tarball answered %d, want %d: %s", code, want, body)
			}
			time.Sleep(20 * time.Millisecond) // another process: it announces nothing to wait on
		}
	}
	if code, body := status(); code != http.StatusOK {
		t.Fatalf("before the advisory: %d %s", code, body)
	}
	advisory := filepath.Join(osv, "MAL-2026-9.json")
	doc := `{"id":"MAL-2026-9","affected":[{"package":{"ecosystem":"npm","name":"` + name + `"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0.9.0"},{"fixed":"1.0.1"}]}]}]}`
	if err := os.WriteFile(advisory, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _ := status(); code != http.StatusOK {
		t.Fatalf("the advisory was read before SIGHUP: %d", code)
	}
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if body := waitFor(http.StatusForbidden); !strings.Contains(body, "MAL-2026-9") {
		t.Errorf("refusal does not name the advisory: %s", body)
	}
	if err := os.Remove(advisory); err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(http.StatusOK)
}
