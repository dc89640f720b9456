package blobcache

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// add puts n bytes under name through a temporary file.
func add(t *testing.T, c *Cache, name string, n int) {
	t.Helper()
	f, err := c.Temp()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte{'x'}, n)); err != nil {
		t.Fatal(err)
	}
	g, err := c.Add(f, name, int64(n))
	if err != nil {
		t.Fatalf("Add(%s): %v", name, err)
	}
	g.Close()
}

func cached(c *Cache, name string) bool {
	f, err := c.Open(name)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func TestEviction(t *testing.T) {
	tests := []struct {
		name    string
		touch   string // opened after a and b are added
		use     string // marked used after a and b are added: Touch, or TouchFile of "file:" a name or path
		want    []string
		wantNot []string
	}{
		{"least-recent-out", "", "", []string{"b/2", "c/3"}, []string{"a/1"}},
		{"open-counts-as-use", "a/1", "", []string{"a/1", "c/3"}, []string{"b/2"}},
		{"touch-counts-as-use", "", "a/1", []string{"a/1", "c/3"}, []string{"b/2"}},
		{"touch-of-an-absent-name", "", "z/9", []string{"b/2", "c/3"}, []string{"a/1", "z/9"}},
		{"touch-of-its-file-counts-as-use", "", "file:a/1", []string{"a/1", "c/3"}, []string{"b/2"}},
		{"touch-of-a-file-elsewhere", "", "file:/elsewhere/a/1", []string{"b/2", "c/3"}, []string{"a/1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Open(t.TempDir(), 250)
			if err != nil {
				t.Fatal(err)
			}
			add(t, c, "a/1", 100)
			add(t, c, "b/2", 100)
			if tt.touch != "" && !cached(c, tt.touch) {
				t.Fatalf("%s not cached", tt.touch)
			}
			switch path, ok := strings.CutPrefix(tt.use, "file:"); {
			case ok && strings.HasPrefix(path, "/"):
				c.TouchFile(path)
			case ok:
				c.TouchFile(c.path(path))
			case tt.use != "":
				c.Touch(tt.use)
			}
			add(t, c, "c/3", 100)
			for _, n := range tt.want {
				if !cached(c, n) {
					t.Errorf("%s was evicted", n)
				}
			}
			for _, n := range tt.wantNot {
				if cached(c, n) {
					t.Errorf("%s is still cached", n)
				}
			}
			if c.Size() != 200 {
				t.Errorf("Size = %d, want 200", c.Size())
			}
		})
	}
}

func TestTooBigStaysReadable(t *testing.T) {
	c, err := Open(t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := c.Temp()
	f.WriteString("more than ten bytes")
	g, err := c.Add(f, "big/1", 19)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	g.Seek(0, io.SeekStart)
	if b, _ := io.ReadAll(g); string(b) != "more than ten bytes" {
		t.Fatalf("read %q", b)
	}
	if _, err := c.Open("big/1"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a blob larger than the cache = %v", err)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	add(t, c, "old/1", 100)
	add(t, c, "new/2", 100)
	past := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "blobs", "old", "1"), past, past)
	leftover, _ := c.Temp()
	leftover.Close()

	c, err = Open(dir, 150) // smaller: the older file goes
	if err != nil {
		t.Fatal(err)
	}
	if cached(c, "old/1") || !cached(c, "new/2") || c.Size() != 100 {
		t.Fatalf("after reopening: old %v, new %v, size %d", cached(c, "old/1"), cached(c, "new/2"), c.Size())
	}
	if _, err := os.Stat(leftover.Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a temporary file survived reopening: %v", err)
	}
}

func TestBadNames(t *testing.T) {
	c, err := Open(t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "/abs", "a/../b", "a//b", "."} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Open(name); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open(%q) = %v", name, err)
			}
			f, _ := c.Temp()
			defer f.Close()
			if _, err := c.Add(f, name, 0); err == nil {
				t.Errorf("Add(%q) succeeded", name)
			}
		})
	}
}
