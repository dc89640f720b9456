package load

import (
	"math"
	"testing"
	"time"
)

// The histogram's bucket count and relative precision.
const (
	histBuckets  = len(Histogram{}.counts)
	histSubCount = 1 << histSubBits
)

func TestHistogramIndexRoundTrip(t *testing.T) {
	// Every value lands in a bucket whose upper bound is at or above it and
	// within the histogram's relative precision.
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 123456, 1 << 40, math.MaxInt64, math.MaxUint64} {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d, outside [0, %d)", v, i, histBuckets)
		}
		up := histUpper(i)
		if up < v {
			t.Errorf("histUpper(histIndex(%d)) = %d, below the value", v, up)
		}
		if v > 0 && float64(up-v)/float64(v) > 1.0/histSubCount {
			t.Errorf("histUpper(histIndex(%d)) = %d, more than 1/%d above", v, up, histSubCount)
		}
		if i > 0 && histUpper(i-1) >= v {
			t.Errorf("value %d also fits bucket %d below its own", v, i-1)
		}
	}
	// The buckets tile the whole range: each ends where the next begins.
	for i := range histBuckets - 1 {
		if up := histUpper(i); histIndex(up) != i || histIndex(up+1) != i+1 {
			t.Fatalf("bucket %d ends at %d: histIndex gives %d, and %d past it", i, up, histIndex(up), histIndex(up+1))
		}
	}
	if histUpper(histBuckets-1) != math.MaxUint64 {
		t.Errorf("the last bucket ends at %d, not the top of uint64", histUpper(histBuckets-1))
	}
}

func TestHistogramPercentiles(t *testing.T) {
	tests := []struct {
		name   string
		values func(record func(time.Duration))
		want   map[float64]time.Duration
		max    time.Duration
	}{
		{
			name: "uniform 1..10000 µs",
			values: func(record func(time.Duration)) {
				for i := 1; i <= 10000; i++ {
					record(time.Duration(i) * time.Microsecond)
				}
			},
			want: map[float64]time.Duration{50: 5000 * time.Microsecond, 90: 9000 * time.Microsecond, 99: 9900 * time.Microsecond, 100: 10 * time.Millisecond},
			max:  10 * time.Millisecond,
		},
		{
			name: "90 % fast, 10 % slow",
			values: func(record func(time.Duration)) {
				for i := range 1000 {
					if i%10 == 9 {
						record(50 * time.Millisecond)
					} else {
						record(time.Millisecond)
					}
				}
			},
			want: map[float64]time.Duration{50: time.Millisecond, 90: time.Millisecond, 91: 50 * time.Millisecond, 99: 50 * time.Millisecond},
			max:  50 * time.Millisecond,
		},
		{
			name:   "one value",
			values: func(record func(time.Duration)) { record(777 * time.Microsecond) },
			want:   map[float64]time.Duration{0: 777 * time.Microsecond, 50: 777 * time.Microsecond, 100: 777 * time.Microsecond},
			max:    777 * time.Microsecond,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Record into two halves and merge, as the load generator does.
			var a, b Histogram
			n := 0
			tc.values(func(d time.Duration) {
				if n%2 == 0 {
					a.Record(d)
				} else {
					b.Record(d)
				}
				n++
			})
			a.Merge(&b)
			if got := a.total; got != uint64(n) {
				t.Fatalf("total = %d, want %d", got, n)
			}
			for p, want := range tc.want {
				got := a.Percentile(p)
				if diff := math.Abs(float64(got-want)) / float64(want); diff > 1.0/histSubCount {
					t.Errorf("Percentile(%g) = %s, want %s (±1/%d)", p, got, want, histSubCount)
				}
			}
			if got := a.Max(); got != tc.max {
				t.Errorf("Max() = %s, want %s", got, tc.max)
			}
		})
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	if h.Percentile(99) != 0 || h.Max() != 0 || h.Mean() != 0 || h.total != 0 {
		t.Errorf("empty histogram: got p99 %s, max %s, mean %s, count %d; want zeros", h.Percentile(99), h.Max(), h.Mean(), h.total)
	}
}
