package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// databaseBytes returns the disk space Badger's files take in a Stockpile
// data directory: the files directly in it (tables, value and write-ahead
// logs), not the package files below blobs/. It counts allocated blocks,
// since Badger creates its logs at full size and fills them as it goes.
func databaseBytes(dir string) (uint64, error) {
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
