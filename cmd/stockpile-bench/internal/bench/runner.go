package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/procstat"
)

// MaxRounds bounds the rounds of a run.
const MaxRounds = 10

// SamplerInterval is how often RSS is sampled during a run.
const SamplerInterval = 100 * time.Millisecond

// Runner measures the targets of scenarios, one at a time, in interleaved
// rounds, every other round in reverse (A B, B A, A B …), so that drift on a
// shared machine, and whatever a round's first run inherits from the run
// before it, hit every target alike.
type Runner struct {
	Load   load.Config // the command line's load shape
	Rounds int
	// Pause separates two runs, so the previous run's connections are gone.
	Pause time.Duration
	Log   *slog.Logger
}

// TargetReport is everything measured for one target.
type TargetReport struct {
	Target Target        `json:"target"`
	Rounds []RoundResult `json:"rounds"`
}

// MarshalJSON adds the medians.
func (t *TargetReport) MarshalJSON() ([]byte, error) {
	type plain TargetReport
	return json.Marshal(struct {
		*plain
		Median Summary `json:"median"`
	}{(*plain)(t), t.Median()})
}

// RoundResult is one run of one target.
type RoundResult struct {
	Round  int          `json:"round"`
	Load   load.Config  `json:"load"` // the shape this run had
	Result *load.Result `json:"result"`
	// Server is what the sampler saw of the target's server (nil when no
	// PID is known); Bench is the bench's own process, the load generator,
	// which shares the machine's cores with the server.
	Server *procstat.ProcStats `json:"server,omitempty"`
	Bench  *procstat.ProcStats `json:"bench,omitempty"`
	// Memory is the server's memory series when the target asked for it.
	Memory []procstat.MemSample `json:"memory_series,omitempty"`
}

// ScenarioReport is one scenario's results.
type ScenarioReport struct {
	Name     string          `json:"name"`
	Info     map[string]any  `json:"info,omitempty"`
	Targets  []*TargetReport `json:"targets"`
	Findings []Finding       `json:"findings,omitempty"`
	// Ratios and OK are NewReport's verdicts.
	Ratios []Ratio `json:"ratios,omitempty"`
	OK     bool    `json:"ok"`
}

// Run sets sc up, measures its targets, checks them and tears it down.
func (r *Runner) Run(ctx context.Context, sc Scenario) (rep *ScenarioReport, err error) {
	r.Log.Info("scenario setup", "scenario", sc.Name())
	defer func() {
		if terr := sc.Teardown(); terr != nil {
			err = errors.Join(err, fmt.Errorf("%s: teardown: %w", sc.Name(), terr))
		}
	}()
	if err := sc.Setup(ctx); err != nil {
		return nil, err
	}
	rep = &ScenarioReport{Name: sc.Name()}
	for _, t := range sc.Targets() {
		rep.Targets = append(rep.Targets, &TargetReport{Target: t})
	}
	first := true
	for round := 1; round <= r.Rounds; round++ {
		for _, tr := range roundOrder(rep.Targets, round) {
			if round > 1 && tr.Target.Load != nil {
				continue
			}
			if !first {
				if err := Sleep(ctx, r.Pause); err != nil {
					return nil, err
				}
			}
			first = false
			rr, err := r.measure(ctx, tr.Target, round)
			if err != nil {
				return nil, fmt.Errorf("%s: %s round %d: %w", sc.Name(), tr.Target.Name, round, err)
			}
			rr.Round = round
			tr.Rounds = append(tr.Rounds, *rr)
			res := rr.Result
			r.Log.Info("measured", "scenario", sc.Name(), "target", tr.Target.Name, "round", round,
				"req_per_s", fmt.Sprintf("%.0f", res.RequestsPerSecond()),
				"p99", res.Latency.Percentile(99).Round(time.Microsecond), "errors", res.Errors.Total())
		}
	}
	if c, ok := sc.(Checker); ok {
		if rep.Findings, err = c.Check(ctx, rep.Targets); err != nil {
			return nil, err
		}
	}
	rep.Info = sc.Info()
	return rep, nil
}

// roundOrder is the order of the targets in a round: as given in odd
// rounds, reversed in even ones.
func roundOrder(targets []*TargetReport, round int) []*TargetReport {
	if round%2 == 1 {
		return targets
	}
	rev := slices.Clone(targets)
	slices.Reverse(rev)
	return rev
}

// shape returns the load of a target's runs in a round.
func (r *Runner) shape(t Target, round int) load.Config {
	cfg := r.Load
	if t.Load != nil {
		cfg = *t.Load
		cfg.Duration, cfg.Timeout = cmp.Or(cfg.Duration, r.Load.Duration), cmp.Or(cfg.Timeout, r.Load.Timeout)
	}
	cfg.Seed += uint64(round)
	return cfg
}

