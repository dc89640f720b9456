package million

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/benchtest"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

// The full-size run is a measurement, not a unit test:
//
//	go test ./cmd/stockpile-bench/internal/million -run TestMillionFull -million -million-dir /var/tmp/million -v -timeout 30m
var (
	millionFull = flag.Bool("million", false, "run TestMillionFull: the million scenario at full size")
	millionDir  = flag.String("million-dir", "", "TestMillionFull: keep the populated 1M data here and reuse it")
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// The records populate writes are byte for byte those the resolver writes
// (Records.PutVersion encodes and recomputes the revision); they decode
// into the resolver's types as versions retained from an external
// connection, with the origin controls set, their version objects naming
// the version and its blob's digests, and every blob stored.
func TestMillionRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pop, err := populate(ctx, dir, spec{Layout: layout, Versions: 25}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(pop.Blobs) != blobs || pop.Reused {
		t.Fatalf("populated %+v", pop)
	}
	st, err := badgerstore.Open(badgerstore.Options{Dir: filepath.Join(dir, dataSubdir)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg, err := model.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	r, err := reg.Repository(domain, repo)
	if err != nil || r.ID != pop.RepoID || r.ExternalConnection != "" {
		t.Fatalf("repository %+v (%v), want id %s and no external connection", r, err, pop.RepoID)
	}
	integrity := map[string]string{} // SHA-256 → dist.integrity
	for _, b := range pop.Blobs {
		blob, err := st.OpenBlob(ctx, domain, b.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(blob)
		blob.Close()
		if err != nil || formattest.SHA256(body) != b.SHA256 {
			t.Fatalf("blob %s: %v", b.SHA256, err)
		}
		integrity[b.SHA256] = formattest.NPMIntegrity(body)
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

	versions := map[string]int{} // package → versions
	vprefix, err := storage.RepositoryVersionsPrefix(domain, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Scan(ctx, vprefix, func(k, v []byte) error {
		var rec resolver.VersionRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			t.Fatalf("version record %q: %v", k, err)
		}
		_, parts := storage.SplitKey(k)
		p := formats.Package{Format: parts[2], Namespace: parts[3], Name: parts[4]}
		versions[display(p)]++
		if rec.Status != formats.StatusPublished || rec.Origin.Type != resolver.OriginExternal || len(rec.Assets) != 1 ||
			rec.Assets[0].Name != p.Name+"-"+rec.Version.Version+".tgz" || rec.Revision != resolver.Revision(&rec.Version) {
			t.Fatalf("version record %q: %+v", k, rec)
		}
		var meta struct {
			Name, Version string
			Dist          struct{ Integrity, Shasum, Tarball string }
		}
		a := rec.Assets[0]
		if err := json.Unmarshal(rec.Meta, &meta); err != nil || meta.Name != display(p) || meta.Version != rec.Version.Version ||
			meta.Dist.Integrity != integrity[a.Digests.SHA256] || meta.Dist.Shasum != a.Digests.SHA1 || meta.Dist.Tarball != a.URL {
			t.Errorf("version %q: meta %s (%v), asset %+v", k, rec.Meta, err, a)
		}
		mine := bytes.Clone(v)
		rec.Revision = ""
		err = res.UpdateRecords(ctx, domain, p, func(w *resolver.Records) error { return w.PutVersion(ctx, r.ID, &rec) })
		if err != nil {
			t.Fatal(err)
		}
		if theirs, err := mem.Get(ctx, k); err != nil || !bytes.Equal(mine, theirs) {
			t.Errorf("version record %q differs from the resolver's (%v):\n mine   %s\n theirs %s", k, err, mine, theirs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pprefix, err := storage.RepositoryPackagesPrefix(domain, r.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	packages := 0
	err = st.Scan(ctx, pprefix, func(k, v []byte) error {
		packages++
		var rec resolver.PackageRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			t.Fatalf("package record %q: %v", k, err)
		}
		n := versions[display(rec.Package)]
		i, err := strconv.Atoi(rec.Package.Name[strings.LastIndex(rec.Package.Name, "-")+1:])
		if err != nil || rec.Origin.Publish != resolver.Block || rec.Origin.Upstream != resolver.Allow || !json.Valid(rec.Extra) ||
			rec.Tags["latest"] != version(i, n-1) {
			t.Errorf("package record %q (%d versions): %+v", k, n, rec)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 3 || versions[display(pkg(0))] != 10 || versions[display(pkg(2))] != 5 || packages != 3 {
		t.Errorf("versions per package %v and %d package records, want 10, 10, 5 of 3", versions, packages)
	}
}

// A populated directory is reused for the same spec and refused for
// another; a directory with other contents is never written into.
func TestMillionPopulateReuse(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sp := spec{Layout: layout, Versions: 20}
	first, err := populate(ctx, dir, sp, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	again, err := populate(ctx, dir, sp, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || again.RepoID != first.RepoID || again.Seconds != first.Seconds {
		t.Errorf("second populate: %+v, want the first %+v reused", again, first)
	}
	if _, err := populate(ctx, dir, spec{Layout: layout, Versions: 30}, testLogger(t)); err == nil || !strings.Contains(err.Error(), "was populated with") {
		t.Errorf("another spec on a populated dir: %v", err)
	}
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := populate(ctx, foreign, sp, testLogger(t)); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a foreign non-empty dir: %v", err)
	}
	if entries, _ := os.ReadDir(foreign); len(entries) != 1 {
		t.Errorf("the foreign dir holds %d entries after the refusal", len(entries))
	}
}

// -million-versions and -million-dir reach the scenario; a count out of
// bounds or --target is refused before anything is written.
func TestMillionFlags(t *testing.T) {
	m := New(bench.Env{MillionDir: "/from-flag", MillionVersions: 5000}).(*million)
	if m.versions != 5000 || m.env.MillionDir != "/from-flag" {
		t.Errorf("versions %d, dir %q", m.versions, m.env.MillionDir)
	}
	if m := New(bench.Env{}).(*million); m.versions != defaultVersions {
		t.Errorf("default versions %d", m.versions)
	}
	root := t.TempDir()
	for name, env := range map[string]bench.Env{
		"below the baseline": {MillionVersions: baseline - 1},
		"above the bound":    {MillionVersions: maxVersions + 1},
		"target":             {Env: stack.Env{Target: "http://127.0.0.1:1/"}},
	} {
		env.Stockpile, env.TempRoot, env.Log = "stockpile", root, testLogger(t)
		m := New(env)
		if err := m.Setup(context.Background()); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if err := m.Teardown(); err != nil {
			t.Errorf("%s: teardown: %v", name, err)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("refused set-ups left %d entries", len(entries))
	}
}

// runMillion runs the scenario through the runner and returns its report.
func runMillion(t *testing.T, m *million, lc load.Config, rounds int, timeout time.Duration) *bench.ScenarioReport {
	t.Helper()
	bin := benchtest.Stockpile(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	m.env.Env = stack.Env{Log: log, Stockpile: bin}
	m.env.Timeout = 30 * time.Second
	r := &bench.Runner{Load: lc, Rounds: rounds, Log: log}
	rep, err := r.Run(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	report := bench.NewReport(time.Now(), r.Load, rounds, 0, "", []*bench.ScenarioReport{rep})
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
// sampled packuments and tarballs from records (checked in the first-touch
// pass), is measured, judged and reported. The numbers are not asserted.
func TestMillionSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Stockpile four times")
	}
	m := New(bench.Env{MillionVersions: 2_000}).(*million)
	m.sample = 100
	rep := runMillion(t, m, load.Config{Connections: 2, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond}, 1, 2*time.Minute)
	for _, prefix := range []string{"start-up with 2000 versions", "warm tarball p99 2000v/1K", "warm packument p99 2000v/1K",
		"first touch tarball", "first touch packument", "errors in the warm runs", "populate 2000 versions of 200 packages", "stockpile RSS"} {
		found := false
		for _, f := range rep.Findings {
			if strings.HasPrefix(f.Name, prefix) {
				found = true
				if prefix == "errors in the warm runs" && !f.OK {
					t.Errorf("%s: %s", f.Name, f.Value)
				}
			}
		}
		if !found {
			t.Errorf("no finding %q in %+v", prefix, rep.Findings)
		}
	}
	if v, ok := rep.Info["startup_s_2000v"].([]float64); !ok || len(v) != startups || v[0] <= 0 {
		t.Errorf("startup_s_2000v %v", rep.Info["startup_s_2000v"])
	}
	for _, label := range []string{"2000v", "1K"} {
		for _, k := range []string{"rss_" + label + "_bytes", "rss_anon_" + label + "_bytes", "rss_file_" + label + "_bytes"} {
			if v, ok := rep.Info[k].(uint64); !ok || v == 0 {
				t.Errorf("info %s = %v", k, rep.Info[k])
			}
		}
	}
	// The warm runs went through the runner: four targets, each sampled.
	if len(rep.Targets) != 4 {
		t.Fatalf("%d targets measured, want 4", len(rep.Targets))
	}
	names := []string{"2000v tarball", "1K tarball", "2000v packument", "1K packument"}
	for k, tr := range rep.Targets {
		if med := tr.Median(); tr.Target.Name != names[k] || len(tr.Rounds) != 1 || tr.Rounds[0].Result.OK == 0 ||
			tr.Rounds[0].Server == nil || len(tr.Target.Requests) != 100 || med.P99 <= 0 || med.Errors != 0 {
			t.Errorf("%s: %d rounds of %d URLs, nothing measured, errors or the server not sampled", tr.Target.Name, len(tr.Rounds), len(tr.Target.Requests))
		}
		if v, ok := rep.Info["first_touch_"+strings.ReplaceAll(names[k], " ", "_")+"_p99_ms"].(float64); !ok || v <= 0 {
			t.Errorf("%s: first touch p99 %v", names[k], v)
		}
	}
}

// TestMillionFull is the measurement at full size (see the flags above).
func TestMillionFull(t *testing.T) {
	if !*millionFull {
		t.Skip("a measurement: run with -million (and -million-dir DIR to keep the populated data)")
	}
	m := New(bench.Env{MillionDir: *millionDir}).(*million)
	rep := runMillion(t, m, load.Config{Connections: 8, Duration: 10 * time.Second, Warmup: time.Second}, 3, 25*time.Minute)
	for _, f := range rep.Findings {
		if !f.OK {
			t.Errorf("%s: %s", f.Name, f.Value)
		}
	}
}
