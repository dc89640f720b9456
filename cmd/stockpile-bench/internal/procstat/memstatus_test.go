package procstat

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest/procfs"
)

func TestMemSeriesSlopeAndPeaks(t *testing.T) {
	var samples []MemSample
	for i := range 61 {
		at := time.Duration(i) * time.Second
		anon := uint64(50<<20) + uint64(i)*(2<<20)/60 // 2 MiB/min
		samples = append(samples, MemSample{At: at, MemStatus: procfs.MemStatus{RSS: anon + 10<<20, Anon: anon, File: 10 << 20}})
	}
	samples[10].File = 90 << 20 // a spike of file pages
	samples[10].RSS = samples[10].Anon + samples[10].File
	got, n := Slope(samples, 0, func(m procfs.MemStatus) uint64 { return m.Anon })
	if n != 61 || math.Abs(got-2<<20) > 1 {
		t.Errorf("slope %.0f over %d samples, want %d", got, n, 2<<20)
	}
	if _, n := Slope(samples, 30*time.Second, func(m procfs.MemStatus) uint64 { return m.Anon }); n != 31 {
		t.Errorf("%d samples after 30s, want 31", n)
	}
	if s, n := Slope(samples[:1], 0, func(m procfs.MemStatus) uint64 { return m.Anon }); s != 0 || n != 1 {
		t.Errorf("one sample: slope %v", s)
	}
	p := Peaks(samples)
	if p.RSS != samples[10].RSS || p.AtPeakRSS.File != 90<<20 || p.Anon != samples[60].Anon {
		t.Errorf("peaks %+v", p)
	}
	if w := MemAt(samples, 30*time.Second); w.At != 30*time.Second {
		t.Errorf("MemAt 30s: %s", w.At)
	}

	s, err := Start(os.Getpid(), false, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// The ticker's samples, however slow a loaded machine makes them.
	for deadline := time.Now().Add(5 * time.Second); len(s.Series()) < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	s.Stop()
	if got := s.Series(); len(got) < 3 || got[0].RSS == 0 {
		t.Errorf("%d samples", len(got))
	}
	s.Stop() // twice is fine
}

// A sample's JSON is its time in seconds beside /proc's fields, flat.
func TestMemSampleJSON(t *testing.T) {
	raw, err := json.Marshal(MemSample{At: 1500 * time.Millisecond, T: 1.5, MemStatus: procfs.MemStatus{RSS: 3}})
	if err != nil || !strings.Contains(string(raw), `"t_s":1.5`) || !strings.Contains(string(raw), `"rss_bytes":3`) {
		t.Errorf("%s, %v", raw, err)
	}
}
