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
// a memtable flush (an SST of up to the memtable's size) and what Badger
// writes in the background. Blob files check it too, every few MiB, so that
// they never eat into it.
const DefaultMinFreeSpace = 64 << 20

// startHeadroom is the free space a new blob needs above the minimum to
// start: a blob written into the last bytes above the minimum would fail
// part-way, free its file, and let the next one start and fail the same way.
const startHeadroom = 32 << 20

// checkSpace returns an error wrapping syscall.ENOSPC when the data
// directory's file system has less than the minimum free space.
func (s *Store) checkSpace() error { return s.checkFree(0) }

// checkFree is checkSpace asking for extra bytes more.
func (s *Store) checkFree(extra int64) error {
	if s.minFree <= 0 || s.dir == "" {
		return nil
	}
	free, ok := freeSpace(s.dir)
	if !ok || free >= uint64(s.minFree+extra) {
		return nil
	}
	return fmt.Errorf("badgerstore: %s has %d bytes free, less than the %d kept so the database can always write: %w",
		s.dir, free, s.minFree+extra, syscall.ENOSPC)
}
