package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/benchtest"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/scenario"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
)

// TestNPMSmoke runs npm-warm and npm-cold-burst end to end, with tiny loads,
// against a freshly built Stockpile and the real nginx. It is a smoke test of
// the benchmark, not a correctness test of Stockpile and not a measurement:
// it checks that the bench starts, warms, measures, reports and stops
// everything, and asserts no numbers beyond "something was measured". It
// skips when nginx is not installed (apt-get install -y nginx) or when the
// built Stockpile does not serve npm yet.
func TestNPMSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and Stockpile")
	}
	benchtest.RequireNginx(t)
	bin := benchtest.Stockpile(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := &runOptions{
		Load:      load.Config{Connections: 2, Duration: time.Second, Timeout: 10 * time.Second},
		Rounds:    1,
		Scenarios: []string{"npm-warm", "npm-cold-burst"},
		// TempRoot "": the system's, which nginx's workers can read.
		Env: bench.Env{Env: stack.Env{Nginx: stack.DefaultNginx, Stockpile: bin}, Burst: 20},
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	reps, err := measureAll(ctx, o, log)
	if errors.Is(err, scenario.ErrNotServed) {
		t.Skipf("the built stockpile does not serve npm yet: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 {
		t.Fatalf("%d scenario reports, want 2", len(reps))
	}

	warm := reps[0]
	// Abbreviated and full packument, identity and gzip, and the tarball:
	// Stockpile's and nginx's each.
	if len(warm.Targets) != 10 {
		t.Fatalf("npm-warm measured %d targets, want 10", len(warm.Targets))
	}
	if cfg, _ := warm.Info["configuration"].(string); !strings.HasPrefix(cfg, "as deployed") {
		t.Errorf("npm-warm ran %q, want the deployed configuration by default", cfg)
	}
	for _, tr := range warm.Targets {
		if len(tr.Rounds) != 1 || tr.Rounds[0].Result.OK == 0 {
			t.Errorf("%s: nothing measured", tr.Target.Name)
			continue
		}
		if tr.Rounds[0].Server == nil || tr.Rounds[0].Server.PeakRSS == 0 {
			t.Errorf("%s: the server was not sampled", tr.Target.Name)
		}
	}
	rs := bench.Ratios(warm, 0)
	wantPairs := []string{"abbreviated packument", "abbreviated packument gzip", "packument", "packument gzip", "tarball"}
	if len(rs) != len(wantPairs) {
		t.Errorf("ratios %+v, want %d", rs, len(wantPairs))
	}
	for i, r := range rs {
		if r.Value <= 0 || i < len(wantPairs) && r.Pair != wantPairs[i] {
			t.Errorf("ratio %d: %+v, want a positive one of %s", i, r, wantPairs[min(i, len(wantPairs)-1)])
		}
	}
	for _, r := range rs {
		t.Logf("%s: stockpile/nginx = %.2f (%.0f vs %.0f req/s)", r.Pair, r.Value, r.Stockpile, r.Baseline)
	}

	cold := reps[1]
	if len(cold.Targets) != 1 || len(cold.Targets[0].Rounds) != 1 || cold.Targets[0].Rounds[0].Result.Requests != 20 {
		t.Fatalf("npm-cold-burst: want one run of 20 requests")
	}
	if len(cold.Findings) == 0 {
		t.Error("npm-cold-burst reported no findings")
	}
	for _, f := range cold.Findings {
		t.Logf("npm-cold-burst: %s: %s (ok %v)", f.Name, f.Value, f.OK)
	}

	rep := bench.NewReport(time.Now(), o.Load, o.Rounds, 0, "", reps)
	if err := rep.WriteJSON(filepath.Join(t.TempDir(), "report.json")); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteText(t.Output()); err != nil {
		t.Fatal(err)
	}
}
