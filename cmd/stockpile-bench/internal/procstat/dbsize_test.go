package procstat

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDatabaseBytes(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("000001.sst", 1<<20)
	write("blobs/ab/file", 4<<20) // package files are not the database
	// A log created at full size but not yet written takes no blocks.
	f, err := os.Create(filepath.Join(dir, "000001.vlog"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	n, err := DatabaseBytes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n < 1<<20 || n > 1<<20+64<<10 {
		t.Fatalf("DatabaseBytes = %d, want about 1 MiB: the table, not the blobs or the empty log", n)
	}
	if _, err := DatabaseBytes(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("DatabaseBytes of a missing directory: no error")
	}
}
