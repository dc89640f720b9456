package cargo_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// Real-client tests: cargo with a fresh CARGO_HOME, crates.io replaced by
// Stockpile's app repository, and a token credential provider.

// cargoClient runs cargo against a Stockpile.
type cargoClient struct {
	t    *testing.T
	bin  string
	home string
	env  []string
}

// newCargo makes a fresh CARGO_HOME whose config points the registries
// "stockpile" (app, replacing crates.io) and "internal" at in.
func newCargo(t *testing.T, in *proxytest.Instance) *cargoClient {
	t.Helper()
	return cargoHome(t, in, "app", "internal")
}

// cargoHome makes a fresh CARGO_HOME (nothing served from an earlier run's
// index or download cache) whose registry "stockpile" is repository app of
// in, replacing crates.io, and, unless internal is "", whose registry
// "internal" is that repository; each with a token.
func cargoHome(t *testing.T, in *proxytest.Instance, app, internal string) *cargoClient {
	t.Helper()
	bin := proxytest.RequireTool(t, "cargo")
	home := t.TempDir()
	tok := in.Token("acme")
	env := []string{"CARGO_REGISTRIES_STOCKPILE_TOKEN=" + tok}
	cfg := fmt.Sprintf(`[registries.stockpile]
index = "sparse+%s/acme/cargo/%s/"
credential-provider = ["cargo:token"]
`, in.URL, app)
	if internal != "" {
		cfg += fmt.Sprintf(`
[registries.internal]
index = "sparse+%s/acme/cargo/%s/"
credential-provider = ["cargo:token"]
`, in.URL, internal)
		env = append(env, "CARGO_REGISTRIES_INTERNAL_TOKEN="+tok)
	}
	cfg += `
[source.crates-io]
replace-with = "stockpile"

[net]
offline = false
retry = 0

[http]
timeout = 30

[publish]
timeout = 20
`
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return &cargoClient{t: t, bin: bin, home: home, env: cargoEnv(home, env...)}
}

