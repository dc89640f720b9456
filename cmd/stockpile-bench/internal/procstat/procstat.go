// Package procstat samples a process from /proc (read by
// proxy/proxytest/procfs, which the tests measuring a child server share):
// its resident memory (in parts: anonymous, file-backed) and CPU time,
// over a measured window or as a series, and the disk space a directory
// takes.
package procstat

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest/procfs"
)

// ProcStats is what a sampler saw of a process (and its children, for
// nginx's workers) during one load run.
type ProcStats struct {
	PID       int
	Processes int // sampled: nginx's master and workers
	// PeakRSS is the largest resident set summed over the processes that a
	// sample saw, warm-up included; HWM is the root's VmHWM at the end, its
	// peak since it started, which no sample interval can miss.
	PeakRSS, HWM uint64
	// CPU is the user+system time spent during the measured window, Wall.
	CPU, Wall time.Duration
}

// Cores returns the average number of cores busy during the window.
func (s ProcStats) Cores() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return s.CPU.Seconds() / s.Wall.Seconds()
}

// CPUPerRequest returns the CPU time spent per request of n, or 0.
func (s ProcStats) CPUPerRequest(n uint64) time.Duration {
	if n == 0 || s.Wall <= 0 {
		return 0
	}
	return s.CPU / time.Duration(n)
}

// Sampler samples a process tree every interval: its summed RSS (kept as
// a peak) and the root's memory in parts (kept as a series), and its CPU
// time at the edges of the measured window. It implements load.Observer.
type Sampler struct {
	pids   []int // the root first
	start  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	peakRSS uint64
	series  []MemSample
	cpu     [2]time.Duration // at MeasureStart and MeasureEnd
	wall    [2]time.Time
}

// Start starts sampling pid every interval, with its direct children
// (found now: nginx's workers) when tree is set; the bench samples itself
// without them, the servers it measures. It returns an error when the
// process cannot be read.
func Start(pid int, tree bool, interval time.Duration) (*Sampler, error) {
	pids := []int{pid}
	if tree {
		pids = append(pids, childrenOf(pid)...)
	}
	if _, err := procfs.ReadMemStatus(pids[0]); err != nil {
		return nil, fmt.Errorf("sampler: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sampler{pids: pids, start: time.Now(), cancel: cancel}
	s.sample()
	s.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sample()
			}
		}
	})
	return s, nil
}

func (s *Sampler) sample() {
	var rss uint64
	root, rootErr := procfs.ReadMemStatus(s.pids[0])
	for _, p := range s.pids[1:] {
		m, _ := procfs.ReadMemStatus(p)
		rss += m.RSS
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peakRSS = max(s.peakRSS, rss+root.RSS)
	if rootErr == nil {
		at := time.Since(s.start)
		s.series = append(s.series, MemSample{At: at, T: at.Seconds(), MemStatus: root})
	}
}

// mark notes the processes' CPU time and the time at an edge (0: start,
// 1: end) of the measured window.
func (s *Sampler) mark(edge int) {
	var total time.Duration
	for _, p := range s.pids {
		if v, err := procfs.ReadCPU(p); err == nil {
			total += v
		}
	}
	s.mu.Lock()
	s.cpu[edge], s.wall[edge] = total, time.Now()
	s.mu.Unlock()
}

// MeasureStart implements load.Observer.
func (s *Sampler) MeasureStart() { s.mark(0) }

// MeasureEnd implements load.Observer.
func (s *Sampler) MeasureEnd() { s.mark(1) }

// Stop ends sampling (after a last sample) and returns what was seen. It
// may be called more than once.
func (s *Sampler) Stop() ProcStats {
	s.cancel()
	s.wg.Wait()
	s.sample()
	m, _ := procfs.ReadMemStatus(s.pids[0])
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ProcStats{PID: s.pids[0], Processes: len(s.pids), PeakRSS: s.peakRSS, HWM: m.HWM}
	if !s.wall[0].IsZero() && !s.wall[1].IsZero() {
		st.CPU, st.Wall = max(s.cpu[1]-s.cpu[0], 0), s.wall[1].Sub(s.wall[0])
	}
	return st
}

// Series returns the root's memory as sampled so far.
func (s *Sampler) Series() []MemSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.series)
}

// childrenOf returns the processes whose parent is pid.
func childrenOf(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := strconv.Itoa(pid)
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		f, err := procfs.StatFields(p)
		if err == nil && len(f) > 1 && f[1] == want {
			out = append(out, p)
		}
	}
	return out
}

// MemSample is one sample of a memory series.
type MemSample struct {
	At time.Duration `json:"-"`   // since the series started
	T  float64       `json:"t_s"` // At in seconds
	procfs.MemStatus
}

// MemPeaks are the largest values a series saw, each on its own (they need
// not come from the same sample), and the sample whose VmRSS was largest.
type MemPeaks struct {
	RSS, Anon, File uint64
	AtPeakRSS       procfs.MemStatus
}

// Peaks returns the peaks of samples.
func Peaks(samples []MemSample) MemPeaks {
	var p MemPeaks
	for _, s := range samples {
		if s.RSS > p.RSS {
			p.RSS, p.AtPeakRSS = s.RSS, s.MemStatus
		}
		p.Anon = max(p.Anon, s.Anon)
		p.File = max(p.File, s.File)
	}
	return p
}

// Slope fits a line by least squares to the samples taken at or after
// from and returns its slope in bytes per minute of the field pick picks,
// and how many samples it used (fewer than 2: slope 0).
func Slope(samples []MemSample, from time.Duration, pick func(procfs.MemStatus) uint64) (float64, int) {
	var n, sx, sy, sxx, sxy float64
	for _, s := range samples {
		if s.At < from {
			continue
		}
		x, y := s.At.Minutes(), float64(pick(s.MemStatus))
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	d := n*sxx - sx*sx
	if n < 2 || d == 0 {
		return 0, int(n)
	}
	return (n*sxy - sx*sy) / d, int(n)
}

// MemAt returns the last sample taken at or before at (the first sample
// when none is).
func MemAt(samples []MemSample, at time.Duration) MemSample {
	var out MemSample
	for i, sm := range samples {
		if i == 0 || sm.At <= at {
			out = sm
		}
	}
	return out
}

// DirUsage returns the bytes the regular files in dir take on disk (their
// allocated blocks, since Badger creates its logs at full size and fills
// them as it goes) and their apparent size; deep counts the whole tree,
// otherwise only the files directly in dir (in a Stockpile data directory:
// Badger's tables and logs, not the package files below blobs/).
func DirUsage(dir string, deep bool) (onDisk, apparent int64, err error) {
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
