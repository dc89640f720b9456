package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/procstat"
)

// Report is the whole run, as --json writes it.
type Report struct {
	Started   time.Time         `json:"started"`
	Host      HostJSON          `json:"host"`
	Load      LoadJSON          `json:"load"`
	MinRatio  float64           `json:"min_ratio,omitempty"`
	Scenarios []ScenarioJSON    `json:"scenarios"`
	OK        bool              `json:"ok"`
	reports   []*ScenarioReport // for the text table
}

// HostJSON describes the machine and the tools.
type HostJSON struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	Nginx     string `json:"nginx,omitempty"`
}

// LoadJSON is the command line's load shape.
type LoadJSON struct {
	Connections int     `json:"connections"`
	DurationS   float64 `json:"duration_s"`
	Requests    int     `json:"requests,omitempty"`
	WarmupS     float64 `json:"warmup_s"`
	Rounds      int     `json:"rounds"`
}

// ScenarioJSON is one scenario.
type ScenarioJSON struct {
	Name     string         `json:"name"`
	Info     map[string]any `json:"info,omitempty"`
	Targets  []TargetJSON   `json:"targets"`
	Ratios   []RatioJSON    `json:"ratios,omitempty"`
	Findings []Finding      `json:"findings,omitempty"`
	OK       bool           `json:"ok"`
}

// TargetJSON is one target: every round and the medians.
type TargetJSON struct {
	Name   string      `json:"name"`
	Pair   string      `json:"pair,omitempty"`
	Side   string      `json:"side"`
	URL    string      `json:"url"`
	Rounds []RoundJSON `json:"rounds"`
	Median MedianJSON  `json:"median"`
}

// RoundJSON is one run.
type RoundJSON struct {
	Round       int              `json:"round"`
	Connections int              `json:"connections"`
	Requests    uint64           `json:"requests"`
	OK          uint64           `json:"ok"`
	Errors      load.ErrorCounts `json:"errors"`
	ElapsedS    float64          `json:"elapsed_s"`
	RPS         float64          `json:"requests_per_s"`
	BytesPerS   float64          `json:"bytes_per_s"`
	Bytes       uint64           `json:"bytes"`
	TimeCapped  bool             `json:"time_capped,omitempty"`
	Latency     LatencyJSON      `json:"latency_ms"`
	Server      *ProcJSON        `json:"server,omitempty"`
	// ServerCPUPerReqUS is the server's CPU time per successful request.
	ServerCPUPerReqUS float64   `json:"server_cpu_us_per_request,omitempty"`
	Bench             *ProcJSON `json:"bench,omitempty"`
	// Memory is the server's memory series, when the target asked for it.
	Memory []procstat.MemSample `json:"memory_series,omitempty"`
}

// LatencyJSON is a latency distribution in milliseconds.
type LatencyJSON struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// ProcJSON is what was sampled of a process.
type ProcJSON struct {
	PID       int     `json:"pid"`
	Processes int     `json:"processes"`
	PeakRSS   uint64  `json:"peak_rss_bytes"`
	HWM       uint64  `json:"hwm_bytes"`
	CPUS      float64 `json:"cpu_s"`
	Cores     float64 `json:"cores"`
}