// run runs cargo in dir and returns its combined output.
func (c *cargoClient) run(dir string, args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = dir
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (c *cargoClient) must(dir string, args ...string) string {
	c.t.Helper()
	out, err := c.run(dir, args...)
	if err != nil {
		c.t.Fatalf("cargo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// project writes a library crate with the given [dependencies] lines.
func project(t *testing.T, name, version string, deps ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	manifest := fmt.Sprintf("[package]\nname = %q\nversion = %q\nedition = \"2021\"\ndescription = \"Stockpile test crate %s\"\nlicense = \"MIT\"\n\n[dependencies]\n%s\n", name, version, name, strings.Join(deps, "\n"))
	if err := writeFiles(dir, map[string]string{"Cargo.toml": manifest, "src/lib.rs": "pub fn f() {}\n"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// locked reads the packages of dir's Cargo.lock as name → version.
func locked(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "Cargo.lock"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var name string
	for _, ln := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(ln, "name = "); ok {
			name = strings.Trim(v, `"`)
		}
		if v, ok := strings.CutPrefix(ln, "version = "); ok && name != "" {
			out[name] = strings.Trim(v, `"`)
		}
	}
	return out
}

// cached lists the .crate files in the CARGO_HOME's download cache.
func (c *cargoClient) cached() []string {
	c.t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.home, "registry", "cache", "*", "*.crate"))
	var out []string
	for _, f := range files {
		out = append(out, filepath.Base(f))
	}
	sort.Strings(out)
	return out
}

var chainLock = map[string]string{
	"consumer": "0.1.0", "a": "0.1.0", "bb": "0.1.0", "c_d": "0.1.0", "long-crate-name": "1.1.0", "Mixed_Case": "0.1.0",
}

var chainFiles = []string{"Mixed_Case-0.1.0.crate", "a-0.1.0.crate", "bb-0.1.0.crate", "c_d-0.1.0.crate", "long-crate-name-1.1.0.crate"}

func TestCargoResolvesAndFetchesThroughTheChain(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	reg.standard(t)
	runCargoChain(t, reg, stockpile(t, reg, upstream.Options{}, withKeys))
}

// TestCargoReplicasResolveAndFetchThroughTheChain is the chain test through
// a load balancer over three replicas on PostgreSQL and SeaweedFS: the
// same lockfile and crates, each crate fetched from the upstream once by
// the cluster.
func TestCargoReplicasResolveAndFetchThroughTheChain(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	reg.standard(t)
	runCargoChain(t, reg, stockpileReplicas(t, reg, upstream.Options{}, withKeys))
}

func runCargoChain(t *testing.T, reg *registry, in *proxytest.Instance) {
	resolveChain(t, newCargo(t, in), "")
	for name, version := range chainLock {
		if name == "consumer" {
			continue
		}
		if got := held(t, in, name, version, "app", "team", "cargo-store", "internal"); !cmp.Equal(got, []string{"app", "cargo-store"}) {
			t.Errorf("%s %s is held by %v, want app and cargo-store", name, version, got)
		}
	}
	// Every index and download request carried the token (the server
	// requires one), and each .crate came from the upstream once.
	if n := reg.DL.TotalHits(); n != len(chainFiles) {
		t.Errorf("upstream downloads: %d, want %d", n, len(chainFiles))
	}
}

// resolveChain generates a new consumer's Cargo.lock and fetches it with cg,
// and checks both against the chain (1.2.0 is yanked upstream); when says
// in a failure what was different.
func resolveChain(t *testing.T, cg *cargoClient, when string) {
	t.Helper()
	dir := project(t, "consumer", "0.1.0", `long-crate-name = "1"`, `Mixed_Case = "0.1"`)
	cg.must(dir, "generate-lockfile")
	if diff := cmp.Diff(chainLock, locked(t, dir)); diff != "" {
		t.Fatalf("Cargo.lock%s (-want +got); 1.2.0 is yanked upstream:\n%s", when, diff)
	}
	cg.must(dir, "fetch")
	if diff := cmp.Diff(chainFiles, cg.cached()); diff != "" {
		t.Fatalf("downloaded crates%s (-want +got):\n%s", when, diff)
	}
}

func TestCargoPublishedInternalCrateWinsOverTheUpstream(t *testing.T) {
	reg := newRegistry(t, styleCratesIO)
	reg.standard(t) // the upstream has acme-internal 9.9.9
	in := stockpile(t, reg, upstream.Options{}, withKeys)
	cg := newCargo(t, in)

	pub := project(t, "acme-internal", "0.1.0", `a = "0.1"`)
	cg.must(pub, "publish", "--registry", "internal", "--no-verify", "--allow-dirty")

	// The line written for the dependency keeps its registry: a is a
	// crates.io crate, which consumers resolve through their replacement.
	idx := get(t, in.URL+"/acme/cargo/internal/ac/me/acme-internal", "Authorization", in.Token("acme"))
	if idx.Code != 200 || !strings.Contains(idx.Body, `"deps":[{"name":"a","req":"^0.1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":"https://github.com/rust-lang/crates.io-index"}]`) {
		t.Fatalf("published index line: %d %s", idx.Code, idx.Body)
	}

	consumer := project(t, "consumer", "0.1.0", `acme-internal = "*"`)
	cg.must(consumer, "generate-lockfile")
	if diff := cmp.Diff(map[string]string{"consumer": "0.1.0", "acme-internal": "0.1.0", "a": "0.1.0"}, locked(t, consumer)); diff != "" {
		t.Fatalf("Cargo.lock (-want +got); the upstream's 9.9.9 must stay hidden:\n%s", diff)
	}
	cg.must(consumer, "fetch")
	if diff := cmp.Diff([]string{"a-0.1.0.crate", "acme-internal-0.1.0.crate"}, cg.cached()); diff != "" {
		t.Fatalf("downloaded crates (-want +got):\n%s", diff)
	}
	if n := reg.DL.Hits("/crates/acme-internal/9.9.9/download"); n != 0 {
		t.Fatalf("the public acme-internal was downloaded %d times", n)
	}

	// The same version again is refused.
	if out, err := cg.run(pub, "publish", "--registry", "internal", "--no-verify", "--allow-dirty"); err == nil || !strings.Contains(out, "already exists") {
		t.Fatalf("second publish: %v\n%s", err, out)
	}
	// search, owners.
	if out := cg.must(consumer, "search", "--registry", "internal", "acme"); !strings.Contains(out, `acme-internal = "0.1.0"`) || !strings.Contains(out, "Stockpile test crate acme-internal") {
		t.Fatalf("cargo search:\n%s", out)
	}
	// The owner is the principal that published (the server's key AKIDTEST).
	if out := cg.must(consumer, "owner", "--list", "--registry", "internal", "acme-internal"); !strings.Contains(out, "arn:aws:iam::000000000000:user/AKIDTEST") {
		t.Fatalf("cargo owner --list:\n%s", out)
	}
	if out, err := cg.run(consumer, "owner", "--add", "someone", "--registry", "internal", "acme-internal"); err == nil || !strings.Contains(out, "repository's permissions") {
		t.Fatalf("cargo owner --add: %v\n%s", err, out)
	}
}

func TestCargoYankHidesFromNewResolvesOnly(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	in := stockpile(t, reg, upstream.Options{}, withKeys)
	cg := newCargo(t, in)
	for _, v := range []string{"0.1.0", "0.2.0"} {
		cg.must(project(t, "yank-me", v), "publish", "--registry", "internal", "--no-verify", "--allow-dirty")
	}
	old := project(t, "old", "0.1.0", `yank-me = "*"`)
	cg.must(old, "generate-lockfile")
	if got := locked(t, old)["yank-me"]; got != "0.2.0" {
		t.Fatalf("before the yank: locked %s, want 0.2.0", got)
	}

	resolve := func(name string) string {
		t.Helper()
		dir := project(t, name, "0.1.0", `yank-me = "*"`)
		cg.must(dir, "generate-lockfile")
		return locked(t, dir)["yank-me"]
	}
	cg.must(old, "yank", "--registry", "internal", "yank-me@0.2.0")
	if got := resolve("fresh"); got != "0.1.0" {
		t.Fatalf("after the yank: a new resolve locked %s, want 0.1.0", got)
	}
	cg.must(old, "yank", "--undo", "--registry", "internal", "yank-me@0.2.0")
	if got := resolve("again"); got != "0.2.0" {
		t.Fatalf("after unyank: locked %s, want 0.2.0", got)
	}
	cg.must(old, "yank", "--registry", "internal", "yank-me@0.2.0")
	if got := resolve("last"); got != "0.1.0" {
		t.Fatalf("after the second yank: locked %s, want 0.1.0", got)
	}

	// The existing lockfile still works, even for a client that has to
	// download the yanked crate.
	other := newCargo(t, in)
	other.must(old, "fetch")
	if diff := cmp.Diff([]string{"yank-me-0.2.0.crate"}, other.cached()); diff != "" {
		t.Fatalf("fetch with the old lockfile (-want +got):\n%s", diff)
	}
	if got := locked(t, old)["yank-me"]; got != "0.2.0" {
		t.Fatalf("the old lockfile changed to %s", got)
	}
}

func TestCargoFetchesFromStockpileWithTheUpstreamStopped(t *testing.T) {
	reg := newRegistry(t, styleChecksum)
	reg.standard(t)
	in := stockpile(t, reg, upstream.Options{TTL: time.Millisecond, Retries: 1}, withKeys)
	warm := project(t, "consumer", "0.1.0", `long-crate-name = "1"`, `Mixed_Case = "0.1"`)
	cg := newCargo(t, in)
	cg.must(warm, "generate-lockfile")
	cg.must(warm, "fetch")

	reg.Index.Close()
	reg.DL.Close()
	in.Restart()

	resolveChain(t, newCargo(t, in), " with the upstream stopped")
}
