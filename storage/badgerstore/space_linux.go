package badgerstore

import "syscall"

// freeSpace returns the bytes available to unprivileged writers on dir's
// file system; ok is false when it cannot tell.
func freeSpace(dir string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}
