package scenario

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
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/fixture"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
)

// TestNewScenariosSmoke runs every scenario of this package but npm-warm and
// npm-cold-burst (main's TestNPMSmoke runs those), end
// to end with tiny shapes, against a freshly built Stockpile and the real
// nginx: it checks that each sets up, measures, checks, reports and stops
// everything. It asserts no target (a smoke test measures nothing
// meaningful) beyond the correctness findings: right bytes, one upstream
// fetch, no error. It skips without nginx.
func TestNewScenariosSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and Stockpile")
	}
	benchtest.RequireNginx(t)
	bin := benchtest.Stockpile(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := benchtest.Logger(t, slog.LevelWarn)
	root := benchtest.Root(t, "sbtest-")
	env := bench.Env{Env: stack.Env{Log: log, Nginx: stack.DefaultNginx, Stockpile: bin, TempRoot: root}, Timeout: 20 * time.Second,
		BigSize: 2 << 20, BigClients: 4, Connections: 2, SoakDuration: 3 * time.Second, SoakWarmup: time.Second}
	r := &bench.Runner{Load: load.Config{Connections: 2, Duration: 300 * time.Millisecond, Timeout: 10 * time.Second}, Rounds: 1, Pause: 10 * time.Millisecond, Log: log}

	cold := newCold10MB(env)
	cold.size = 1 << 20
	burst := newColdBurst(env, "cold-burst-1000", coldBurst1000Clients)
	scenarios := []bench.Scenario{cold, burst, newBigConcurrent(env), newSoak(env)}
	for _, spec := range fixture.Formats {
		scenarios = append(scenarios, newFormatWarm(env, spec))
	}
	var reps []*bench.ScenarioReport
	for _, sc := range scenarios {
		rep, err := r.Run(ctx, sc)
		if errors.Is(err, ErrNotServed) && !strings.HasPrefix(sc.Name(), "warm-") {
			t.Skipf("the built stockpile does not serve npm yet: %v", err)
		}
		if err != nil {
			t.Fatalf("%s: %v", sc.Name(), err)
		}
		reps = append(reps, rep)
		if len(rep.Targets) == 0 {
			t.Errorf("%s: no target measured", rep.Name)
		}
		for _, tr := range rep.Targets {
			for _, rr := range tr.Rounds {
				if rr.Result.OK == 0 && !strings.Contains(tr.Target.Name, "cold package") {
					t.Errorf("%s: %s: nothing succeeded", rep.Name, tr.Target.Name)
				}
				if rr.Result.Errors.Total() != 0 {
					t.Errorf("%s: %s: %+v errors", rep.Name, tr.Target.Name, rr.Result.Errors)
				}
			}
		}
		for _, f := range rep.Findings {
			t.Logf("%s: %s: %s (ok %v)", rep.Name, f.Name, f.Value, f.OK)
			correctness := strings.Contains(f.Name, "bytes") || strings.Contains(f.Name, "fetches") ||
				strings.Contains(f.Name, "answers") || f.Name == "errors" || f.Name == "client errors"
			if correctness && !f.OK {
				t.Errorf("%s: %s: %s", rep.Name, f.Name, f.Value)
			}
		}
		// The metadata document, identity and gzip, and the artifact.
		if strings.HasPrefix(rep.Name, "warm-") && len(bench.Ratios(rep, 0)) != 3 {
			t.Errorf("%s: %d ratios, want 3", rep.Name, len(bench.Ratios(rep, 0)))
		}
	}
	if len(reps[0].Findings) != 5 || len(reps[2].Findings) < 3 || len(reps[3].Findings) < 5 {
		t.Errorf("findings: cold-10mb %d, big-concurrent %d, soak %d", len(reps[0].Findings), len(reps[2].Findings), len(reps[3].Findings))
	}
	measuredDB := false
	for _, f := range reps[3].Findings {
		measuredDB = measuredDB || strings.HasPrefix(f.Name, "database growth")
	}
	if !measuredDB {
		t.Error("soak: no finding on the database's growth, though the bench started the Stockpile")
	}
	if len(reps[2].Targets[0].Rounds[0].Memory) == 0 || len(reps[3].Targets[0].Rounds[0].Memory) == 0 {
		t.Error("no memory series in big-concurrent's or soak's round")
	}
	rep := bench.NewReport(time.Now(), r.Load, 1, 0, "", reps)
	if err := rep.WriteJSON(filepath.Join(t.TempDir(), "report.json")); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteText(t.Output()); err != nil {
		t.Fatal(err)
	}
	// Everything was removed.
	leftovers, _ := filepath.Glob(filepath.Join(root, "stockpile-bench-*"))
	for _, l := range leftovers {
		for _, sc := range []string{"cold-10mb", "cold-burst-1000", "big-concurrent", "soak", "warm-"} {
			if strings.Contains(l, "stockpile-bench-"+sc) {
				t.Errorf("left behind: %s", l)
			}
		}
	}
}
