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
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
)

// TestClusterSmoke runs the cluster scenario small (100 clients, short warm
// runs) against a freshly built Stockpile, the real nginx, PostgreSQL and
// SeaweedFS: the burst spread over three replicas must have cost the
// upstream exactly one tarball fetch and one packument fetch and given
// every client the right bytes, and everything must be stopped and removed. The warm ratio is
// reported, not judged (a smoke test measures nothing meaningful). It skips
// without nginx, and without the engines unless STOCKPILE_ENGINES=require.
func TestClusterSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, SeaweedFS, nginx and four Stockpiles")
	}
	benchtest.RequireNginx(t)
	bin := benchtest.Stockpile(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	log := benchtest.Logger(t, slog.LevelWarn)
	root := benchtest.Root(t, "sbcluster-")
	env := bench.Env{Env: stack.Env{Log: log, Nginx: stack.DefaultNginx, Stockpile: bin, TempRoot: root}, Timeout: 30 * time.Second}
	r := &bench.Runner{Load: load.Config{Connections: 2, Duration: 300 * time.Millisecond, Timeout: 10 * time.Second}, Rounds: 2, Pause: 10 * time.Millisecond, Log: log}
	sc := newCluster(env)
	sc.n = 100
	rep, err := r.Run(ctx, sc)
	if errors.Is(err, ErrEnginesAbsent) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bench.Finding{}
	for _, f := range rep.Findings {
		t.Logf("%s: %s (ok %v)", f.Name, f.Value, f.OK)
		found[f.Name] = f
	}
	for _, name := range []string{"clients with the right bytes", "upstream tarball fetches by the cluster", "upstream packument fetches by the cluster", "client errors"} {
		if f, ok := found[name]; !ok || !f.OK {
			t.Errorf("%s: %+v", name, f)
		}
	}
	for _, name := range []string{"upstream tarball fetches by the cluster", "upstream packument fetches by the cluster"} {
		if f := found[name]; f.Value != "1 (want 1)" {
			t.Errorf("%s: %s, want exactly 1", name, f.Value)
		}
	}
	if len(rep.Targets) != 5 || rep.Targets[0].Rounds[0].Result.Requests != 100 {
		t.Fatalf("want a burst of 100 requests and four warm targets: %+v", rep.Targets)
	}
	for _, tr := range rep.Targets[1:] {
		if len(tr.Rounds) != 2 || tr.Rounds[0].Result.OK == 0 || tr.Rounds[1].Result.Errors.Total() != 0 {
			t.Errorf("%s: want two rounds of successes", tr.Target.Name)
		}
	}
	if !strings.Contains(rep.Info["replicas"].(string), "pid") {
		t.Errorf("info: %v", rep.Info)
	}
	if err := bench.NewReport(time.Now(), r.Load, r.Rounds, 0, "", []*bench.ScenarioReport{rep}).WriteText(t.Output()); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "stockpile-bench-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
