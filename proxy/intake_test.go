package proxy

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPrepareSpoolEmptiesTheSpoolDirectory(t *testing.T) {
	data := t.TempDir()
	left := filepath.Join(data, spoolSubdir, "spool-123")
	if err := os.MkdirAll(filepath.Dir(left), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(left, []byte("what a crash left"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir, err := prepareSpool(data)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(data, spoolSubdir) {
		t.Errorf("spool directory %s, want below %s", dir, data)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("spool directory after start: %v %v", entries, err)
	}
	if _, err := prepareSpool(""); err == nil {
		t.Error("no data directory was accepted")
	}
}
