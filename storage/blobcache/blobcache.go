// Package blobcache is a bounded local disk cache of blobs, least recently
// used first out. Each file is whole: it enters the cache by a rename, after
// its writer has checked it, so a crash leaves at worst a temporary file
// that the next Open removes. Names are content addresses, so a cached file
// never goes stale; it only goes away to make room.
package blobcache

import (
	"container/list"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Cache holds files under a directory, at most max bytes of them.
type Cache struct {
	dir  string
	root string // where the files are, with a trailing separator
	max  int64

	mu    sync.Mutex
	lru   *list.List // of *entry, most recently used at the front
	items map[string]*list.Element
	size  int64
}

type entry struct {
	name string
	size int64
}

// Open opens (creating) the cache in dir with room for max bytes. It
// removes temporary files a crash left behind and takes the files already
// there into the cache, most recently modified as most recently used.
func Open(dir string, max int64) (*Cache, error) {
	if max <= 0 {
		return nil, fmt.Errorf("blobcache: size %d must be positive", max)
	}
	c := &Cache{dir: dir, root: filepath.Join(dir, "blobs") + string(filepath.Separator), max: max, lru: list.New(), items: map[string]*list.Element{}}
	if err := os.RemoveAll(filepath.Join(dir, "tmp")); err != nil {
		return nil, fmt.Errorf("blobcache: %w", err)
	}
	for _, d := range []string{"tmp", "blobs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return nil, fmt.Errorf("blobcache: %w", err)
		}
	}
	type found struct {
		name string
		size int64
		mod  time.Time
	}
	var files []found
	root := filepath.Join(dir, "blobs")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, found{filepath.ToSlash(rel), info.Size(), info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("blobcache: reading %s: %w", root, err)
	}
	slices.SortFunc(files, func(a, b found) int { return a.mod.Compare(b.mod) })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range files {
		c.addLocked(f.name, f.size)
	}
	return c, nil
}

// path is where name is kept; names are slash-separated relative paths
// without "..".
func (c *Cache) path(name string) string {
	return filepath.Join(c.dir, "blobs", filepath.FromSlash(name))
}

func validName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// Open opens the cached file name and marks it used, or returns an error
// wrapping fs.ErrNotExist.
func (c *Cache) Open(name string) (*os.File, error) {
	if !validName(name) {
		return nil, fmt.Errorf("blobcache: bad name %q: %w", name, fs.ErrNotExist)
	}
	f, err := os.Open(c.path(name))
	if err != nil {
		return nil, err
	}
	c.Touch(name)
	return f, nil
}

// Fits reports whether a file of size bytes can be kept in the cache: Add
// returns a larger one unnamed.
func (c *Cache) Fits(size int64) bool { return size <= c.max }

// Touch marks the cached file name used, as Open does, for a reader that
// keeps the file's path and opens it itself.
func (c *Cache) Touch(name string) {
	c.mu.Lock()
	if el, ok := c.items[name]; ok {
		c.lru.MoveToFront(el)
	}
	c.mu.Unlock()
}

// TouchFile is Touch for the path of a cached file (an *os.File's Name
// from Open or Add), without building its name anew.
func (c *Cache) TouchFile(path string) {
	rel, ok := strings.CutPrefix(path, c.root)
	if ok {
		c.Touch(filepath.ToSlash(rel))
	}
}

// Temp creates a temporary file in the cache's directory, for Add.
func (c *Cache) Temp() (*os.File, error) {
	return os.CreateTemp(filepath.Join(c.dir, "tmp"), "blob-*")
}

// Add moves the temporary file f (from Temp, size bytes, checked by the
// caller) into the cache as name and returns the file to read it from: f
// itself when the file is larger than the whole cache (it is then removed,
// and the open f is the only way to it), else the cached file opened anew,
// f being closed. Less recently used files are removed to make room;
// readers that hold them open keep reading them. On error f is left open.
func (c *Cache) Add(f *os.File, name string, size int64) (*os.File, error) {
	if !validName(name) {
		return nil, fmt.Errorf("blobcache: bad name %q", name)
	}
	if size > c.max {
		return f, os.Remove(f.Name())
	}
	p := c.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return nil, fmt.Errorf("blobcache: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return nil, fmt.Errorf("blobcache: %w", err)
	}
	// Opened before it is counted, so eviction cannot take it first.
	g, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("blobcache: %w", err)
	}
	f.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(name, size)
	return g, nil
}

// addLocked records name (replacing a previous record of it) and evicts.
func (c *Cache) addLocked(name string, size int64) {
	if el, ok := c.items[name]; ok {
		c.size -= el.Value.(*entry).size
		c.lru.Remove(el)
	}
	c.items[name] = c.lru.PushFront(&entry{name: name, size: size})
	c.size += size
	for c.size > c.max {
		el := c.lru.Back()
		e := el.Value.(*entry)
		c.lru.Remove(el)
		delete(c.items, e.name)
		c.size -= e.size
		// A file that cannot be removed is still counted as gone; the
		// next Open's scan counts it again.
		_ = os.Remove(c.path(e.name))
	}
}

// Remove takes name out of the cache; readers that hold it open keep
// reading it.
func (c *Cache) Remove(name string) error {
	if !validName(name) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[name]; ok {
		c.size -= el.Value.(*entry).size
		c.lru.Remove(el)
		delete(c.items, name)
	}
	if err := os.Remove(c.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blobcache: %w", err)
	}
	return nil
}

// Size returns the bytes the cache holds.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
