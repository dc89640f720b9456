package badgerstore

import (
	"fmt"
	"syscall"
)

// DefaultMinFreeSpace is the free space below which writes are refused.
//
// Badger creates its memtable WAL (.mem) and value-log (.vlog) files sparse
// and writes them through mmap: on a file system with no space left, a write
// into a hole of one of them is a SIGBUS that kills the process, not an
// error. So the store refuses writes, with an error wrapping syscall.ENOSPC,
// while the data directory's file system has less than this free: room for
// a memtable flush (an SST of up to the memtable's size), a chunk per
// concurrent writer and what Badger writes in the background.
const DefaultMinFreeSpace = 2 * memTableSize

// checkSpace returns an error wrapping syscall.ENOSPC when the data
// directory's file system has less than the minimum free space.
func (s *Store) checkSpace() error {
	if s.minFree <= 0 || s.dir == "" {
		return nil
	}
	free, ok := freeSpace(s.dir)
	if !ok || free >= uint64(s.minFree) {
		return nil
	}
	return fmt.Errorf("badgerstore: %s has %d bytes free, less than the %d kept so the database can always write: %w",
		s.dir, free, s.minFree, syscall.ENOSPC)
}
