package procstat

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
)

// DatabaseBytes returns the disk space Badger's files take in a Stockpile
// data directory: the files directly in it (tables, value and write-ahead
// logs), not the package files below blobs/.
func DatabaseBytes(dir string) (uint64, error) {
	n, _, err := usage(dir, false)
	return uint64(n), err
}

// DirUsage returns the bytes a directory tree takes on disk and its files'
// apparent size.
func DirUsage(dir string) (onDisk, apparent int64, err error) { return usage(dir, true) }

// usage counts the regular files in dir (and below it when deep): their
// allocated blocks, since Badger creates its logs at full size and fills
// them as it goes, and their sizes.
func usage(dir string, deep bool) (onDisk, apparent int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p != dir && !deep:
			return fs.SkipDir
		case !d.Type().IsRegular():
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) { // a table compacted away meanwhile
			return nil
		} else if err != nil {
			return err
		}
		apparent += info.Size()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			onDisk += st.Blocks * 512
		} else {
			onDisk += info.Size()
		}
		return nil
	})
	return onDisk, apparent, err
}
