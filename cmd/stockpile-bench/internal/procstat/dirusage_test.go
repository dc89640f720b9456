package procstat

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirUsage(t *testing.T) {
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
	n, _, err := DirUsage(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if n < 1<<20 || n > 1<<20+64<<10 {
		t.Fatalf("DirUsage(not deep) = %d, want about 1 MiB: the table, not the blobs or the empty log", n)
	}
	n, apparent, err := DirUsage(dir, true)
	if err != nil || n < 5<<20 || n > 5<<20+128<<10 || apparent != 69<<20 {
		t.Fatalf("DirUsage(deep) = %d on disk, %d apparent, %v; want about 5 MiB and 69 MiB", n, apparent, err)
	}
	if _, _, err := DirUsage(filepath.Join(dir, "missing"), false); err == nil {
		t.Fatal("DirUsage of a missing directory: no error")
	}
}
