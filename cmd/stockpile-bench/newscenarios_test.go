package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
)

func TestParseMemStatus(t *testing.T) {
	raw := "Name:\tstockpile\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   40960 kB\nRssFile:\t   61440 kB\nRssShmem:\t       0 kB\nThreads:\t12\n"
	m, err := parseMemStatus([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 100<<20 || m.Anon != 40<<20 || m.File != 60<<20 || m.Shmem != 0 || m.HWM != 200<<20 {
		t.Errorf("%+v", m)
	}
	if _, err := parseMemStatus([]byte("Name:\tx\n")); err == nil {
		t.Error("no VmRSS accepted")
	}
	self, err := readMemStatus(os.Getpid())
	if err != nil || self.RSS == 0 || self.Anon+self.File+self.Shmem != self.RSS {
		t.Errorf("own status %+v, %v: parts do not add up", self, err)
	}
}

func TestMemSeriesSlopeAndPeaks(t *testing.T) {
	var samples []MemSample
	for i := range 61 {
		at := time.Duration(i) * time.Second
		anon := uint64(50<<20) + uint64(i)*(2<<20)/60 // 2 MiB/min
		samples = append(samples, MemSample{At: at, MemStatus: MemStatus{RSS: anon + 10<<20, Anon: anon, File: 10 << 20}})
	}
	samples[10].File = 90 << 20 // a spike of file pages
	samples[10].RSS = samples[10].Anon + samples[10].File
	got, n := slope(samples, 0, func(m MemStatus) uint64 { return m.Anon })
	if n != 61 || math.Abs(got-2<<20) > 1 {
		t.Errorf("slope %.0f over %d samples, want %d", got, n, 2<<20)
	}
	if _, n := slope(samples, 30*time.Second, func(m MemStatus) uint64 { return m.Anon }); n != 31 {
		t.Errorf("%d samples after 30s, want 31", n)
	}
	if s, n := slope(samples[:1], 0, func(m MemStatus) uint64 { return m.Anon }); s != 0 || n != 1 {
		t.Errorf("one sample: slope %v", s)
	}
	p := peaks(samples)
	if p.RSS != samples[10].RSS || p.AtPeakRSS.File != 90<<20 || p.Anon != samples[60].Anon {
		t.Errorf("peaks %+v", p)
	}
	if w := memAt(samples, 30*time.Second); w.At != 30*time.Second {
		t.Errorf("memAt 30s: %s", w.At)
	}

	s, err := StartMemSeries(os.Getpid(), 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if got := s.Stop(); len(got) < 3 || got[0].RSS == 0 {
		t.Errorf("%d samples", len(got))
	}
	s.Stop() // twice is fine
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "4MiB": 4 << 20, "64k": 64 << 10, "123": 123, "2 GB": 2 << 30, "10M": 10 << 20} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "GiB", "1.5GiB", "0", "99999999999999GiB"} {
		if _, err := parseByteSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRunOptionsNewFlags(t *testing.T) {
	o, err := parseRun([]string{"-big-size", "8MiB", "-big-clients", "4", "-soak-duration", "30s", "-soak-warmup", "5s", "big-concurrent", "soak", "warm-pypi"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.BigSize != 8<<20 || o.BigClients != 4 || o.SoakDuration != 30*time.Second || o.SoakWarmup != 5*time.Second || len(o.Scenarios) != 3 {
		t.Errorf("%+v", o)
	}
	o, err = parseRun([]string{"soak"}, io.Discard)
	if err != nil || o.BigSize != defaultBigSize || o.BigClients != defaultBigClients || o.SoakDuration != defaultSoakDuration {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	for _, bad := range [][]string{
		{"-big-size", "1KiB", "big-concurrent"},
		{"-big-clients", "0", "big-concurrent"},
		{"-soak-duration", "3h", "soak"},
		{"-soak-duration", "10s", "-soak-warmup", "10s", "soak"},
	} {
		if _, err := parseRun(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	for _, name := range []string{"cold-10mb", "cold-burst-1000", "big-concurrent", "soak", "warm-pypi", "warm-maven", "warm-cargo", "warm-nuget", "warm-ruby", "npm-warm", "npm-cold-burst"} {
		if newScenarios()[name] == nil {
			t.Errorf("scenario %s is not listed", name)
		}
	}
}

// A configuration with other formats' stores loads in Stockpile, and app
// reaches them all.
func TestStockpileConfigStoresLoads(t *testing.T) {
	dir := t.TempDir()
	for _, npm := range []bool{true, false} {
		c := StockpileConfig{Listen: "127.0.0.1:18080", DataDir: filepath.Join(dir, "data"), TTL: 2 * time.Hour,
			Stores: []StoreConfig{
				{Repository: "pypi-store", Connection: "public:pypi", URL: "http://127.0.0.1:18081/simple/"},
				{Repository: "nuget-store", Connection: "public:nuget-org", URL: "http://127.0.0.1:18081/v3/index.json"},
			}}
		if npm {
			c.Upstream = "http://127.0.0.1:18081/"
		}
		raw, err := c.Render()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "stockpile.yaml")
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := proxy.Load(p, func(string) string { return "" })
		if err != nil {
			t.Fatalf("proxy.Load: %v\n%s", err, raw)
		}
		if got := cfg.Connections["public:pypi"]; got.URL != "http://127.0.0.1:18081/simple/" || got.TTL != 2*time.Hour {
			t.Errorf("public:pypi %+v", got)
		}
		repos := cfg.Domains[0].Repositories
		app := repos[len(repos)-1]
		want := 2
		if npm {
			want = 3
		}
		if app.Name != benchAppRepo || len(app.Upstreams) != want || len(repos) != want+1 {
			t.Errorf("npm %v: repositories %+v", npm, repos)
		}
		if _, hasNPM := cfg.Connections[npmJSConnection]; hasNPM != npm {
			t.Errorf("npm %v: connections %+v", npm, cfg.Connections)
		}
	}
	if _, err := (StockpileConfig{Listen: "127.0.0.1:1", DataDir: dir}).Render(); err == nil {
		t.Error("no upstream at all accepted")
	}
}

// TestNewScenariosSmoke runs every scenario this file's scenarios add, end
// to end with tiny shapes, against a freshly built Stockpile and the real
// nginx: it checks that each sets up, measures, checks, reports and stops
// everything. It asserts no target (a smoke test measures nothing
// meaningful) beyond the correctness findings: right bytes, one upstream
// fetch, no error. It skips without nginx.
func TestNewScenariosSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and Stockpile")
	}
	if _, err := os.Stat(defaultNginx); err != nil {
		t.Skipf("nginx not installed (%s): apt-get install -y nginx", defaultNginx)
	}
	bin := buildStockpile(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	// A working root of this test's own (readable by nginx's workers), so
	// that other runs on the machine cannot look like leftovers.
	root, err := os.MkdirTemp("", "sbtest-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(root)
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	env := Env{Log: log, Nginx: defaultNginx, Stockpile: bin, Timeout: 20 * time.Second, TempRoot: root,
		BigSize: 2 << 20, BigClients: 4, Connections: 2, SoakDuration: 3 * time.Second, SoakWarmup: time.Second}
	r := &runner{load: LoadConfig{Connections: 2, Duration: 300 * time.Millisecond, Timeout: 10 * time.Second}, rounds: 1, pause: 10 * time.Millisecond, log: log}

	cold := newCold10MB(env)
	cold.size = 1 << 20
	burst := newColdBurst1000(env)
	scenarios := []Scenario{cold, burst, newBigConcurrent(env), newSoak(env)}
	for _, spec := range []formatFixtureSpec{pypiFixtureSpec, mavenFixtureSpec, cargoFixtureSpec, nugetFixtureSpec, rubyFixtureSpec} {
		scenarios = append(scenarios, newFormatWarm(env, spec))
	}
	var reps []*ScenarioReport
	for _, sc := range scenarios {
		rep, err := r.run(ctx, sc)
		if errors.Is(err, errNotServed) {
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
		if strings.HasPrefix(rep.Name, "warm-") && len(ratios(rep, 0)) != 2 {
			t.Errorf("%s: %d ratios, want 2", rep.Name, len(ratios(rep, 0)))
		}
	}
	if len(reps[0].Findings) != 4 || len(reps[2].Findings) < 3 || len(reps[3].Findings) < 5 {
		t.Errorf("findings: cold-10mb %d, big-concurrent %d, soak %d", len(reps[0].Findings), len(reps[2].Findings), len(reps[3].Findings))
	}
	measuredDB := false
	for _, f := range reps[3].Findings {
		measuredDB = measuredDB || strings.HasPrefix(f.Name, "database growth")
	}
	if !measuredDB {
		t.Error("soak: no finding on the database's growth, though the bench started the Stockpile")
	}
	if reps[2].Data["memory_series"] == nil || reps[3].Data["memory_series"] == nil {
		t.Error("no memory series in the data")
	}
	rep := newReport(time.Now(), r.load, 1, 0, "", reps)
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
