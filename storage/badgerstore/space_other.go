//go:build !linux

package badgerstore

// freeSpace cannot tell on this system: writes are never refused.
func freeSpace(string) (uint64, bool) { return 0, false }
