// Package procstat samples a process from /proc (read by
// proxy/proxytest/procfs, which the tests measuring a child server share):
// its resident memory (in parts: anonymous, file-backed) and CPU time,
// over a measured window or as a series, and the disk space a directory
// takes.
package procstat

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest/procfs"
)

// ProcStats is what a sampler saw of a process (and its children, for
// nginx's workers) during one load run.
type ProcStats struct {
	PID int
	// Processes counts the processes sampled (nginx: master and workers).
	Processes int
	// PeakRSS is the largest resident set (summed over the processes) seen by
	// a sample during the run, warm-up included.
	PeakRSS uint64
	// HWM is the root process's VmHWM at the end of the run: its peak RSS
	// since it started, which a sample interval cannot miss.
	HWM uint64
	// CPU is user+system time spent during the measured window.
	CPU time.Duration
	// Wall is the measured window.
	Wall time.Duration
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
	root  int
	pids  []int
	start time.Time
	stop  chan struct{}
	done  chan struct{}

	mu        sync.Mutex
	stopped   bool
	peakRSS   uint64
	series    []MemSample
	cpuStart  time.Duration
	cpuEnd    time.Duration
	wallStart time.Time
	wallEnd   time.Time
}

// Start starts sampling pid and its direct children (found now) every
// interval. It returns an error when the process cannot be read.
func Start(pid int, interval time.Duration) (*Sampler, error) {
	return startSampler(pid, interval, true)
}

// StartSelf samples the bench's own process only: its children are
// the servers it measures (Stockpile, nginx's master), whose CPU is not the
// load generator's.
func StartSelf(interval time.Duration) (*Sampler, error) {
	return startSampler(os.Getpid(), interval, false)
}

func startSampler(pid int, interval time.Duration, children bool) (*Sampler, error) {
	if _, err := procfs.ReadMemStatus(pid); err != nil {
		return nil, fmt.Errorf("sampler: %w", err)
	}
	pids := []int{pid}
	if children {
		pids = append(pids, childrenOf(pid)...)
	}
	s := &Sampler{root: pid, pids: pids, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s, nil
}

func (s *Sampler) sample() {
	var rss uint64
	var root procfs.MemStatus
	var rootErr error
	for i, p := range s.pids {
		m, err := procfs.ReadMemStatus(p)
		if i == 0 {
			root, rootErr = m, err
		}
		rss += m.RSS
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peakRSS = max(s.peakRSS, rss)
	if rootErr == nil {
		s.series = append(s.series, MemSample{At: time.Since(s.start), MemStatus: root})
	}
}

func (s *Sampler) cpu() time.Duration {
	var total time.Duration
	for _, p := range s.pids {
		if v, err := procfs.ReadCPU(p); err == nil {
			total += v
		}
	}
	return total
}

// MeasureStart implements load.Observer.
func (s *Sampler) MeasureStart() {
	c := s.cpu()
	s.mu.Lock()
	s.cpuStart, s.wallStart = c, time.Now()
	s.mu.Unlock()
}

// MeasureEnd implements load.Observer.
func (s *Sampler) MeasureEnd() {
	c := s.cpu()
	s.mu.Lock()
	s.cpuEnd, s.wallEnd = c, time.Now()
	s.mu.Unlock()
}

// Stop ends sampling (after a last sample) and returns what was seen. It
// may be called more than once.
func (s *Sampler) Stop() ProcStats {
	s.mu.Lock()
	first := !s.stopped
	s.stopped = true
	s.mu.Unlock()
	if first {
		close(s.stop)
		<-s.done
		s.sample()
	}
	m, _ := procfs.ReadMemStatus(s.root)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ProcStats{PID: s.root, Processes: len(s.pids), PeakRSS: s.peakRSS, HWM: m.HWM}
	if !s.wallStart.IsZero() && !s.wallEnd.IsZero() {
		st.CPU = max(s.cpuEnd-s.cpuStart, 0)
		st.Wall = s.wallEnd.Sub(s.wallStart)
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
	At time.Duration `json:"-"` // since the series started
	procfs.MemStatus
}

// MarshalJSON adds the time in seconds.
func (s MemSample) MarshalJSON() ([]byte, error) {
	type plain procfs.MemStatus
	return json.Marshal(struct {
		T float64 `json:"t_s"`
		plain
	}{s.At.Seconds(), plain(s.MemStatus)})
}

// MemPeaks are the largest values a series saw, each on its own (they need
// not come from the same sample), and the sample whose VmRSS was largest.
type MemPeaks struct {
	RSS, Anon, File, Shmem uint64
	AtPeakRSS              procfs.MemStatus
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
		p.Shmem = max(p.Shmem, s.Shmem)
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
