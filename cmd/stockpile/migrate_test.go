package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrate fills a Badger data directory through a running Stockpile,
// moves it with `stockpile migrate` into PostgreSQL and SeaweedFS, then
// serves from there with the upstream offline and checks every answer is
// the same; a second migrate finds everything already copied.
func TestMigrate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := stockpileBinary(t)
	pg, weed := engines.Postgres(t), engines.S3(t)
	up := newSlowNPM(t, 5, 200<<10, 0)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	badgerCfg := writeConfig(t, up.URL)
	var paths []string
	for i := range 5 {
		name := fmt.Sprintf("pkg-%03d", i)
		paths = append(paths, "/acme/npm/app/"+name, "/acme/npm/app/"+name+"/-/"+name+"-1.0.0.tgz")
	}
	want := map[string][]byte{}
	p := startProcess(t, bin, badgerCfg, data, addr)
	// Twice: the second answers are those of a warm cache, whose versions
	// were retained by the first pass's downloads.
	for range 2 {
		for _, path := range paths {
			st, body, err := get("http://" + addr + path)
			if err != nil || st != http.StatusOK {
				t.Fatalf("GET %s through Badger: %d %v", path, st, err)
			}
			want[path] = body
		}
	}
	p.kill()

	b := weed.NewBucket(t)
	pgCfg := filepath.Join(t.TempDir(), "pg.yaml")
	raw, _ := os.ReadFile(badgerCfg)
	cfg := strings.Replace(string(raw), `{url: "`+up.URL+`/"}`, `{url: "`+up.URL+`/", offline: true}`, 1)
	cfg += fmt.Sprintf(`storage:
  backend: postgres
  postgres: {dsn: %q}
  s3: {endpoint: %q, bucket: %q, access_key_id: %q, secret_access_key: %q, path_style: true, cache_dir: %q, cache_size: 64MiB}
`, pg.NewDatabase(t), b.Endpoint, b.Bucket, b.AccessKeyID, b.SecretAccessKey, t.TempDir())
	if err := os.WriteFile(pgCfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	migrateRun := func() string {
		t.Helper()
		cmd := exec.Command(bin, "migrate", "--from", "badger:"+data, "--to", "postgres", "--config", pgCfg)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("stockpile migrate: %v\n%s%s", err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	out := migrateRun()
	if !strings.Contains(out, "migrated: 5 blobs (5 copied") {
		t.Fatalf("first migrate: %s", out)
	}
	if out := migrateRun(); !strings.Contains(out, "migrated: 5 blobs (0 copied") {
		t.Fatalf("second migrate did not find the blobs already there: %s", out)
	}

	startProcess(t, bin, pgCfg, t.TempDir(), addr)
	tarballHits := func() int {
		up.mu.Lock()
		defer up.mu.Unlock()
		n := 0
		for _, h := range up.hits {
			n += h
		}
		return n
	}
	before := tarballHits()
	for _, path := range paths {
		st, body, err := get("http://" + addr + path)
		if err != nil || st != http.StatusOK || !bytes.Equal(body, want[path]) {
			t.Errorf("GET %s after the migration: %d, %d bytes (want the %d bytes served before), %v\n%s\n%s", path, st, len(body), len(want[path]), err, body, want[path])
		}
	}
	if n := tarballHits() - before; n != 0 {
		t.Errorf("the upstream was asked %d times after the migration; the data should all have moved", n)
	}
}
