package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/procstat"
)

// fakeRound makes a round of ok requests over one second.
func fakeRound(round int, ok uint64, lat time.Duration) RoundResult {
	h := &load.Histogram{}
	for range ok {
		h.Record(lat)
	}
	return RoundResult{
		Round:  round,
		Load:   load.Config{Connections: 16},
		Result: &load.Result{Requests: ok, OK: ok, Bytes: ok * 1000, Elapsed: time.Second, Latency: h},
		Server: &procstat.ProcStats{PID: 42, Processes: 1, PeakRSS: uint64(round) << 20, HWM: 10 << 20, CPU: time.Second, Wall: time.Second},
	}
}

func fakeScenario() *ScenarioReport {
	target := func(name, pair, side string, rps ...uint64) *TargetReport {
		t := &TargetReport{Target: Target{Name: name, Pair: pair, Side: side, Requests: []load.Request{{URL: "http://127.0.0.1/" + name}}}}
		for i, r := range rps {
			t.Rounds = append(t.Rounds, fakeRound(i+1, r, time.Millisecond))
		}
		return t
	}
	return &ScenarioReport{
		Name: "npm-warm",
		Info: map[string]any{"package": "p"},
		Targets: []*TargetReport{
			target("stockpile packument", "packument", SideStockpile, 900, 1000, 5000),
			target("nginx packument", "packument", SideBaseline, 1000, 2000, 1100),
			target("stockpile tarball", "tarball", SideStockpile, 500, 500, 500),
			target("nginx tarball", "tarball", SideBaseline, 1000, 1000, 1000),
		},
	}
}

func TestMedianAndRatios(t *testing.T) {
	rep := fakeScenario()
	m := rep.Targets[0].Median()
	if m.RPS != 1000 || m.Rounds != 3 || m.PeakRSS != 3<<20 {
		t.Errorf("median %+v: want 1000 req/s over 3 rounds, peak RSS 3 MiB", m)
	}
	rs := Ratios(rep, 0.8)
	if len(rs) != 2 {
		t.Fatalf("ratios %+v, want packument and tarball", rs)
	}
	// Medians: 1000 vs 1100 and 500 vs 1000.
	if rs[0].Pair != "packument" || rs[0].Value < 0.909 || rs[0].Value > 0.910 || rs[0].BelowMin {
		t.Errorf("packument ratio %+v, want 0.909 and not below 0.8", rs[0])
	}
	if rs[1].Pair != "tarball" || rs[1].Value != 0.5 || !rs[1].BelowMin {
		t.Errorf("tarball ratio %+v, want 0.5, below 0.8", rs[1])
	}
	if load.Median([]float64{3, 1, 2, 10}) != 2.5 || load.Median([]time.Duration{}) != 0 {
		t.Error("median of an even count is the mean of the middle two, of none zero")
	}
}

func TestReport(t *testing.T) {
	cfg := load.Config{Connections: 16, Duration: 10 * time.Second, Warmup: 2 * time.Second}
	rep := NewReport(time.Unix(0, 0).UTC(), cfg, 3, 0.8, "nginx/1.22.1", []*ScenarioReport{fakeScenario()})
	if rep.OK {
		t.Error("a ratio below --min-ratio must fail the report")
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"== npm-warm",
		"packument: stockpile/nginx = 0.91 (1000 vs 1100 req/s)",
		"tarball: stockpile/nginx = 0.50 (500 vs 1000 req/s)  BELOW --min-ratio 0.80",
		"stockpile peak RSS: 3.0MiB",
		"median",
		"package: p",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}

	path := filepath.Join(t.TempDir(), "r.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Load     load.Config `json:"load"`
		Host     struct{ Nginx string }
		MinRatio float64 `json:"min_ratio"`
		// Scenarios as written: the real types, the medians added.
		Scenarios []struct {
			OK      bool
			Ratios  []Ratio
			Targets []struct {
				Rounds []struct {
					Result struct {
						OK      uint64
						Elapsed time.Duration    `json:"elapsed_ns"`
						Latency map[string]int64 `json:"latency_ns"`
					}
					Server *procstat.ProcStats
				}
				Median Summary
			}
		}
	}
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	sc := back.Scenarios[0]
	if len(sc.Targets) != 4 || len(sc.Targets[0].Rounds) != 3 || len(sc.Ratios) != 2 || sc.OK {
		t.Errorf("JSON scenario: %d targets, %d rounds, %d Ratios, ok %v", len(sc.Targets), len(sc.Targets[0].Rounds), len(sc.Ratios), sc.OK)
	}
	r := sc.Targets[0].Rounds[0]
	if p50 := time.Duration(r.Result.Latency["p50"]); r.Result.OK != 900 || r.Result.Elapsed != time.Second || p50 < 990*time.Microsecond || p50 > 1010*time.Microsecond {
		t.Errorf("JSON round %+v", r.Result)
	}
	if r.Server == nil || r.Server.Cores() != 1 || sc.Targets[0].Median.RPS != 1000 {
		t.Errorf("JSON round's server %+v, median %+v", r.Server, sc.Targets[0].Median)
	}
	if back.Load.Connections != 16 || back.Host.Nginx != "nginx/1.22.1" || back.MinRatio != 0.8 {
		t.Errorf("JSON header %+v %+v", back.Load, back.Host)
	}

	// Without a minimum, and with a failed finding.
	ok := NewReport(time.Now(), cfg, 3, 0, "", []*ScenarioReport{fakeScenario()})
	if !ok.OK {
		t.Error("no --min-ratio: the report must pass")
	}
	fs := fakeScenario()
	fs.Findings = []Finding{{Name: "upstream tarball fetches", Value: "2 (want 1)", OK: false}}
	if NewReport(time.Now(), cfg, 3, 0, "", []*ScenarioReport{fs}).OK {
		t.Error("a failed finding must fail the report")
	}
}
