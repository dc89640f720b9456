package million

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/benchtest"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

// The full-size run is a measurement, not a unit test:
//
//	go test ./cmd/stockpile-bench/internal/million -run TestMillionFull -million -million-dir /var/tmp/million -v -timeout 30m
//
// STOCKPILE_BENCH_MILLION_* variables (million.go) change its knobs.
var (
	millionFull = flag.Bool("million", false, "run TestMillionFull: the million scenario at full size")
	millionDir  = flag.String("million-dir", "", "TestMillionFull: keep the populated 1M data here and reuse it")
)

func millionTestLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// The records populate writes are byte for byte those the resolver writes
// (Records.PutVersion encodes and recomputes the revision), and they decode
// into the resolver's types with the origin controls set.
func TestMillionRecordsAreTheResolvers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	spec := millionSpec{Layout: millionLayout, Versions: 25, PerPackage: 10}
	pop, err := millionPopulate(ctx, dir, spec, millionTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if pop.Packages != 3 || len(pop.Blobs) != millionBlobs || pop.Reused {
		t.Fatalf("populated %+v", pop)
	}
	st, err := badgerstore.Open(badgerstore.Options{Dir: filepath.Join(dir, millionDataDir)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg, err := model.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := reg.Repository(millionDomain, millionRepo)
	if err != nil || repo.ID != pop.RepoID || repo.ExternalConnection != "" {
		t.Fatalf("repository %+v (%v), want id %s and no external connection", repo, err, pop.RepoID)
	}

	// A second store gets the same records through the resolver.
	mem, err := badgerstore.Open(badgerstore.Options{InMemory: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	memReg, err := model.Load(ctx, mem)
	if err != nil {
		t.Fatal(err)
	}
	res := resolver.New(mem, memReg, nil, nil, slog.New(slog.DiscardHandler), nil, resolver.Options{})

	versions, packages := 0, 0
	vprefix, err := storage.RepositoryVersionsPrefix(millionDomain, repo.ID)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Scan(ctx, vprefix, func(k, v []byte) error {
		versions++
		var rec resolver.VersionRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			t.Fatalf("version record %q: %v", k, err)
		}
		_, parts := storage.SplitKey(k)
		p := formats.Package{Format: parts[2], Namespace: parts[3], Name: parts[4]}
		if rec.Status != formats.StatusPublished || rec.Origin.Type != resolver.OriginExternal || len(rec.Assets) != 1 ||
			rec.Assets[0].Name != p.Name+"-"+rec.Version.Version+".tgz" || rec.Assets[0].Digests.SHA256 == "" {
			t.Errorf("version record %q: %+v", k, rec)
		}
		var meta struct {
			Name, Version string
			Dist          struct{ Integrity, Shasum, Tarball string }
		}
		if err := json.Unmarshal(rec.Meta, &meta); err != nil || meta.Name != millionDisplay(p) || meta.Version != rec.Version.Version ||
			meta.Dist.Integrity == "" || meta.Dist.Shasum != rec.Assets[0].Digests.SHA1 {
			t.Errorf("version %q: meta %s (%v)", k, rec.Meta, err)
		}
		mine := bytes.Clone(v)
		rec.Revision = ""
		err = res.UpdateRecords(ctx, millionDomain, p, func(w *resolver.Records) error { return w.PutVersion(ctx, repo.ID, &rec) })
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := mem.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mine, theirs) {
			t.Errorf("version record %q differs from the resolver's:\n mine   %s\n theirs %s", k, mine, theirs)
		}
		if _, err := st.StatBlob(ctx, millionDomain, rec.Assets[0].Digests.SHA256); err != nil {
			t.Errorf("version %q: its blob: %v", k, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pprefix, err := storage.RepositoryPackagesPrefix(millionDomain, repo.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	err = st.Scan(ctx, pprefix, func(k, v []byte) error {
		packages++
		var rec resolver.PackageRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			t.Fatalf("package record %q: %v", k, err)
		}
		if rec.Origin.Publish != resolver.Block || rec.Origin.Upstream != resolver.Allow || rec.Tags["latest"] == "" || !json.Valid(rec.Extra) {
			t.Errorf("package record %q: %+v", k, rec)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if versions != 25 || packages != 3 {
		t.Errorf("%d version and %d package records, want 25 and 3", versions, packages)
	}
}

// A populated directory is reused for the same spec and refused for
// another; a directory with other contents is never written into.
func TestMillionPopulateReuse(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	spec := millionSpec{Layout: millionLayout, Versions: 20, PerPackage: 10}
	first, err := millionPopulate(ctx, dir, spec, millionTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	again, err := millionPopulate(ctx, dir, spec, millionTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || again.RepoID != first.RepoID || again.Seconds != first.Seconds {
		t.Errorf("second populate: %+v, want the first %+v reused", again, first)
	}
	other := spec
	other.Versions = 30
	if _, err := millionPopulate(ctx, dir, other, millionTestLogger(t)); err == nil || !strings.Contains(err.Error(), "was populated with") {
		t.Errorf("another spec on a populated dir: %v", err)
	}
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := millionPopulate(ctx, foreign, spec, millionTestLogger(t)); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a foreign non-empty dir: %v", err)
	}
}

func TestMillionOptionsFromEnv(t *testing.T) {
	env := map[string]string{
		"STOCKPILE_BENCH_MILLION_DIR": "/x", "STOCKPILE_BENCH_MILLION_VERSIONS": "2_000",
		"STOCKPILE_BENCH_MILLION_DURATION": "2s", "STOCKPILE_BENCH_MILLION_SAMPLE": "50",
	}
	o, err := millionOptionsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.Dir != "/x" || o.Versions != 2000 || o.Duration != 2*time.Second || o.Sample != 50 || o.Baseline != 1000 {
		t.Errorf("options %+v", o)
	}
	env["STOCKPILE_BENCH_MILLION_VERSIONS"] = "many"
	if _, err := millionOptionsFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Error("a bad number was accepted")
	}
	env["STOCKPILE_BENCH_MILLION_VERSIONS"] = "500" // below the baseline
	if _, err := millionOptionsFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Error("fewer versions than the baseline was accepted")
	}
}

// TestMillionFlags checks that -million-dir and -million-versions win over
// the environment.
func TestMillionFlags(t *testing.T) {
	t.Setenv("STOCKPILE_BENCH_MILLION_DIR", "/from-env")
	t.Setenv("STOCKPILE_BENCH_MILLION_VERSIONS", "3000")
	m := newMillion(bench.Env{MillionDir: "/from-flag", MillionVersions: 5000})
	if m.optsErr != nil || m.opts.Dir != "/from-flag" || m.opts.Versions != 5000 {
		t.Errorf("options %+v, error %v", m.opts, m.optsErr)
	}
	if m := newMillion(bench.Env{}); m.opts.Dir != "/from-env" || m.opts.Versions != 3000 {
		t.Errorf("without flags: options %+v", m.opts)
	}
	if m := newMillion(bench.Env{MillionVersions: 5}); m.optsErr == nil {
		t.Error("-million-versions below the baseline was accepted")
	}
}

// runMillion runs the scenario through the runner and returns its report.
func runMillion(t *testing.T, o millionOptions, timeout time.Duration) *bench.ScenarioReport {
	t.Helper()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	bin := benchtest.Stockpile(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	env := bench.Env{Env: stack.Env{Log: log, Stockpile: bin}, Timeout: 30 * time.Second}
	r := &bench.Runner{Load: load.Config{Connections: 1, Duration: time.Second}, Rounds: 1, Pause: 0, Log: log}
	rep, err := r.Run(ctx, newMillionWith(env, o, nil))
	if err != nil {
		t.Fatal(err)
	}
	report := bench.NewReport(time.Now(), r.Load, 1, 0, "", []*bench.ScenarioReport{rep})
	if err := report.WriteText(t.Output()); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON(filepath.Join(t.TempDir(), "million.json")); err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestMillionSmall runs the scenario end to end with 2,000 versions
// against 1,000 and a tiny load: everything populates, starts, serves the
// sampled packuments and tarballs from records (checked in the warm-up
// pass), is measured, judged and reported. The numbers are not asserted.
func TestMillionSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Stockpile twice")
	}
	o := defaultMillionOptions()
	o.Versions, o.Sample, o.Connections = 2_000, 100, 2
	o.Duration, o.Warmup, o.Rounds, o.Starts = 300*time.Millisecond, 50*time.Millisecond, 1, 2
	rep := runMillion(t, o, 2*time.Minute)
	names := map[string]bench.Finding{}
	for _, f := range rep.Findings {
		names[f.Name] = f
	}
	for _, prefix := range []string{"start-up with 2000 versions", "warm tarball p99", "warm packument p99", "errors in the warm runs", "populate 2000 versions"} {
		found := false
		for n, f := range names {
			if strings.HasPrefix(n, prefix) {
				found = true
				if prefix == "errors in the warm runs" && !f.OK {
					t.Errorf("%s: %s", n, f.Value)
				}
			}
		}
		if !found {
			t.Errorf("no finding %q in %+v", prefix, rep.Findings)
		}
	}
	if v, ok := rep.Info["startup_s"].([]float64); !ok || len(v) != 2 || v[0] <= 0 {
		t.Errorf("startup_s %v", rep.Info["startup_s"])
	}
	// The warm runs went through the runner: four targets, each sampled.
	if len(rep.Targets) != 4 {
		t.Errorf("%d targets measured, want 4", len(rep.Targets))
	}
	for _, tr := range rep.Targets {
		if len(tr.Rounds) != 1 || tr.Rounds[0].Result.OK == 0 || tr.Rounds[0].Server == nil {
			t.Errorf("%s: %d rounds, nothing measured or the server not sampled", tr.Target.Name, len(tr.Rounds))
		}
	}
	for _, k := range []string{"2000v_tarball_p99_ms", "1K_tarball_p99_ms", "2000v_packument_p99_ms", "1K_packument_p99_ms"} {
		if v, ok := rep.Info[k].(float64); !ok || v <= 0 {
			t.Errorf("info %s = %v", k, rep.Info[k])
		}
	}
}

// TestMillionFull is the measurement at full size (see the flags above).
func TestMillionFull(t *testing.T) {
	if !*millionFull {
		t.Skip("a measurement: run with -million (and -million-dir DIR to keep the populated data)")
	}
	o, err := millionOptionsFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if *millionDir != "" {
		o.Dir = *millionDir
	}
	rep := runMillion(t, o, 25*time.Minute)
	for _, f := range rep.Findings {
		if !f.OK {
			t.Errorf("%s: %s", f.Name, f.Value)
		}
	}
}
