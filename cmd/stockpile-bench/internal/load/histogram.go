package load

import (
	"encoding/json"
	"math"
	"math/bits"
	"time"
)

// Histogram records latencies in HDR style: exact below 256 ns, then 128
// linear sub-buckets per power of two, so any recorded value is reported
// within 1/128 (< 0.8 %) of itself whatever the range, in a fixed ~60 KB.
// The zero value is ready to use; it is not safe for concurrent use (each
// load-generator connection has its own and they are merged at the end).
type Histogram struct {
	counts [histBuckets]uint64
	total  uint64
	min    uint64
	max    uint64
	sum    float64
}

const (
	histSubBits  = 7
	histSubCount = 1 << histSubBits // linear sub-buckets per power of two
	histExact    = 2 * histSubCount // values below this have their own bucket
	// Shifts run from 1 (values 256..511) to 64-histSubBits-1 (the top of uint64).
	histBuckets = histExact + (64-histSubBits-1)*histSubCount
)

// histIndex returns the bucket of v.
func histIndex(v uint64) int {
	if v < histExact {
		return int(v)
	}
	shift := bits.Len64(v) - (histSubBits + 1)
	top := v >> uint(shift) // in [histSubCount, 2*histSubCount)
	return histExact + (shift-1)*histSubCount + int(top-histSubCount)
}

// histUpper returns the largest value that falls into bucket i, as HDR
// histograms report percentiles ("highest equivalent value").
func histUpper(i int) uint64 {
	if i < histExact {
		return uint64(i)
	}
	j := i - histExact
	shift := j/histSubCount + 1
	top := uint64(j%histSubCount + histSubCount)
	return (top+1)<<uint(shift) - 1
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histIndex(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.total++
	h.sum += float64(v)
}

// Merge adds every value recorded in o.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.total += o.total
	h.sum += o.sum
}

// MarshalJSON writes the distribution's summary, in nanoseconds.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]time.Duration{"min": h.Min(), "mean": h.Mean(), "p50": h.Percentile(50),
		"p90": h.Percentile(90), "p99": h.Percentile(99), "max": h.Max()})
}

// Count returns how many values were recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Max returns the largest value recorded, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min returns the smallest value recorded, exactly.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean returns the mean of the recorded values.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// Percentile returns the value below or at which p percent of the recorded
// values fall (p in [0, 100]), within the histogram's precision, never more
// than Max. It returns 0 for an empty histogram.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	p = min(max(p, 0), 100)
	rank := uint64(math.Ceil(p / 100 * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(histUpper(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}