// MedianJSON is a target's medians.
type MedianJSON struct {
	RPS         float64 `json:"requests_per_s"`
	BytesPerS   float64 `json:"bytes_per_s"`
	P50         float64 `json:"p50_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	Max         float64 `json:"max_ms"`
	Errors      uint64  `json:"errors_total"`
	PeakRSS     uint64  `json:"server_peak_rss_bytes,omitempty"`
	ServerCores float64 `json:"server_cores,omitempty"`
	BenchCores  float64 `json:"bench_cores,omitempty"`
	ServerCPUUS float64 `json:"server_cpu_us_per_request,omitempty"`
}

// RatioJSON compares a pair.
type RatioJSON struct {
	Pair      string  `json:"pair"`
	Ratio     float64 `json:"ratio"`
	Stockpile float64 `json:"stockpile_requests_per_s"`
	Baseline  float64 `json:"nginx_requests_per_s"`
	BelowMin  bool    `json:"below_min,omitempty"`
}

// MS is d in milliseconds, as the JSON report writes times.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// cpuPerReq returns the server's CPU time per successful request of a run.
func cpuPerReq(rr RoundResult) time.Duration {
	if rr.Server == nil {
		return 0
	}
	return rr.Server.CPUPerRequest(rr.Result.OK)
}

func procJSON(p *procstat.ProcStats) *ProcJSON {
	if p == nil {
		return nil
	}
	return &ProcJSON{PID: p.PID, Processes: p.Processes, PeakRSS: p.PeakRSS, HWM: p.HWM, CPUS: p.CPU.Seconds(), Cores: p.Cores()}
}

// NewReport builds the report of finished scenarios.
func NewReport(started time.Time, load load.Config, rounds int, minRatio float64, nginxVersion string, reps []*ScenarioReport) *Report {
	r := &Report{
		Started:  started,
		Host:     HostJSON{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Nginx: nginxVersion},
		Load:     LoadJSON{Connections: load.Connections, DurationS: load.Duration.Seconds(), Requests: load.Requests, WarmupS: load.Warmup.Seconds(), Rounds: rounds},
		MinRatio: minRatio,
		OK:       true,
		reports:  reps,
	}
	for _, rep := range reps {
		sj := ScenarioJSON{Name: rep.Name, Info: rep.Info, OK: true}
		for _, t := range rep.Targets {
			tj := TargetJSON{Name: t.Target.Name, Pair: t.Target.Pair, Side: t.Target.Side, URL: t.Target.Request.URL}
			for _, rr := range t.Rounds {
				res := rr.Result
				tj.Rounds = append(tj.Rounds, RoundJSON{
					Round: rr.Round, Connections: rr.Load.Connections,
					Requests: res.Requests, OK: res.OK, Errors: res.Errors,
					ElapsedS: res.Elapsed.Seconds(), RPS: res.RequestsPerSecond(), BytesPerS: res.BytesPerSecond(),
					Bytes: res.Bytes, TimeCapped: res.TimeCapped,
					Latency: LatencyJSON{
						Min: MS(res.Latency.Min()), Mean: MS(res.Latency.Mean()),
						P50: MS(res.Latency.Percentile(50)), P90: MS(res.Latency.Percentile(90)),
						P99: MS(res.Latency.Percentile(99)), Max: MS(res.Latency.Max()),
					},
					Server: procJSON(rr.Server), Bench: procJSON(rr.Bench),
					ServerCPUPerReqUS: us(cpuPerReq(rr)), Memory: rr.Memory,
				})
			}
			m := t.Median()
			tj.Median = MedianJSON{RPS: m.RPS, BytesPerS: m.BytesPerSec, P50: MS(m.P50), P90: MS(m.P90), P99: MS(m.P99), Max: MS(m.Max),
				Errors: m.Errors, PeakRSS: m.PeakRSS, ServerCores: m.ServerCores, BenchCores: m.BenchCores, ServerCPUUS: us(m.ServerCPUPerReq)}
			sj.Targets = append(sj.Targets, tj)
		}
		for _, ra := range Ratios(rep, minRatio) {
			sj.Ratios = append(sj.Ratios, RatioJSON{Pair: ra.Pair, Ratio: ra.Value, Stockpile: ra.Stockpile, Baseline: ra.Baseline, BelowMin: ra.BelowMin})
			if ra.BelowMin {
				sj.OK = false
			}
		}
		for _, f := range rep.Findings {
			if !f.OK {
				sj.OK = false
			}
		}
		sj.Findings = rep.Findings
		r.OK = r.OK && sj.OK
		r.Scenarios = append(r.Scenarios, sj)
	}
	return r
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return nil
}

// WriteText writes the human-readable tables.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "stockpile-bench  %s  %d CPUs  %s", r.Started.Format(time.RFC3339), r.Host.CPUs, r.Host.GoVersion)
	if r.Host.Nginx != "" {
		fmt.Fprintf(ew, "  %s", r.Host.Nginx)
	}
	fmt.Fprintln(ew)
	for i, rep := range r.reports {
		sj := r.Scenarios[i]
		fmt.Fprintf(ew, "\n== %s\n", rep.Name)
		for _, k := range slices.Sorted(maps.Keys(rep.Info)) {
			fmt.Fprintf(ew, "   %s: %v\n", k, rep.Info[k])
		}
		fmt.Fprintln(ew)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "target\tround\tconns\treq/s\tMB/s\tp50\tp90\tp99\tmax\terrors\tserver rss\tserver cores\tserver cpu/req\tbench cores\t")
		for _, t := range rep.Targets {
			for _, rr := range t.Rounds {
				one := TargetReport{Rounds: []RoundResult{rr}}
				writeRow(tw, t.Target.Name, fmt.Sprint(rr.Round), fmt.Sprint(rr.Load.Connections), one.Median())
			}
		}
		for _, t := range rep.Targets {
			if len(t.Rounds) >= 2 {
				writeRow(tw, t.Target.Name, "median", "", t.Median())
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(sj.Ratios) > 0 {
			fmt.Fprintln(ew)
		}
		for _, ra := range sj.Ratios {
			mark := ""
			if ra.BelowMin {
				mark = fmt.Sprintf("  BELOW --min-ratio %.2f", r.MinRatio)
			}
			fmt.Fprintf(ew, "%s%s\n", RatioLine(ra.Pair, ra.Ratio, ra.Stockpile, ra.Baseline), mark)
		}
		if rss, hwm := stockpilePeak(rep); rss > 0 {
			fmt.Fprintf(ew, "stockpile peak RSS: %s sampled during the runs (VmHWM %s)\n", FmtBytes(rss), FmtBytes(hwm))
		}
		if len(rep.Findings) > 0 {
			fmt.Fprintln(ew)
		}
		for _, f := range rep.Findings {
			verdict := "ok  "
			if !f.OK {
				verdict = "FAIL"
			}
			fmt.Fprintf(ew, "%s  %s: %s\n", verdict, f.Name, f.Value)
		}
	}
	return ew.err
}

// writeRow writes one line of the table: a round (the summary of that
// round alone) or a target's medians.
func writeRow(w io.Writer, target, round, conns string, s Summary) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%.0f\t%.1f\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n",
		target, round, conns, s.RPS, s.BytesPerSec/1e6, FmtDur(s.P50), FmtDur(s.P90), FmtDur(s.P99), FmtDur(s.Max),
		s.Errors, FmtBytes(s.PeakRSS), fmtFloatCores(s.ServerCores), fmtCPU(s.ServerCPUPerReq), fmtFloatCores(s.BenchCores))
}

// RatioLine is the one-line comparison of a pair.
func RatioLine(pair string, ratio, stockpile, baseline float64) string {
	return fmt.Sprintf("%s: stockpile/nginx = %.2f (%.0f vs %.0f req/s)", pair, ratio, stockpile, baseline)
}

// stockpilePeak returns the largest sampled RSS of Stockpile over the
// scenario's runs, and its VmHWM at the last of them.
func stockpilePeak(rep *ScenarioReport) (rss, hwm uint64) {
	for _, t := range rep.Targets {
		if t.Target.Side != SideStockpile {
			continue
		}
		for _, rr := range t.Rounds {
			if rr.Server != nil {
				rss = max(rss, rr.Server.PeakRSS)
				hwm = max(hwm, rr.Server.HWM)
			}
		}
	}
	return rss, hwm
}

func FmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
}

// fmtCPU prints a CPU time per request; a sampler's resolution is 10 ms
// of CPU over the whole run, so it is meaningful for runs of seconds.
func fmtCPU(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return FmtDur(d)
}

func FmtBytes(b uint64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
}

func fmtFloatCores(c float64) string {
	if c == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", c)
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
