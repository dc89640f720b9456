package load

import (
	"encoding/json"
	"math"
	"math/bits"
	"time"
)

// Histogram records latencies in HDR style: exact below 256 ns, then 128
// linear sub-buckets per power of two, so a value is reported within 1/128
// of itself in a fixed ~60 KB. The zero value is ready; it is not safe for
// concurrent use (each connection has its own, merged at the end).
type Histogram struct {
	counts        [58 << histSubBits]uint64 // shifts 0..56, see histIndex
	total         uint64
	min, max, sum uint64
}

const histSubBits = 7

// histIndex returns the bucket of v: values below 256 have their own, the
// rest the bucket of their top 8 significant bits.
func histIndex(v uint64) int {
	shift := max(bits.Len64(v)-(histSubBits+1), 0)
	return shift<<histSubBits + int(v>>shift)
}

// histUpper returns the largest value of bucket i, which HDR histograms
// report for a percentile ("highest equivalent value").
func histUpper(i int) uint64 {
	if i < 2<<histSubBits {
		return uint64(i)
	}
	shift := i>>histSubBits - 1
	return uint64(i-shift<<histSubBits+1)<<shift - 1
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histIndex(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	h.max, h.total, h.sum = max(h.max, v), h.total+1, h.sum+v
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
	h.max, h.total, h.sum = max(h.max, o.max), h.total+o.total, h.sum+o.sum
}

// MarshalJSON writes the distribution's summary, in nanoseconds.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]time.Duration{"min": time.Duration(h.min), "mean": h.Mean(), "p50": h.Percentile(50),
		"p90": h.Percentile(90), "p99": h.Percentile(99), "max": h.Max()})
}

// Max returns the largest value recorded, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the mean of the recorded values.
func (h *Histogram) Mean() time.Duration { return time.Duration(h.sum / max(h.total, 1)) }

// Percentile returns the value at or below which p percent of the values
// fall (p in [0, 100]) within the histogram's precision, clamped to
// [Min, Max]; 0 when empty.
func (h *Histogram) Percentile(p float64) time.Duration {
	rank := max(uint64(math.Ceil(min(max(p, 0), 100)/100*float64(h.total))), 1)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return time.Duration(min(max(histUpper(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}
