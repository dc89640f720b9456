package procstat

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// DatabaseBytes returns the disk space Badger's files take in a Stockpile
// data directory: the files directly in it (tables, value and write-ahead
// logs), not the package files below blobs/. It counts allocated blocks,
// since Badger creates its logs at full size and fills them as it goes.
func DatabaseBytes(dir string) (uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			if os.IsNotExist(err) { // a table compacted away meanwhile
				continue
			}
			return 0, err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return 0, fmt.Errorf("%s: no block count", fi.Name())
		}
		n += uint64(st.Blocks) * 512
	}
	return n, nil
}

// DirUsage returns the bytes a directory tree takes on disk (allocated
// blocks: Badger's value log and write-ahead log are sparse) and its files'
// apparent size.
func DirUsage(dir string) (onDisk, apparent int64, err error) {
	err = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
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
