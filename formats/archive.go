package formats

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Bounds of the inspection of a package archive, whatever its format.
const (
	// MaxArchiveEntries bounds the entries of an archive that is inspected.
	MaxArchiveEntries = 100_000
	// MaxZipDirectory bounds the central directory of a zip archive that
	// is inspected: archive/zip holds all of it in memory.
	MaxZipDirectory = 32 << 20
)

// CheckZipDirectory reads the end of a zip archive (APPNOTE.TXT 4.3.16 and,
// for Zip64, 4.3.14 and 4.3.15) and refuses, with an ErrTooLarge error,
// one whose central directory lists more than maxEntries entries or takes
// more than maxDir bytes: archive/zip reads the whole directory into
// memory before anything else. Archives it cannot make sense of are left
// to archive/zip to refuse.
func CheckZipDirectory(r io.ReaderAt, size int64, maxEntries int, maxDir int64) error {
	const eocdLen, locatorLen = 22, 20
	tail := min(size, 64<<10+eocdLen)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return err
	}
	at := -1
	for i := len(buf) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == 0x06054b50 {
			at = i
			break
		}
	}
	if at < 0 {
		return nil
	}
	entries := uint64(binary.LittleEndian.Uint16(buf[at+10:]))
	dir := uint64(binary.LittleEndian.Uint32(buf[at+12:]))
	if (entries == 0xffff || dir == 0xffffffff) && at >= locatorLen && binary.LittleEndian.Uint32(buf[at-locatorLen:]) == 0x07064b50 {
		off := int64(binary.LittleEndian.Uint64(buf[at-locatorLen+8:]))
		var rec [56]byte
		if off >= 0 && off+56 <= size {
			if _, err := r.ReadAt(rec[:], off); err == nil && binary.LittleEndian.Uint32(rec[:]) == 0x06064b50 {
				entries = binary.LittleEndian.Uint64(rec[32:])
				dir = binary.LittleEndian.Uint64(rec[40:])
			}
		}
	}
	if entries > uint64(maxEntries) {
		return fmt.Errorf("%w: the archive lists more than %d entries", ErrTooLarge, maxEntries)
	}
	if dir > uint64(maxDir) {
		return fmt.Errorf("%w: the archive's directory is larger than %d bytes", ErrTooLarge, maxDir)
	}
	return nil
}
