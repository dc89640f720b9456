// Package procfs reads a process's resident memory and CPU time from
// Linux's /proc (proc(5)): what the tests that measure a server in a child
// process (proxytest.Child) and cmd/stockpile-bench's process sampler both
// read.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports (the kernel hides its real
// HZ behind it), so there is no need for sysconf.
const clockTicks = 100

// MemStatus is a process's resident memory as /proc/PID/status splits it:
// VmRSS = RssAnon + RssFile + RssShmem. File-backed pages (RssFile) include
// the pages of files the process maps, such as Badger's value log read
// through mmap: the kernel may drop them under pressure, unlike RssAnon
// (the heap, stacks, buffers). HWM (VmHWM) is the most it has been
// resident.
type MemStatus struct {
	RSS   uint64 `json:"rss_bytes"`
	Anon  uint64 `json:"rss_anon_bytes"`
	File  uint64 `json:"rss_file_bytes"`
	Shmem uint64 `json:"rss_shmem_bytes"`
	HWM   uint64 `json:"hwm_bytes"`
}

// ReadMemStatus reads the Rss* and VmHWM lines of /proc/PID/status in one
// pass.
func ReadMemStatus(pid int) (MemStatus, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return MemStatus{}, err
	}
	return ParseMemStatus(raw)
}

// ParseMemStatus reads the lines of a /proc/PID/status file that
// MemStatus holds; VmRSS is required.
func ParseMemStatus(raw []byte) (MemStatus, error) {
	var m MemStatus
	fields := map[string]*uint64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon, "RssFile:": &m.File, "RssShmem:": &m.Shmem, "VmHWM:": &m.HWM}
	seenRSS := false
	for line := range strings.Lines(string(raw)) {
		key, rest, ok := strings.Cut(line, "\t")
		if !ok {
			key, rest, ok = strings.Cut(line, " ")
		}
		dst := fields[strings.TrimSpace(key)]
		if !ok || dst == nil {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return MemStatus{}, fmt.Errorf("/proc status %s: %w", key, err)
		}
		*dst = kb * 1024
		if dst == &m.RSS {
			seenRSS = true
		}
	}
	if !seenRSS {
		return MemStatus{}, errors.New("/proc status: no VmRSS line")
	}
	return m, nil
}

// StatFields returns the fields of /proc/PID/stat after the command name,
// which is in parentheses and may itself contain spaces and parentheses:
// fields[0] is the state (field 3 of proc(5)), fields[1] the parent pid.
func StatFields(pid int) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(raw[i+1:])), nil
}

// ReadCPU returns a process's user+system CPU time so far.
func ReadCPU(pid int) (time.Duration, error) {
	f, err := StatFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// utime and stime are fields 14 and 15 of proc(5).
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}
