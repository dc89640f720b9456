package badgerstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Blob files live in blobDir (blobs/ below the store's directory, or a
// temporary directory for an in-memory store), spread over 256
// subdirectories by the first byte of their upload id. Plain files keep
// blobs out of Badger's memory-mapped value log: reading one costs no
// resident memory, and servers can send it with sendfile.

// blobsSubdir is the directory below Options.Dir that holds blob files.
const blobsSubdir = "blobs"

// filePath is where the bytes of upload id live.
func (s *Store) filePath(id uploadID) string {
	h := id.String()
	return filepath.Join(s.blobDir, h[:2], h)
}

// prepareBlobDir creates dir and its 256 subdirectories, and makes their
// entries durable.
func prepareBlobDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("badgerstore: blob directory: %w", err)
	}
	for i := range 256 {
		if err := os.Mkdir(filepath.Join(dir, fmt.Sprintf("%02x", i)), 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("badgerstore: blob directory: %w", err)
		}
	}
	return syncDir(dir)
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("badgerstore: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("badgerstore: sync directory %s: %w", dir, err)
	}
	return nil
}

// removeFile deletes the file of upload id; an absent file is not an error.
func (s *Store) removeFile(id uploadID) error {
	if err := os.Remove(s.filePath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("badgerstore: remove blob file of upload %s: %w", id, err)
	}
	return nil
}