// measure runs one load run against t, sampling its server and the bench.
func (r *Runner) measure(ctx context.Context, t Target, round int) (*RoundResult, error) {
	if t.Prepare != nil {
		if err := t.Prepare(ctx, round, &t); err != nil {
			return nil, err
		}
	}
	cfg := r.shape(t, round)
	self, err := procstat.Start(os.Getpid(), false, SamplerInterval)
	if err != nil {
		return nil, err
	}
	defer self.Stop()
	cfg.Observers = []load.Observer{self}
	var server *procstat.Sampler
	if t.PID > 0 {
		if server, err = procstat.Start(t.PID, true, cmp.Or(t.Memory, SamplerInterval)); err != nil {
			return nil, fmt.Errorf("%s is gone: %w", t.Name, err)
		}
		defer server.Stop()
		cfg.Observers = append(cfg.Observers, server)
	}
	res, err := load.Run(ctx, cfg, t.Requests...)
	if err != nil {
		return nil, err
	}
	rr := &RoundResult{Load: cfg, Result: res}
	if server != nil {
		st := server.Stop()
		rr.Server = &st
		if t.Memory > 0 {
			rr.Memory = server.Series()
		}
	}
	st := self.Stop()
	rr.Bench = &st
	return rr, nil
}

func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Summary is the median of a target's rounds, metric by metric.
type Summary struct {
	Rounds      int           `json:"rounds"`
	RPS         float64       `json:"requests_per_s"`
	BytesPerSec float64       `json:"bytes_per_s"`
	P50         time.Duration `json:"p50_ns"`
	P90         time.Duration `json:"p90_ns"`
	P99         time.Duration `json:"p99_ns"`
	Max         time.Duration `json:"max_ns"`
	Errors      uint64        `json:"errors_total"`                    // summed, not a median
	PeakRSS     uint64        `json:"server_peak_rss_bytes,omitempty"` // the largest of the rounds
	HWM         uint64        `json:"server_hwm_bytes,omitempty"`      // the largest of the rounds
	ServerCores float64       `json:"server_cores,omitempty"`
	BenchCores  float64       `json:"bench_cores,omitempty"`
	// ServerCPUPerReq is the server's CPU time per successful request: on a
	// machine whose cores the load generator shares, a fairer comparison of
	// the servers' costs than throughput alone.
	ServerCPUPerReq time.Duration `json:"server_cpu_ns_per_request,omitempty"`
}

// Median summarizes t's rounds.
func (t *TargetReport) Median() Summary {
	s := Summary{Rounds: len(t.Rounds)}
	if len(t.Rounds) == 0 {
		return s
	}
	var rps, bps, cores, bench []float64
	var p50, p90, p99, mx, cpr []time.Duration
	for _, r := range t.Rounds {
		res := r.Result
		rps = append(rps, res.RequestsPerSecond())
		bps = append(bps, res.BytesPerSecond())
		p50 = append(p50, res.Latency.Percentile(50))
		p90 = append(p90, res.Latency.Percentile(90))
		p99 = append(p99, res.Latency.Percentile(99))
		mx = append(mx, res.Latency.Max())
		s.Errors += res.Errors.Total()
		if r.Server != nil {
			s.PeakRSS, s.HWM = max(s.PeakRSS, r.Server.PeakRSS), max(s.HWM, r.Server.HWM)
			cores = append(cores, r.Server.Cores())
			cpr = append(cpr, r.Server.CPUPerRequest(res.OK))
		}
		if r.Bench != nil {
			bench = append(bench, r.Bench.Cores())
		}
	}
	s.RPS, s.BytesPerSec = load.Median(rps), load.Median(bps)
	s.P50, s.P90, s.P99, s.Max = load.Median(p50), load.Median(p90), load.Median(p99), load.Median(mx)
	s.ServerCores, s.BenchCores = load.Median(cores), load.Median(bench)
	s.ServerCPUPerReq = load.Median(cpr)
	return s
}

// Ratio compares the two sides of a pair on median requests per second.
type Ratio struct {
	Pair      string  `json:"pair"`
	Stockpile float64 `json:"stockpile_requests_per_s"`
	Baseline  float64 `json:"nginx_requests_per_s"`
	Value     float64 `json:"ratio"`
	BelowMin  bool    `json:"below_min,omitempty"`
}

// Ratios returns the ratio of every complete pair of rep, in the order of
// their Stockpile sides, flagged when below minRatio (0: no minimum).
func Ratios(rep *ScenarioReport, minRatio float64) []Ratio {
	var out []Ratio
	for _, sp := range rep.Targets {
		pair := sp.Target.Pair
		i := slices.IndexFunc(rep.Targets, func(u *TargetReport) bool { return u.Target.Pair == pair && u.Target.Side == SideBaseline })
		if pair == "" || sp.Target.Side != SideStockpile || i < 0 {
			continue // not the Stockpile side of a complete pair
		}
		r := Ratio{Pair: pair, Stockpile: sp.Median().RPS, Baseline: rep.Targets[i].Median().RPS}
		if r.Baseline > 0 {
			r.Value = r.Stockpile / r.Baseline
		}
		r.BelowMin = minRatio > 0 && r.Value < minRatio
		out = append(out, r)
	}
	return out
}
