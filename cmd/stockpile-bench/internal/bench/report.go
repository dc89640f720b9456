package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
)

// Report is the whole run, as --json writes it.
type Report struct {
	Started time.Time `json:"started"`
	Host    struct {
		CPUs      int    `json:"cpus"`
		GoVersion string `json:"go_version"`
		Nginx     string `json:"nginx,omitempty"`
	} `json:"host"`
	Load      load.Config       `json:"load"` // the command line's load shape
	Rounds    int               `json:"rounds"`
	MinRatio  float64           `json:"min_ratio,omitempty"`
	Scenarios []*ScenarioReport `json:"scenarios"`
	OK        bool              `json:"ok"`
}

// MS is d in milliseconds.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// NewReport builds the report of finished scenarios, judging their ratios
// and findings.
func NewReport(started time.Time, load load.Config, rounds int, minRatio float64, nginxVersion string, reps []*ScenarioReport) *Report {
	r := &Report{Started: started, Load: load, Rounds: rounds, MinRatio: minRatio, Scenarios: reps, OK: true}
	r.Host.CPUs, r.Host.GoVersion, r.Host.Nginx = runtime.NumCPU(), runtime.Version(), nginxVersion
	for _, rep := range reps {
		rep.Ratios, rep.OK = Ratios(rep, minRatio), true
		for _, ra := range rep.Ratios {
			rep.OK = rep.OK && !ra.BelowMin
		}
		for _, f := range rep.Findings {
			rep.OK = rep.OK && f.OK
		}
		r.OK = r.OK && rep.OK
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
	ew := &strings.Builder{}
	fmt.Fprintf(ew, "stockpile-bench  %s  %d CPUs  %s", r.Started.Format(time.RFC3339), r.Host.CPUs, r.Host.GoVersion)
	if r.Host.Nginx != "" {
		fmt.Fprintf(ew, "  %s", r.Host.Nginx)
	}
	fmt.Fprintln(ew)
	for _, rep := range r.Scenarios {
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
		tw.Flush() // into ew, which cannot fail
		if len(rep.Ratios) > 0 {
			fmt.Fprintln(ew)
		}
		for _, ra := range rep.Ratios {
			mark := ""
			if ra.BelowMin {
				mark = fmt.Sprintf("  BELOW --min-ratio %.2f", r.MinRatio)
			}
			fmt.Fprintf(ew, "%s: stockpile/nginx = %.2f (%.0f vs %.0f req/s)%s\n", ra.Pair, ra.Value, ra.Stockpile, ra.Baseline, mark)
		}
		var peak Summary // Stockpile's largest sampled RSS and VmHWM
		for _, t := range rep.Targets {
			if t.Target.Side == SideStockpile {
				m := t.Median()
				peak.PeakRSS, peak.HWM = max(peak.PeakRSS, m.PeakRSS), max(peak.HWM, m.HWM)
			}
		}
		if peak.PeakRSS > 0 {
			fmt.Fprintf(ew, "stockpile peak RSS: %s sampled during the runs (VmHWM %s)\n", FmtBytes(peak.PeakRSS), FmtBytes(peak.HWM))
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
	_, err := io.WriteString(w, ew.String())
	return err
}

// writeRow writes one line of the table: a round (the summary of that
// round alone) or a target's medians.
// What was not sampled is "-" (a sampler's resolution is 10 ms of CPU over
// the whole run, so CPU per request is meaningful for runs of seconds).
func writeRow(w io.Writer, target, round, conns string, s Summary) {
	cores := func(c float64) string { return orDash(c == 0, fmt.Sprintf("%.2f", c)) }
	fmt.Fprintf(w, "%s\t%s\t%s\t%.0f\t%.1f\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n",
		target, round, conns, s.RPS, s.BytesPerSec/1e6, FmtDur(s.P50), FmtDur(s.P90), FmtDur(s.P99), FmtDur(s.Max), s.Errors,
		FmtBytes(s.PeakRSS), cores(s.ServerCores), orDash(s.ServerCPUPerReq <= 0, FmtDur(s.ServerCPUPerReq)), cores(s.BenchCores))
}

func orDash(none bool, s string) string {
	if none {
		return "-"
	}
	return s
}

// FmtDur prints d in s, ms or µs.
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

// FmtBytes prints b in MiB, "-" for none.
func FmtBytes(b uint64) string { return orDash(b == 0, fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))) }
